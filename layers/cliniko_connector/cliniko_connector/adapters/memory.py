"""In-memory fakes of every port except `ClinikoApi`, for fast use-case tests.

They keep the adapters' semantics (a contract test runs the same assertions against both): conditional
cursor writes raise `CursorConflict`, leases expire, timestamps are kept at second precision, the rate
budget counts per fixed window, and the publisher batches, fails entries by index and retries like
`EventBridgePublisher`. TTLs are ignored. Every fake the Lambda functions' ports have is thread-safe; the
operator tools' fakes (tail, archive, dead letters) are for one thread.
"""

from __future__ import annotations

import builtins
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from cliniko_connector.adapters.eventbridge import EventBridgePublisher
from cliniko_connector.adapters.rate_windows import TOTAL, WindowedRateBudget, full_counter, window_start
from cliniko_connector.errors import (
    ConfigurationError,
    ConnectionNotFound,
    CursorConflict,
)
from cliniko_connector.models import BusEvent, Connection, RecordState, StreamCursor, StreamKey
from cliniko_connector.ports import (
    BusRule,
    OneTimeSchedule,
    PollJob,
    QueuedMessage,
    ReplayState,
    ScheduleRow,
    StreamStats,
)
from cliniko_connector.timeutil import parse_ts, to_z

if TYPE_CHECKING:
    from cliniko_connector.hookmodels import Hook, HookLogEntry


def _stored_cursor(cursor: StreamCursor, version: int) -> StreamCursor:
    """The cursor as the DynamoDB store would read it back: timestamps in UTC at second precision."""
    return cursor.model_copy(
        update={
            "position": parse_ts(to_z(cursor.position)),
            "origin": parse_ts(to_z(cursor.origin)),
            "last_poll_at": parse_ts(to_z(cursor.last_poll_at)) if cursor.last_poll_at else None,
            "reconcile_from": parse_ts(to_z(cursor.reconcile_from)) if cursor.reconcile_from else None,
            "reconciled_at": parse_ts(to_z(cursor.reconciled_at)) if cursor.reconciled_at else None,
            "sort_not_honoured_at": (
                parse_ts(to_z(cursor.sort_not_honoured_at)) if cursor.sort_not_honoured_at else None
            ),
            "caught_up_at": parse_ts(to_z(cursor.caught_up_at)) if cursor.caught_up_at else None,
            "version": version,
        }
    )


def _lease_free(cursor: StreamCursor, owner: str | None, now: float) -> bool:
    """Whether `owner` may write the cursor: no lease, an expired one, or `owner`'s own."""
    return cursor.lease_owner is None or cursor.lease_owner == owner or (cursor.lease_until or 0.0) < now


