"""EventBridge PutEvents publisher: size-aware batching, retry of failed entries by index, no silent drops.

Only counts and error codes are logged; event contents (patient data) never are.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.errors import PublishError
from cliniko_connector.models import BusEvent
from cliniko_connector.observability import logger

MAX_ENTRIES_PER_CALL = 10
MAX_REQUEST_BYTES = 256 * 1024
# The documented size counts a present Time as 14 bytes, whatever its wire form.
TIME_ENTRY_BYTES = 14

RETRYABLE_ENTRY_CODES = frozenset({"ThrottlingException", "InternalFailure", "InternalException"})
RETRYABLE_CALL_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalFailure",
        "InternalException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
_TRANSPORT_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


def encode_detail(detail: dict[str, Any]) -> str:
    """The `Detail` string exactly as sent: compact JSON, UTF-8 left unescaped (it is what AWS counts)."""
    return json.dumps(detail, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_size(event: BusEvent, detail: str | None = None) -> int:
    """PutEvents entry size as AWS computes it ("Calculating PutEvents event entry size"): UTF-8 bytes of
    Source, DetailType, Detail and every Resources entry, plus 14 when Time is set. `detail`: the event's
    `encode_detail`, when the caller has it already."""
    if detail is None:
        detail = encode_detail(event.detail)
    size = len(event.source.encode()) + len(event.detail_type.encode()) + len(detail.encode())
    size += sum(len(resource.encode()) for resource in event.resources)
    if event.time is not None:
        size += TIME_ENTRY_BYTES
    return size


def split_batches(events: Sequence[BusEvent], details: Sequence[str] | None = None) -> list[list[BusEvent]]:
    """Consecutive batches of at most 10 entries and 256 KB each, in order (`details`: the events'
    `encode_detail`, when the caller has them already).
    Raises `PublishError` (naming detail-types, never contents) if any single entry is over the limit."""
    if details is None:
        details = [encode_detail(event.detail) for event in events]
    sizes = [entry_size(event, detail) for event, detail in zip(events, details, strict=True)]
    oversize = sorted({e.detail_type for e, s in zip(events, sizes, strict=True) if s > MAX_REQUEST_BYTES})
    if oversize:
        count = sum(1 for s in sizes if s > MAX_REQUEST_BYTES)
        raise PublishError(
            f"{count} event(s) over the {MAX_REQUEST_BYTES}-byte PutEvents entry limit "
            f"(detail-type: {', '.join(oversize)}); nothing was published",
            failed=len(events),
            error_codes=["EntryTooLarge"],
            failed_indexes=range(len(events)),
        )
    batches: list[list[BusEvent]] = []
    current: list[BusEvent] = []
    current_bytes = 0
    for event, size in zip(events, sizes, strict=True):
        if current and (len(current) >= MAX_ENTRIES_PER_CALL or current_bytes + size > MAX_REQUEST_BYTES):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(event)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


class EventBridgePublisher:
    """Implements `ports.EventPublisher` on one event bus.

    Each batch is sent until every entry is accepted: after a partial failure only the failed entries (by
    their index in the response) are sent again, with exponential backoff and jitter. Throttling and
    internal failures are retried up to `max_attempts` calls per batch; any other entry error, or entries
    still failing after the last attempt, raise `PublishError` so the caller keeps its cursor.
    Batches sent before the failure stay published: the bus is at-least-once, consumers dedupe by id.
    """

    def __init__(
        self,
        bus_name: str,
        client: Any = None,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        *,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.bus_name = bus_name
        self._client = client if client is not None else boto3_client("events")
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._jitter = jitter

    def __repr__(self) -> str:
        return f"EventBridgePublisher(bus_name={self.bus_name!r})"

    def publish(self, events: Sequence[BusEvent]) -> None:
        if not events:
            return
        details = [encode_detail(event.detail) for event in events]  # once per event: sizes and entries
        batches = split_batches(events, details)
        sent = 0
        calls = 0
        for batch in batches:
            try:
                calls += self._send_batch([self._to_entry(event, details[sent + i]) for i, event in enumerate(batch)])
            except PublishError as exc:
                # Later batches were never sent: they count as not accepted too.
                exc.shifted(sent, len(events), len(batch))
                logger.warning(
                    "PutEvents gave up",
                    extra={"accepted": len(events) - exc.failed, "failed": exc.failed, "error_codes": exc.error_codes},
                )
                raise
            sent += len(batch)
        logger.debug("PutEvents done", extra={"events": sent, "calls": calls})

    # -- internals --------------------------------------------------------------------------------

    def _to_entry(self, event: BusEvent, detail: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "EventBusName": self.bus_name,
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": detail,
        }
        if event.time is not None:
            entry["Time"] = event.time
        if event.resources:
            entry["Resources"] = list(event.resources)
        return entry

    def _send_batch(self, batch: list[dict[str, Any]]) -> int:
        """Send until all accepted; return the number of calls made. Raises `PublishError` naming the
        batch positions not accepted."""
        pending = list(range(len(batch)))
        codes: list[str] = []
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff(attempt - 1))
            try:
                response = self._client.put_events(Entries=[batch[i] for i in pending])
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
                if code not in RETRYABLE_CALL_CODES:
                    raise PublishError(
                        f"PutEvents refused the request ({code})",
                        failed=len(pending),
                        error_codes=[code],
                        failed_indexes=pending,
                    ) from None
                codes = [code] * len(pending)
                logger.info("PutEvents throttled; retrying", extra={"entries": len(pending), "attempt": attempt})
                continue
            except _TRANSPORT_ERRORS as exc:
                # Maybe accepted, maybe not: sent again, and taken as not accepted if it never is.
                codes = [type(exc).__name__] * len(pending)
                logger.info("PutEvents did not answer; retrying", extra={"entries": len(pending), "attempt": attempt})
                continue
            pending, codes = self._failed_entries(pending, response)
            if not pending:
                return attempt
            permanent = sorted(set(codes) - RETRYABLE_ENTRY_CODES)
            if permanent:
                raise PublishError(
                    f"PutEvents rejected {len(pending)} entr{'y' if len(pending) == 1 else 'ies'}",
                    failed=len(pending),
                    error_codes=sorted(set(codes)),
                    failed_indexes=pending,
                )
            logger.info("PutEvents partial failure; retrying", extra={"failed": len(pending), "attempt": attempt})
        raise PublishError(
            f"{len(pending)} event(s) not accepted after {self._max_attempts} PutEvents attempts",
            failed=len(pending),
            error_codes=sorted(set(codes)),
            failed_indexes=pending,
        )

    @staticmethod
    def _failed_entries(sent: list[int], response: dict[str, Any]) -> tuple[list[int], list[str]]:
        """Which of the `sent` positions the response says failed, with their codes."""
        results = response.get("Entries") or []
        if len(results) != len(sent):
            # Cannot tell which entries made it: resend all of them rather than risk dropping one.
            if not response.get("FailedEntryCount"):
                return [], []
            return list(sent), ["InternalFailure"] * len(sent)
        failed: list[int] = []
        codes: list[str] = []
        for position, result in zip(sent, results, strict=True):
            if result.get("ErrorCode") or not result.get("EventId"):
                failed.append(position)
                codes.append(str(result.get("ErrorCode") or "InternalFailure"))
        return failed, codes

    def _backoff(self, retry: int) -> float:
        ceiling = min(self._max_delay, self._base_delay * 2 ** (retry - 1))
        return float(ceiling * (0.5 + 0.5 * self._jitter()))
