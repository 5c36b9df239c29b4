"""The small interfaces the use-cases talk to. Adapters live in `adapters/`; in-memory fakes in `adapters/memory.py`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cliniko_connector.models import BusEvent, Connection, RecordState, StreamCursor, StreamKey

if TYPE_CHECKING:  # only the hook function loads the hook models
    from cliniko_connector.hookmodels import Hook, HookLogEntry

Params = Sequence[tuple[str, str]]


class Page(BaseModel):
    """One page of a Cliniko list: its records, its total and the `links.next` URL when there is one."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    records: list[dict[str, Any]] = Field(default_factory=list)
    total_entries: int | None = None
    next_url: str | None = None


class ClinikoApi(Protocol):
    """Cliniko's REST API for one account. Every call may raise a `ClinikoError` subclass."""

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        json: Mapping[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """Send one request (retrying transient failures until `deadline`, a `time.monotonic()` value);
        return the decoded JSON body, or None for 204."""
        ...

    def list_page(self, path_or_url: str, *, params: Params = (), deadline: float | None = None) -> Page:
        """Fetch one list page; `path_or_url` may be a `links.next` URL (then `params` must be empty)."""
        ...

    def iter_records(
        self, path: str, *, params: Params = (), deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list, following `links.next` to the last page."""
        ...


class EventPublisher(Protocol):
    """Puts events on the bus. Returns only when every event was accepted; raises `PublishError` otherwise."""

    def publish(self, events: Sequence[BusEvent]) -> None: ...


class StreamStats(BaseModel):
    """What `status` shows beyond the cursor: events published per hour, and when the stream last caught up."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    events_by_hour: dict[int, int] = Field(default_factory=dict, description="Hour start (epoch) → events.")
    caught_up_at: datetime | None = None


class StreamStateStore(Protocol):
    """Per-stream cursor (with the poller's lease folded in), record snapshots and operator statistics."""

    def get_cursor(self, stream: StreamKey) -> StreamCursor | None: ...

    def get_cursors(self, streams: Sequence[StreamKey], *, consistent: bool = True) -> dict[StreamKey, StreamCursor]:
        """The cursors of these streams in one read (absent: the stream has none yet). `consistent=False` may
        return a cursor a little older than the last write (at half the read cost on DynamoDB): only for a
        caller whose every write is conditional on the version it read, so a stale one only makes it busy."""
        ...

    def put_cursor(
        self,
        stream: StreamKey,
        cursor: StreamCursor,
        *,
        expected_version: int | None,
        owner: str | None = None,
        lease_seconds: int = 0,
    ) -> StreamCursor:
        """Write `cursor` with version `expected_version + 1` (or 1 when creating, `expected_version=None`).
        Raises `CursorConflict` if the stored version differs, the position would move backwards, or another
        owner than `owner` holds an unexpired lease. The written cursor is leased to `owner` for
        `lease_seconds` from now (the store's clock), or not leased at all when `lease_seconds` is 0: the
        lease is taken, renewed and released by the cursor's own conditional write."""
        ...

    def leased_by(self, cursor: StreamCursor) -> str | None:
        """The owner of the cursor's lease if it has not expired (by the store's clock), else None."""
        ...

    def get_records(self, stream: StreamKey, ids: Sequence[str]) -> dict[str, RecordState]:
        """What the stream keeps of these records (absent ids: never seen, or expired)."""
        ...

    def put_records(self, stream: StreamKey, states: Sequence[RecordState]) -> None:
        """Replace what the stream keeps of these records; the last state of an id wins."""
        ...

    def list_records(self, stream: StreamKey) -> Iterator[RecordState]:
        """Every record the stream keeps (any order), page by page."""
        ...

    def delete_records(self, stream: StreamKey, ids: Sequence[str]) -> None:
        """Forget these records (unknown ids are ignored)."""
        ...

    def delete_stream(self, stream: StreamKey) -> None:
        """Forget everything about a stream (cursor and its lease, snapshots, statistics)."""
        ...

    def record_events(self, stream: StreamKey, hour: int, count: int) -> None:
        """Add `count` to the events published in the hour starting at epoch `hour` (kept a few days)."""
        ...

    def get_stats(self, stream: StreamKey, since_hour: int) -> StreamStats:
        """Hourly event counters from the hour `since_hour` on, and when the stream last caught up (the
        cursor's `caught_up_at`)."""
        ...


class ConnectionStore(Protocol):
    """Connection metadata (never the API key)."""

    def get(self, connection_id: str) -> Connection:
        """Raises `ConnectionNotFound`."""
        ...

    def list(self) -> list[Connection]: ...

    def put(self, connection: Connection) -> None: ...

    def delete(self, connection_id: str) -> None: ...


class SecretStore(Protocol):
    """Where API keys live."""

    def get(self, secret_id: str) -> str: ...

    def put(self, name: str, value: str) -> str:
        """Create or overwrite the secret `name`; return its id (ARN)."""
        ...

    def delete(self, secret_id: str) -> None: ...

    def forget(self, secret_id: str) -> None:
        """Drop what is cached of the secret (Cliniko refused its key): the next `get` reads it again."""
        ...


class HookStore(Protocol):
    """Inbound hooks' definitions (never their secrets)."""

    def get(self, name: str) -> Hook:
        """Raises `HookNotFound`."""
        ...

    def list(self) -> list[Hook]: ...

    def put(self, hook: Hook) -> None: ...

    def delete(self, name: str) -> None: ...


class HookLedger(Protocol):
    """What a hook remembers of its requests: signatures seen, requests per minute, and their outcomes."""

    def first_use(self, name: str, token: str, expires_at: float) -> bool:
        """Remember `token` (a signature's or request id's hash) until `expires_at`; False if it is remembered
        already (a replay)."""
        ...

    def forget(self, name: str, token: str) -> None:
        """Drop `token` again (the request it came with was not accepted, so its sender may retry it)."""
        ...

    def count_request(self, name: str, minute: int) -> int:
        """Count one request in the minute starting at epoch `minute`; the minute's count so far, this one in."""
        ...

    def log(self, name: str, entry: HookLogEntry) -> None: ...

    def recent(self, name: str, limit: int) -> list[HookLogEntry]:
        """The newest outcomes first."""
        ...

    def forget_hook(self, name: str) -> None:
        """Drop everything remembered of the hook (`hooks remove`)."""
        ...


class RateBudget(Protocol):
    """A request budget per Cliniko API key, shared by every poller and action of that key."""

    def acquire(
        self, key_id: str, *, purpose: Literal["poll", "action"], deadline: float, connection_id: str | None = None
    ) -> None:
        """Block until one request may be sent; raise `RateBudgetExhausted` if not before `deadline`.
        Polls keep a reserved share of every window that actions cannot take, and the reverse; an action's
        `connection_id` also counts it against that connection's own cap."""
        ...

    def penalize(self, key_id: str, until_epoch: float) -> None:
        """Cliniko answered 429: no request for this key before `until_epoch`."""
        ...

    def prepay(self, key_id: str, requests: int) -> int:
        """Count up to `requests` poll requests of the current window in one go (all or none; never waits)
        and return how many were counted: the next `acquire`s of polls of this key in this process use them
        up while the window lasts, and those left when it ends are dropped (counted but never sent, so the
        shared budget errs on the safe side)."""
        ...


class PollJob(BaseModel):
    """One unit of polling work: the streams of one connection due in one schedule tick, polled in turn by
    one worker (the FIFO message group is the connection). `reconcile` names the streams whose daily walk
    falls in this tick. `part` numbers the jobs that carry on what a job left when its time ran out.

    The single-stream form (`resource=`, `reconcile=True`) is accepted too: the CLI and older messages."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    connection_id: str
    resources: tuple[str, ...]
    reconcile: tuple[str, ...] = ()
    tick: int = 0
    part: int = 0

    @model_validator(mode="before")
    @classmethod
    def _one_stream(cls, data: Any) -> Any:
        if isinstance(data, dict) and "resource" in data:
            data = {k: v for k, v in data.items() if k != "resource"} | {"resources": (data["resource"],)}
        if isinstance(data, dict) and isinstance(data.get("reconcile"), bool):
            data = data | {"reconcile": tuple(data["resources"]) if data["reconcile"] else ()}
        return data

    @property
    def group(self) -> str:
        return self.connection_id

    @property
    def dedupe_id(self) -> str:
        digest = hashlib.sha256(f"{','.join(self.resources)}/{','.join(self.reconcile)}".encode()).hexdigest()
        return f"{self.connection_id}/{self.tick}/{self.part}/{digest[:16]}"


class JobQueue(Protocol):
    """Queue of poll jobs; one consumer per connection at a time (SQS FIFO message group)."""

    def enqueue(self, jobs: Sequence[PollJob]) -> None: ...


class JobRetry(Protocol):
    """The queue a delivered poll job came from, as its consumer sees it."""

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        """Make the delivered job visible again in `seconds` (it stays on the queue)."""
        ...


class JobRequeue(Protocol):
    """Sending a poll job again on purpose (a dead letter redriven)."""

    def requeue(self, job: PollJob) -> None:
        """Queue `job` as a new message: a fresh deduplication id, so the queue never takes it for the one
        it repeats."""
        ...


# -- operator tools: the bus, its archive and the dead-letter queues --------------------------------------


class TailChannel(Protocol):
    """Temporary copies of the bus's events for `events tail`: a rule matching a pattern, delivering into a
    queue that accepts messages from that rule only, both named after the tail."""

    def create(self, name: str, pattern: Mapping[str, Any]) -> None:
        """Create the queue, then the rule delivering into it. After a failure `remove(name)` still removes
        whatever was created."""
        ...

    def receive(self, name: str, wait_seconds: int) -> list[str]:
        """The bodies of the messages that arrived (waiting up to `wait_seconds` for the first), each deleted
        as it is read, so each is received once."""
        ...

    def remove(self, name: str) -> list[str]:
        """Remove the rule and the queue, each even if the other fails; what could not be removed, in words."""
        ...

    def names(self, prefix: str) -> list[str]:
        """Rules on the bus whose name starts with `prefix` (tails whose process was killed leave theirs)."""
        ...


class BusRule(BaseModel):
    """A rule of the bus, as a replay chooses its destinations."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    name: str
    arn: str
    event_pattern: str | None = None
    managed: bool = Field(default=False, description="Created by a service (the archive's own rule).")


class ReplayState(BaseModel):
    """Where an archive replay stands."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    state: str = Field(description="STARTING, RUNNING, CANCELLING, COMPLETED, CANCELLED or FAILED.")
    last_replayed: datetime | None = None
    reason: str | None = None


class EventArchive(Protocol):
    """The bus's event archive and its rules: replays of a time window back onto the bus."""

    def rules(self) -> list[BusRule]:
        """Every rule of the bus."""
        ...

    def rule_arn(self, name: str) -> str:
        """The ARN of the bus's rule `name`; raises `ConfigurationError` if the bus has none of that name."""
        ...

    def start_replay(self, name: str, since: datetime, until: datetime, rule_arns: Sequence[str]) -> ReplayState:
        """Replay the archived events of `since`..`until` to the bus's rules `rule_arns` (empty: every rule)."""
        ...

    def describe_replay(self, name: str) -> ReplayState: ...


class QueuedMessage(BaseModel):
    """A message read from a queue, with what the queue says about it."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    message_id: str
    receipt_handle: str = ""
    body: str = ""
    sent_at: datetime | None = None
    receive_count: int = 0
    attributes: dict[str, str] = Field(default_factory=dict, description="Message attributes, as strings.")


class DeadLetterQueues(Protocol):
    """Queues of messages that failed for good, by URL: read without consuming, then released or deleted."""

    def receive(self, queue_url: str, max_messages: int, *, hide_seconds: int) -> list[QueuedMessage]:
        """Up to `max_messages` (at most 10) visible messages, without waiting; each is hidden from other
        readers for `hide_seconds` unless released or deleted first."""
        ...

    def release(self, queue_url: str, receipt_handle: str) -> None:
        """Make a received message visible again now."""
        ...

    def delete(self, queue_url: str, receipt_handle: str) -> None: ...


class FunctionInvoker(Protocol):
    """Runs a function again with a payload, asynchronously (its retries and failure destination apply)."""

    def __call__(self, function_arn: str, payload: Any) -> None: ...


class OneTimeSchedule(BaseModel):
    """One EventBridge Scheduler schedule of the stack's group: at `due_at` it puts `Scheduled Action Due` with
    `detail` on the bus, then deletes itself. `description` says what it is for (no patient data)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    name: str
    due_at: datetime
    detail: str = Field(description="The due event's `detail`, as JSON text.")
    description: str = ""


class Scheduler(Protocol):
    """One-time schedules in the stack's schedule group (EventBridge Scheduler; the local stack fires them)."""

    def get(self, name: str) -> OneTimeSchedule | None: ...

    def put(self, schedule: OneTimeSchedule) -> None:
        """Create the schedule, or change it to this one when it exists."""
        ...

    def delete(self, name: str) -> None:
        """Delete it; one that is already gone is fine."""
        ...

    def list(self, prefix: str = "") -> list[OneTimeSchedule]:
        """The pending schedules whose names start with `prefix`."""
        ...


class ScheduleRow(BaseModel):
    """What the scheduling function decided for one (automation, target, record): the schedule it wants
    (`pending`), or that there is none (`dropped`, or `parked`: a later change seen before the trigger itself),
    decided from the record as of `version` (its `updated_at`). `announce` is a Moved/Dropped event not yet
    published (`[detail_type, detail]`)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    name: str
    state: Literal["pending", "dropped", "parked"]
    version: str = Field(description="The record's `updated_at`, normalised so that text order is time order.")
    due_at: datetime | None = None
    detail: str | None = Field(default=None, description="The due event's detail (pending and parked rows).")
    announce: list[Any] | None = None
    expires_at: int = Field(description="Epoch seconds after which the row may go (DynamoDB TTL).")


class ScheduleLedger(Protocol):
    """The rows above, one per schedule name; writes are conditional on the record's version."""

    def get(self, name: str) -> ScheduleRow | None: ...

    def put_if_newer(self, row: ScheduleRow) -> bool:
        """Write `row` unless a row of the same or a newer version is there; False when one is."""
        ...

    def clear_announce(self, name: str, version: str) -> None:
        """The row's event was published: forget it (only while the row is still at `version`)."""
        ...