class InMemoryStreamStateStore:
    """Fake `ports.StreamStateStore`. `now` is the wall clock used for lease expiry."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.cursors: dict[StreamKey, StreamCursor] = {}
        self.records: dict[StreamKey, dict[str, RecordState]] = {}
        self.events_by_hour: dict[StreamKey, dict[int, int]] = {}

    def get_cursor(self, stream: StreamKey) -> StreamCursor | None:
        with self._lock:
            return self.cursors.get(stream)

    def get_cursors(self, streams: Sequence[StreamKey], *, consistent: bool = True) -> dict[StreamKey, StreamCursor]:
        with self._lock:
            return {s: self.cursors[s] for s in streams if s in self.cursors}

    def put_cursor(
        self,
        stream: StreamKey,
        cursor: StreamCursor,
        *,
        expected_version: int | None,
        owner: str | None = None,
        lease_seconds: int = 0,
    ) -> StreamCursor:
        with self._lock:
            now = self._now()
            stored = self.cursors.get(stream)
            lease = {"lease_owner": owner, "lease_until": now + lease_seconds} if owner and lease_seconds else {}
            new = _stored_cursor(
                cursor.model_copy(update={"lease_owner": None, "lease_until": None, **lease}),
                1 if expected_version is None else expected_version + 1,
            )
            if expected_version is None:
                ok = stored is None
            else:
                ok = (
                    stored is not None
                    and stored.version == expected_version
                    and to_z(stored.position) <= to_z(new.position)
                    and _lease_free(stored, owner, now)
                )
            if not ok:
                raise CursorConflict(
                    f"cursor of stream {stream} was changed by another writer, is leased to another or would "
                    "move backwards"
                )
            self.cursors[stream] = new
            return new

    def leased_by(self, cursor: StreamCursor) -> str | None:
        return cursor.lease_owner if not _lease_free(cursor, None, self._now()) else None

    def get_records(self, stream: StreamKey, ids: Sequence[str]) -> dict[str, RecordState]:
        with self._lock:
            known = self.records.get(stream, {})
            return {record_id: known[record_id] for record_id in ids if record_id in known}

    def put_records(self, stream: StreamKey, states: Sequence[RecordState]) -> None:
        with self._lock:
            known = self.records.setdefault(stream, {})
            for state in states:
                known[state.id] = state

    def list_records(self, stream: StreamKey) -> Iterator[RecordState]:
        with self._lock:
            known = list(self.records.get(stream, {}).values())
        yield from known

    def delete_records(self, stream: StreamKey, ids: Sequence[str]) -> None:
        with self._lock:
            known = self.records.get(stream, {})
            for record_id in ids:
                known.pop(record_id, None)

    def delete_stream(self, stream: StreamKey) -> None:
        with self._lock:
            self.cursors.pop(stream, None)
            self.records.pop(stream, None)
            self.events_by_hour.pop(stream, None)

    def record_events(self, stream: StreamKey, hour: int, count: int) -> None:
        if count <= 0:
            return
        with self._lock:
            hours = self.events_by_hour.setdefault(stream, {})
            hours[hour] = hours.get(hour, 0) + count

    def get_stats(self, stream: StreamKey, since_hour: int) -> StreamStats:
        with self._lock:
            hours = {h: n for h, n in self.events_by_hour.get(stream, {}).items() if h >= since_hour}
            cursor = self.cursors.get(stream)
            return StreamStats(events_by_hour=hours, caught_up_at=cursor.caught_up_at if cursor else None)


class InMemoryConnectionStore:
    """Fake `ports.ConnectionStore`."""

    def __init__(self, connections: Sequence[Connection] = ()) -> None:
        self._lock = threading.Lock()
        self._connections: dict[str, Connection] = {c.id: c for c in connections}

    def get(self, connection_id: str) -> Connection:
        with self._lock:
            try:
                return self._connections[connection_id]
            except KeyError:
                raise ConnectionNotFound(f"no connection {connection_id!r}") from None

    def list(self) -> list[Connection]:
        with self._lock:
            return [self._connections[key] for key in sorted(self._connections)]

    def put(self, connection: Connection) -> None:
        with self._lock:
            self._connections[connection.id] = connection

    def delete(self, connection_id: str) -> None:
        with self._lock:
            self._connections.pop(connection_id, None)


class InMemorySecretStore:
    """Fake `ports.SecretStore`: secrets can be read by name (with prefix) or by the ARN `put` returned."""

    ARN_PREFIX = "arn:aws:secretsmanager:us-east-1:000000000000:secret:"

    def __init__(self, prefix: str = "cliniko-connector/") -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"InMemorySecretStore(prefix={self.prefix!r}, secrets={len(self._values)})"

    def arn(self, name: str) -> str:
        return f"{self.ARN_PREFIX}{self.prefix}{name}-AbCdEf"

    def get(self, secret_id: str) -> str:
        with self._lock:
            value = self._values.get(self._name(secret_id))
        if value is None:
            raise ConfigurationError(f"secret {secret_id!r} does not exist or is scheduled for deletion")
        return value

    def forget(self, secret_id: str) -> None:
        """Nothing is cached here: every `get` reads the value as it is."""

    def put(self, name: str, value: str) -> str:
        with self._lock:
            self._values[self.prefix + name] = value
        return self.arn(name)

    def delete(self, secret_id: str) -> None:
        with self._lock:
            self._values.pop(self._name(secret_id), None)

    def _name(self, secret_id: str) -> str:
        if secret_id.startswith(self.ARN_PREFIX):
            return secret_id.removeprefix(self.ARN_PREFIX).removesuffix("-AbCdEf")
        return secret_id


class InMemoryRateBudget(WindowedRateBudget):
    """Fake `ports.RateBudget`: the same fixed windows, caps, waits and penalties as `DynamoRateBudget`.
    `windows` holds each (key, window start)'s counters, as the DynamoDB window item does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self.windows: dict[tuple[str, int], dict[str, int]] = {}
        self.penalties: dict[str, float] = {}
        self.acquired = 0

    def _try(self, key_id: str, caps: Mapping[str, int], now: float, requests: int = 1) -> float | None:
        start = window_start(now, self._window)
        with self._lock:
            penalty = self.penalties.get(key_id, 0.0)
            if penalty > now:
                return penalty
            counts = self.windows.setdefault((key_id, start), {})
            room = {name: cap - requests + 1 for name, cap in caps.items()}
            if full_counter(counts, room) is not None:
                return float(start + self._window)
            for name in caps:
                counts[name] = counts.get(name, 0) + requests
            self.acquired += requests
            return None

    def _room(self, key_id: str, caps: Mapping[str, int], now: float) -> int:
        with self._lock:
            counts = self.windows.get((key_id, window_start(now, self._window)), {})
            return max(0, min(cap - counts.get(name, 0) for name, cap in caps.items()))

    def penalize(self, key_id: str, until_epoch: float) -> None:
        self._drop_prepaid(key_id)
        with self._lock:
            self.penalties[key_id] = max(until_epoch, self.penalties.get(key_id, 0.0))

    def usage(self, key_id: str, *, purpose: Literal["poll", "action"] = "action") -> tuple[int, int]:
        with self._lock:
            used = self.windows.get((key_id, window_start(self._now(), self._window)), {}).get(TOTAL, 0)
        return used, self.cap(key_id, purpose)


