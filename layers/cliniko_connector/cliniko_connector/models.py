"""Domain models shared by the use-cases, the adapters and the handlers."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A connection id: what the connections table, metric dimensions and log lines carry.
CONNECTION_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class PayloadMode(StrEnum):
    FULL = "full"
    MINIMAL = "minimal"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class StartPoint(BaseModel):
    """Where a newly enabled trigger starts: now, a timestamp, or the beginning (backfill)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    kind: Literal["now", "timestamp", "beginning"] = "now"
    timestamp: datetime | None = None


class Connection(BaseModel):
    """A Cliniko account the connector polls and acts on. The API key itself lives in Secrets Manager."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str = Field(pattern=CONNECTION_ID_PATTERN)
    name: str
    secret_id: str
    shard: str
    base_url: str | None = None
    status: ConnectionStatus = ConnectionStatus.ACTIVE
    triggers: tuple[str, ...] = ()
    # Catalog actions requests may run on this connection (`connections allow`); none until told.
    allowed_actions: tuple[str, ...] = ()
    # Under 60: fast mode, polled every N seconds inside each one-minute scheduled job.
    poll_interval_seconds: int = Field(default=60, ge=5, le=86400)
    # None: the stack's DefaultPayloadMode.
    payload_mode: PayloadMode | None = None
    rate_limit_per_minute: int = Field(default=200, ge=1, le=10_000)
    created_at: datetime | None = None
    account_user: str | None = None
    # Keys the field hashes a stream keeps, so stored hashes can't be reversed by guessing common values.
    hash_salt: str = Field(default_factory=lambda: secrets.token_hex(16))

    @property
    def enabled(self) -> bool:
        return self.status is ConnectionStatus.ACTIVE


class StreamKey(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    connection_id: str
    resource: str

    def __str__(self) -> str:
        return f"{self.connection_id}/{self.resource}"


class StreamCursor(BaseModel):
    """A stream's checkpoint. `position` only ever moves forward; `version` guards the conditional write."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    position: datetime
    origin: datetime
    version: int = 0
    last_poll_at: datetime | None = None
    last_error: str | None = None
    events_published: int = 0
    backfill_total: int | None = None
    backfill_done: int = 0
    # A reconciliation walk in progress resumes here (inside a crowded second: after this id); None when none is.
    reconcile_from: datetime | None = None
    reconcile_after_id: str | None = None
    reconciled_at: datetime | None = None
    # When a page last came back out of the order asked for (`ClinikoSortNotHonoured`); kept for `status`.
    sort_not_honoured_at: datetime | None = None
    # When a poll last reached the end of the list (every change up to then published); for `status`.
    caught_up_at: datetime | None = None
    # A digest of the (id, `updated_at`) pairs of the last page a poll caught up on, every one of them settled
    # (published and kept) by then: the next poll that reads the very same page again (the overlap's re-read of
    # an idle stream) knows it holds nothing new without reading the records' snapshots.
    seen_tail: str | None = None
    # The poller working on the stream (publishing, writing snapshots) and until when (epoch seconds on the
    # state store's clock): folded into the cursor so taking and releasing it are the cursor's own writes.
    lease_owner: str | None = None
    lease_until: float | None = None


class RecordSnapshot(BaseModel):
    """The minimum kept per record to classify its next change: hashes, never whole records."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    id: str
    updated_at: str
    fingerprint: str
    field_hashes: dict[str, str] = Field(default_factory=dict)
    watched: dict[str, Any] = Field(default_factory=dict)


class RecordState(BaseModel):
    """What a stream keeps of one record: the last version whose events are known to be published
    (`settled`; None until there is one) and newer versions whose events may be (`pending`): a poll
    published them, or was about to, and stopped before its checkpoint. `sent` holds the keys of pending
    events the bus is known to have accepted (a publish that failed in part): they are not sent again."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    id: str
    settled: RecordSnapshot | None = None
    pending: tuple[RecordSnapshot, ...] = ()
    sent: tuple[str, ...] = ()
    # The reconciliation walk that last saw the record (streams that report removals only): a record a
    # finished walk did not see is a candidate for removal.
    walked: str | None = None


class BusEvent(BaseModel):
    """One PutEvents entry."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    source: str
    detail_type: str
    detail: dict[str, Any]
    resources: tuple[str, ...] = ()
    time: datetime | None = None
