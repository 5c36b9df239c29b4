"""Typed errors. Messages never carry API keys or record contents, only ids, statuses and field names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean `patient.created`?` when `name` looks like a typo of a known one, else ``."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


class ConnectorError(Exception):
    """Base of every error this project raises on purpose."""

    error_type = "ConnectorError"
    retryable = False

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.error_type, "message": str(self)}


class ConfigurationError(ConnectorError):
    error_type = "ConfigurationError"


class UntrustedBaseUrl(ConfigurationError):
    """A connection's Cliniko URL is not one this stack sends keys to: the key was not sent."""

    error_type = "UntrustedBaseUrl"


class InputValidationError(ConnectorError):
    """An action's input did not match its model; Cliniko was not called."""

    error_type = "InputValidationError"

    def __init__(self, message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field_errors = field_errors or {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "field_errors": self.field_errors}


class UntrustedSource(InputValidationError):
    """A whole EventBridge event from a source the stack doesn't declare for action requests: not run."""

    error_type = "UntrustedSource"


class ConnectionNotFound(ConnectorError):
    error_type = "ConnectionNotFound"


class HookNotFound(ConnectorError):
    error_type = "HookNotFound"


class ConnectionDisabled(ConnectorError):
    error_type = "ConnectionDisabled"


class ActionNotAllowed(ConnectorError):
    """The connection does not allow this action (`connections allow`); Cliniko was not called."""

    error_type = "ActionNotAllowed"


class IdempotencyConflict(ConnectorError):
    """An idempotency key already used by this connection and action with a different input: neither run
    nor answered with the stored result (which belongs to the other input)."""

    error_type = "IdempotencyConflict"


class SecretOwnedElsewhere(ConnectorError):
    """A secret of that name exists and is not tagged as this stack's: it is neither overwritten nor deleted."""

    error_type = "SecretOwnedElsewhere"


class PublishError(ConnectorError):
    """Some events were not accepted by the bus after retries; the cursor must not move.

    `failed_indexes`: positions (in the list given to `publish`) of the events not accepted, when the
    publisher can tell; None when it can't, and every event must be taken as not accepted."""

    error_type = "PublishError"
    retryable = True

    def __init__(
        self,
        message: str,
        failed: int,
        error_codes: list[str] | None = None,
        failed_indexes: Sequence[int] | None = None,
    ) -> None:
        super().__init__(message)
        self.failed = failed
        self.error_codes = error_codes or []
        self.failed_indexes = tuple(failed_indexes) if failed_indexes is not None else None

    def shifted(self, offset: int, total: int, batch_size: int) -> PublishError:
        """This batch's failure as one of the whole `publish` call: positions moved by the batch's `offset`,
        and every event after the batch (never sent) failed too."""
        later = range(offset + batch_size, total)
        self.failed += len(later)
        if self.failed_indexes is not None:
            self.failed_indexes = (*(offset + i for i in self.failed_indexes), *later)
        return self


class StreamBusy(ConnectorError):
    """Another worker holds this stream's lease."""

    error_type = "StreamBusy"


class CursorConflict(ConnectorError):
    """The checkpoint lost a conditional write: someone else moved the cursor or the lease expired."""

    error_type = "CursorConflict"
    retryable = True


class ClinikoError(ConnectorError):
    """An error answer (or no answer) from Cliniko."""

    error_type = "ClinikoError"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        field_errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path
        self.field_errors = field_errors or {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**super().to_dict(), "status": self.status}
        if self.field_errors:
            out["field_errors"] = self.field_errors
        return out


class ClinikoUnauthorized(ClinikoError):
    error_type = "ClinikoUnauthorized"


class ClinikoForbidden(ClinikoError):
    error_type = "ClinikoForbidden"


class ClinikoNotFound(ClinikoError):
    error_type = "ClinikoNotFound"


class ClinikoValidationError(ClinikoError):
    error_type = "ClinikoValidationError"


class ClinikoClientError(ClinikoError):
    """Any other 4xx."""

    error_type = "ClinikoClientError"


class ClinikoTransientError(ClinikoError):
    """Worth retrying: the same request may succeed later."""

    error_type = "ClinikoTransientError"
    retryable = True


class ClinikoRateLimited(ClinikoTransientError):
    error_type = "ClinikoRateLimited"

    def __init__(self, message: str, *, reset_at: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reset_at = reset_at


class ClinikoServerError(ClinikoTransientError):
    error_type = "ClinikoServerError"


class ClinikoTimeout(ClinikoTransientError):
    error_type = "ClinikoTimeout"


class ClinikoConnectionError(ClinikoTransientError):
    error_type = "ClinikoConnectionError"


class ClinikoBadResponse(ClinikoTransientError):
    """A 2xx whose body was not the JSON the API documents."""

    error_type = "ClinikoBadResponse"


class ClinikoSortNotHonoured(ClinikoError):
    """A list page came back out of the order the poll asked for (`sort=updated_at,id`, or `sort=id`). The spec
    documents `sort` but not which columns each endpoint sorts by: the stream does not advance on such a
    page, and reads that window without relying on order instead."""

    error_type = "ClinikoSortNotHonoured"


class RateBudgetExhausted(ConnectorError):
    """The shared per-key request budget has no room before the caller's deadline."""

    error_type = "RateBudgetExhausted"
    retryable = True


class StateStoreError(ConnectorError):
    """DynamoDB still returned unprocessed keys or items after bounded retries; nothing was dropped."""

    error_type = "StateStoreError"
    retryable = True


class UnexpectedError(ConnectorError):
    """Stands in for an exception this project did not raise on purpose when it leaves a handler: its text could
    hold anything, and X-Ray and the failure destination (a DLQ) keep an escaping exception's message."""

    error_type = "UnexpectedError"
    retryable = True