class InMemoryEventBus:
    """A PutEvents endpoint in memory: accepts entries as EventBridge does, or fails them on demand.

    `fail_next(n, code)` makes the next `n` entries sent fail once each with `code`; `fail_permanently(True)`
    fails every entry. Accepted entries become `events` (in acceptance order); `calls` has each call's size.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[BusEvent] = []
        self.calls: list[int] = []
        self._fail_budget = 0
        self._fail_code = "InternalFailure"
        self._permanent = False
        self._permanent_code = "InternalFailure"

    def fail_next(self, n: int, code: str = "InternalFailure") -> None:
        with self._lock:
            self._fail_budget = n
            self._fail_code = code

    def fail_permanently(self, enabled: bool = True, code: str = "InternalFailure") -> None:
        with self._lock:
            self._permanent = enabled
            self._permanent_code = code

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(len(Entries))
            results: list[dict[str, str]] = []
            for entry in Entries:
                code = self._entry_outcome()
                if code is None:
                    self.events.append(_bus_event(entry))
                    results.append({"EventId": uuid.uuid4().hex})
                else:
                    results.append({"ErrorCode": code, "ErrorMessage": "injected"})
            return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    def _entry_outcome(self) -> str | None:
        if self._permanent:
            return self._permanent_code
        if self._fail_budget > 0:
            self._fail_budget -= 1
            return self._fail_code
        return None


def _bus_event(entry: dict[str, Any]) -> BusEvent:
    return BusEvent(
        source=entry["Source"],
        detail_type=entry["DetailType"],
        detail=json.loads(entry["Detail"]),
        resources=tuple(entry.get("Resources", ())),
        time=entry.get("Time"),
    )


class RecordingPublisher(EventBridgePublisher):
    """Fake `ports.EventPublisher`: the real publisher (batching, resends, errors) on an `InMemoryEventBus`,
    without waiting between attempts. `.events`, `.calls`, `fail_next` and `fail_permanently` are the bus's."""

    def __init__(self, max_attempts: int = 5) -> None:
        self.bus = InMemoryEventBus()
        super().__init__("recording", client=self.bus, max_attempts=max_attempts, sleep=lambda _seconds: None)
        self.fail_next = self.bus.fail_next
        self.fail_permanently = self.bus.fail_permanently

    @property
    def events(self) -> list[BusEvent]:
        return self.bus.events

    @property
    def calls(self) -> list[int]:
        return self.bus.calls


# -- operator tools -----------------------------------------------------------------------------------


class InMemoryJobRequeue:
    """Fake `ports.JobRequeue`: the jobs sent again, in order."""

    def __init__(self) -> None:
        self.jobs: list[PollJob] = []

    def requeue(self, job: PollJob) -> None:
        self.jobs.append(job)


class InMemoryTailChannel:
    """Fake `ports.TailChannel`: `deliver` puts a body in every open tail (the rule's pattern is kept, not
    matched); `fail_on` makes `create` raise after creating the queue, as a refused rule target would."""

    def __init__(self) -> None:
        self.patterns: dict[str, dict[str, Any]] = {}
        self.queues: dict[str, list[str]] = {}
        self.fail_on: str | None = None
        self.cannot_remove: set[str] = set()

    def create(self, name: str, pattern: Mapping[str, Any]) -> None:
        self.queues[name] = []
        if self.fail_on == "rule":
            raise ConfigurationError(f"the bus refused the tail's rule {name}")
        self.patterns[name] = dict(pattern)

    def deliver(self, body: str) -> None:
        for name in self.patterns:
            self.queues[name].append(body)

    def receive(self, name: str, wait_seconds: int) -> list[str]:
        bodies, self.queues[name] = self.queues[name], []
        return bodies

    def remove(self, name: str) -> list[str]:
        if name in self.cannot_remove:
            return [f"rule {name} (AccessDenied)"]
        self.patterns.pop(name, None)
        self.queues.pop(name, None)
        return []

    def names(self, prefix: str) -> list[str]:
        return sorted(n for n in self.patterns if n.startswith(prefix))


class InMemoryEventArchive:
    """Fake `ports.EventArchive`: rules given up front; replays are recorded and finish when `finish` says."""

    def __init__(self, rules: Sequence[BusRule] = ()) -> None:
        self.bus_rules = list(rules)
        self.started: list[tuple[str, datetime, datetime, list[str]]] = []
        self.states: dict[str, list[ReplayState]] = {}

    def rules(self) -> list[BusRule]:
        return list(self.bus_rules)

    def rule_arn(self, name: str) -> str:
        for rule in self.bus_rules:
            if rule.name == name:
                return rule.arn
        raise ConfigurationError(f"no rule {name!r} on the bus")

    def start_replay(self, name: str, since: datetime, until: datetime, rule_arns: Sequence[str]) -> ReplayState:
        self.started.append((name, since, until, list(rule_arns)))
        return ReplayState(state="STARTING")

    def finish(self, name: str, *states: ReplayState) -> None:
        """What the next `describe_replay` calls answer, in turn (the last one from then on)."""
        self.states[name] = list(states)

    def describe_replay(self, name: str) -> ReplayState:
        states = self.states.get(name) or [ReplayState(state="RUNNING")]
        return states.pop(0) if len(states) > 1 else states[0]


class InMemoryDeadLetterQueues:
    """Fake `ports.DeadLetterQueues`: messages hidden by `receive` stay hidden until released or deleted
    (hiding never expires by itself here)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: dict[str, list[QueuedMessage]] = {}
        self.hidden: set[str] = set()

    def add(self, queue_url: str, message: QueuedMessage) -> None:
        with self._lock:
            handle = message.receipt_handle or uuid.uuid4().hex
            self.messages.setdefault(queue_url, []).append(message.model_copy(update={"receipt_handle": handle}))

    def receive(self, queue_url: str, max_messages: int, *, hide_seconds: int) -> list[QueuedMessage]:
        with self._lock:
            visible = [m for m in self.messages.get(queue_url, []) if m.receipt_handle not in self.hidden]
            taken = visible[: min(10, max_messages)]
            self.hidden |= {m.receipt_handle for m in taken}
            return [m.model_copy(update={"receive_count": m.receive_count + 1}) for m in taken]

    def release(self, queue_url: str, receipt_handle: str) -> None:
        with self._lock:
            self.hidden.discard(receipt_handle)

    def delete(self, queue_url: str, receipt_handle: str) -> None:
        with self._lock:
            kept = [m for m in self.messages.get(queue_url, []) if m.receipt_handle != receipt_handle]
            self.messages[queue_url] = kept
            self.hidden.discard(receipt_handle)


class InMemoryScheduler:
    """EventBridge Scheduler's one-time schedules of one group. `fire_due(now)` does what Scheduler does when
    their time comes: each due schedule's event, then the schedule deleted (ActionAfterCompletion DELETE)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.schedules: dict[str, OneTimeSchedule] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, name)

    def get(self, name: str) -> OneTimeSchedule | None:
        with self._lock:
            return self.schedules.get(name)

    def put(self, schedule: OneTimeSchedule) -> None:
        with self._lock:
            self.calls.append(("update" if schedule.name in self.schedules else "create", schedule.name))
            self.schedules[schedule.name] = schedule

    def delete(self, name: str) -> None:
        with self._lock:
            if self.schedules.pop(name, None) is not None:
                self.calls.append(("delete", name))

    def list(self, prefix: str = "") -> list[OneTimeSchedule]:
        with self._lock:
            return [s for n, s in sorted(self.schedules.items()) if n.startswith(prefix)]

    def fire_due(self, now: datetime) -> builtins.list[OneTimeSchedule]:
        """The schedules whose time has come, removed as Scheduler removes them once they ran."""
        with self._lock:
            due = [s for s in self.schedules.values() if s.due_at <= now]
            for schedule in due:
                del self.schedules[schedule.name]
            return due


class InMemoryScheduleLedger:
    """The scheduling function's rows, with the DynamoDB adapter's conditional writes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[str, ScheduleRow] = {}

    def get(self, name: str) -> ScheduleRow | None:
        with self._lock:
            return self.rows.get(name)

    def put_if_newer(self, row: ScheduleRow) -> bool:
        with self._lock:
            current = self.rows.get(row.name)
            if current is not None and current.version >= row.version and current.state != "parked":
                return False
            if current is not None and current.version > row.version:
                return False
            self.rows[row.name] = row
            return True

    def clear_announce(self, name: str, version: str) -> None:
        with self._lock:
            current = self.rows.get(name)
            if current is not None and current.version == version:
                self.rows[name] = current.model_copy(update={"announce": None})


# -- inbound hooks ------------------------------------------------------------------------------------


class InMemoryHookStore:
    """Fake `ports.HookStore`."""

    def __init__(self, hooks: Sequence[Hook] = ()) -> None:
        self._lock = threading.Lock()
        self._hooks = {hook.name: hook for hook in hooks}

    def get(self, name: str) -> Hook:
        from cliniko_connector.errors import HookNotFound

        with self._lock:
            hook = self._hooks.get(name)
        if hook is None:
            raise HookNotFound(f"no hook {name!r}")
        return hook

    def list(self) -> list[Hook]:
        with self._lock:
            return sorted(self._hooks.values(), key=lambda h: h.name)

    def put(self, hook: Hook) -> None:
        with self._lock:
            self._hooks[hook.name] = hook

    def delete(self, name: str) -> None:
        with self._lock:
            self._hooks.pop(name, None)


class InMemoryHookLedger:
    """Fake `ports.HookLedger`; replay marks expire by `clock` like the DynamoDB one's condition."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.seen: dict[tuple[str, str], float] = {}
        self.minutes: dict[tuple[str, int], int] = {}
        self.entries: dict[str, list[HookLogEntry]] = {}

    def first_use(self, name: str, token: str, expires_at: float) -> bool:
        with self._lock:
            until = self.seen.get((name, token))
            if until is not None and until >= self._clock():
                return False
            self.seen[(name, token)] = expires_at
            return True

    def forget(self, name: str, token: str) -> None:
        with self._lock:
            self.seen.pop((name, token), None)

    def count_request(self, name: str, minute: int) -> int:
        with self._lock:
            self.minutes[(name, minute)] = self.minutes.get((name, minute), 0) + 1
            return self.minutes[(name, minute)]

    def log(self, name: str, entry: HookLogEntry) -> None:
        with self._lock:
            self.entries.setdefault(name, []).append(entry)

    def recent(self, name: str, limit: int) -> list[HookLogEntry]:
        with self._lock:
            return list(reversed(self.entries.get(name, [])))[:limit]

    def forget_hook(self, name: str) -> None:
        with self._lock:
            self.seen = {k: v for k, v in self.seen.items() if k[0] != name}
            self.minutes = {k: v for k, v in self.minutes.items() if k[0] != name}
            self.entries.pop(name, None)
