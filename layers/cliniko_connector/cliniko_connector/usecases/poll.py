"""Poll one resource stream of one connection and publish what changed, losing nothing.

Paging is keyset over (`updated_at`, `id`) rather than Cliniko's page numbers: a page number over a list
that changes while it is walked skips the record that slides across a page boundary. Each page is
published in full before its checkpoint, and the checkpoint is a conditional write that never moves back.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cliniko_connector.adapters.eventbridge import MAX_REQUEST_BYTES, entry_size
from cliniko_connector.catalog.triggers import ResourceStream
from cliniko_connector.cliniko_query import q, sort
from cliniko_connector.errors import (
    ClinikoBadResponse,
    ClinikoNotFound,
    ClinikoSortNotHonoured,
    ClinikoTransientError,
    ConnectorError,
    CursorConflict,
    PublishError,
    RateBudgetExhausted,
    StreamBusy,
)
from cliniko_connector.eventmodels import TriggerEventDetail
from cliniko_connector.models import (
    BusEvent,
    Connection,
    PayloadMode,
    RecordState,
    StartPoint,
    StreamCursor,
    StreamKey,
)
from cliniko_connector.observability import count, logger
from cliniko_connector.ports import ClinikoApi, EventPublisher, StreamStateStore
from cliniko_connector.timeutil import ONE_SECOND, parse_ts, to_z, utc_now
from cliniko_connector.usecases.classify import ClassifiedRecord, Transition, classify_versions, removal

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ERROR_CHARS = 300


def describe_error(exc: BaseException) -> str:
    """`Type: message` for a cursor's `last_error`. This project's errors never carry record data, so their
    message is kept; an AWS error keeps its operation and code; anything else only its type (a KeyError's
    message could be a patient's field value)."""
    if isinstance(exc, ConnectorError):
        text = f"{exc.error_type}: {exc}"
    else:
        response = getattr(exc, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        operation = getattr(exc, "operation_name", None)
        text = " ".join(filter(None, [f"{type(exc).__name__}:" if operation else type(exc).__name__, operation, code]))
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@dataclass
class PollResult:
    stream: str
    pages: int = 0
    records: int = 0
    duplicates: int = 0
    events: int = 0
    caught_up: bool = False
    cursor: str | None = None
    initialised: bool = False
    # A reconciliation walk is under way (unfinished when this poll ended).
    reconciling: bool = False
    event_counts: dict[str, int] = field(default_factory=dict)
    # A job of several streams: each stream's own result (this one adds them up).
    by_stream: dict[str, PollResult] = field(default_factory=dict)

    def followed_by(self, later: PollResult, *, caught_up: bool | None = None) -> PollResult:
        """Two polls of the stream in one job, as one result: the counts add up, the state is the later's."""
        counts = dict(self.event_counts)
        for name, n in later.event_counts.items():
            counts[name] = counts.get(name, 0) + n
        return PollResult(
            stream=self.stream,
            pages=self.pages + later.pages,
            records=self.records + later.records,
            duplicates=self.duplicates + later.duplicates,
            events=self.events + later.events,
            caught_up=later.caught_up if caught_up is None else caught_up,
            cursor=later.cursor,
            initialised=self.initialised,
            reconciling=later.reconciling,
            event_counts=counts,
        )


def initial_cursor(start: StartPoint, now: datetime) -> StreamCursor:
    origin = {"now": now, "beginning": BEGINNING}.get(start.kind) or start.timestamp or now
    return StreamCursor(position=origin, origin=origin)


# A window read without relying on order is narrowed in time until it fits in this many pages.
WINDOW_PAGES = 20
# Time allowed, past a poll's deadline, for the one request that confirms its last page (`_confirm`).
CONFIRM_SECONDS = 10.0
# A backfill whose pages end inside a crowded second (a bulk import) re-reads that second's records on the
# next page. Only when a page leaves at least this share of itself to re-read, with this many pages to go,
# does the poll switch to bounded pages that skip the page's last second and let totals prove it was whole.
CROWDED_SHARE = 10
CROWDED_PAGES_AHEAD = 10


def _id_order(record_id: str) -> tuple[int, str]:
    return (int(record_id), "") if record_id.isdigit() else (0, record_id)


def record_key(stream: ResourceStream, record: dict[str, Any]) -> tuple[str, datetime]:
    """A listed record's id and `updated_at`, or `ClinikoBadResponse`."""
    rid, at = record.get("id"), record.get("updated_at")
    if not isinstance(rid, str | int) or not isinstance(at, str):
        raise ClinikoBadResponse(f"a {stream.resource} record without id or updated_at")
    try:
        return str(rid), parse_ts(at)
    except ValueError:
        raise ClinikoBadResponse(f"a {stream.resource} record with an unreadable updated_at") from None


def tail_digest(stream: ResourceStream, records: list[dict[str, Any]]) -> str:
    """What identifies a page's record versions, whatever their order: each record as Cliniko sent it, hashed
    (its content, not only its id and `updated_at`: two edits in one second are two versions)."""
    for record in records:
        record_key(stream, record)  # a record without id or updated_at is refused here as on any page
    texts = sorted(json.dumps(r, sort_keys=True, separators=(",", ":"), default=str) for r in records)
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:32]


def latest(records: list[dict[str, Any]]) -> datetime:
    return max(parse_ts(str(r["updated_at"])) for r in records)


def in_order(stream: ResourceStream, records: list[dict[str, Any]], *, by_id: bool) -> bool:
    """Whether a page is in the order the poll asked for: (`updated_at`, `id`), or `id` alone inside one second."""
    keys: list[Any] = []
    for record in records:
        rid, at = record_key(stream, record)
        keys.append(_id_order(rid) if by_id else (at, _id_order(rid)))
    return all(a <= b for a, b in itertools.pairwise(keys))


@dataclass(frozen=True)
class _Previous:
    """A page that was not the last: where it started, its `total_entries`, and how many of its records are
    before the next page's start."""

    lower: datetime
    total: int | None
    below: int
    # A bounded page that skipped its last second (`retry_at`): if the next total says that second had more,
    # the poll reads again from there, as a page that had not skipped it (`retry_below` records before it).
    retry_at: datetime | None = None
    retry_below: int = 0


def skipped(previous: _Previous | None, total: int | None) -> bool:
    """Whether records were skipped between the previous page and this one: in the order asked for, every
    record before this page's start was on the previous page, so the totals differ by at most those (a
    record changed meanwhile only moves later; a new one only adds). More means the previous page was not
    the list's first records in that order, however ordered it looked."""
    if previous is None or previous.total is None or total is None:
        return False
    return previous.total - total > previous.below


@dataclass
class _Hold:
    """A poll's hold on its stream: the cursor as last read or written, and whether this poll holds the
    lease folded into it.

    An idle poll never takes the lease: it reads the cursor once and writes it once, conditional on the
    version it read (a write in between, another poller's lease among them, makes it `StreamBusy`). A poll
    with something to write or publish takes the lease with a conditional cursor write first, renews it with
    each checkpoint and lets it go with the last."""

    key: StreamKey
    owner: str
    cursor: StreamCursor | None = None
    held: bool = False
    wrote: bool = False  # this poll wrote the cursor


# `poll(cursor=...)` not given: the poller reads the cursor itself.
UNREAD: Any = object()


@dataclass(frozen=True)
class _Run:
    """What every page of one poll shares."""

    connection: Connection
    stream: ResourceStream
    key: StreamKey
    mode: PayloadMode
    salt: bytes
    result: PollResult
    reconcile: bool
    walk: str | None  # the reconciliation walk that notes what it sees (removals), if any
    hold: _Hold
    # The poll's last checkpoint also lets the lease go (no removals to report after the loop).
    release_when_caught_up: bool


@dataclass
class StreamPoller:
    """The poll use-case for one stream: used by the Lambda worker, the CLI and the local stack alike."""

    api: ClinikoApi
    state: StreamStateStore
    publisher: EventPublisher
    event_source: str
    overlap: timedelta = timedelta(seconds=120)
    page_size: int = 100
    lease_seconds: int = 900
    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    payload_mode: PayloadMode | None = None
    # An idle poll (nothing read, nothing to write) leaves the cursor as it is while its `caught_up_at` is younger
    # than this: it has nothing to protect (no publish, no lease) and a write per stream per minute is most of
    # an idle clinic's DynamoDB bill. The cursor still says when the stream was last seen caught up, to within
    # this. 0 writes every idle poll.
    idle_heartbeat: timedelta = timedelta(0)
    # Test seam: called at named step boundaries so crash tests can stop the poller anywhere.
    checkpoint_hook: Callable[[str], None] = lambda step: None

    def poll(
        self,
        connection: Connection,
        stream: ResourceStream,
        *,
        deadline: float,
        reconcile: bool = False,
        cursor: StreamCursor | None = UNREAD,
    ) -> PollResult:
        """Publish every change since the checkpoint.

        With `reconcile`, walk the whole stream from its origin instead (or go on with the walk under way,
        from where it stopped): anything the snapshots don't account for was missed, say a record changed
        without its `updated_at` moving or one that became visible after the overlap window, and is published
        now. The walk keeps its own checkpoint, so a stream too large for one invocation is reconciled over
        several.

        `cursor` is the stream's cursor when the caller read it already (None: it has none yet); every write
        is conditional on it, so a stale one only makes the poll `StreamBusy`. A failed poll keeps its error
        on the cursor for `status` (with the release of its lease, if it held it)."""
        hold = _Hold(StreamKey(connection_id=connection.id, resource=stream.resource), uuid.uuid4().hex)
        try:
            return self._poll_held(connection, stream, hold, deadline, reconcile, cursor)
        except StreamBusy:
            raise
        except Exception as exc:
            self._note_failure(hold, exc)
            raise
        except BaseException:  # interrupted (Ctrl-C in the CLI): not a failure, but the lease goes
            self._note_failure(hold, None)
            raise

    def begin_reconcile(
        self, connection: Connection, stream: ResourceStream, cursor: StreamCursor | None = UNREAD
    ) -> None:
        """Start a reconciliation walk without walking yet (a stream still behind): the next polls that catch
        up go on with it. A walk already under way is left where it is."""
        hold = _Hold(StreamKey(connection_id=connection.id, resource=stream.resource), uuid.uuid4().hex)
        cursor = self._read(hold, cursor)
        if cursor is not None and cursor.reconcile_from is None:
            self._write(hold, cursor, {"reconcile_from": cursor.origin, "reconcile_after_id": None})

    def _read(self, hold: _Hold, cursor: StreamCursor | None) -> StreamCursor | None:
        """The cursor (read now unless given), or `StreamBusy` if another poller holds its lease."""
        if cursor is UNREAD:
            cursor = self.state.get_cursor(hold.key)
        if cursor is not None and self.state.leased_by(cursor) not in (None, hold.owner):
            raise StreamBusy(f"stream {hold.key} is being polled by another worker")
        hold.cursor = cursor
        return cursor

    def _write(
        self, hold: _Hold, cursor: StreamCursor, update: dict[str, Any], *, keep: bool | None = None
    ) -> StreamCursor:
        """The cursor's conditional write: renews the lease when held (or takes it, `keep=True`), releases it
        with `keep=False`. Without the lease, a write in between means another poller: `StreamBusy`."""
        keep = hold.held if keep is None else keep
        try:
            cursor = self.state.put_cursor(
                hold.key,
                cursor.model_copy(update=update),
                expected_version=cursor.version,
                owner=hold.owner,
                lease_seconds=self.lease_seconds if keep else 0,
            )
        except CursorConflict:
            if hold.held:
                raise  # taken over while we held it (an expired lease): the job is retried
            raise StreamBusy(f"stream {hold.key} is being polled by another worker") from None
        hold.cursor, hold.held, hold.wrote = cursor, keep, True
        return cursor

    def _lease(self, hold: _Hold, cursor: StreamCursor) -> StreamCursor:
        """Take the stream's lease before the first side effect (snapshots, events)."""
        return cursor if hold.held else self._write(hold, cursor, {}, keep=True)

    def _note_failure(self, hold: _Hold, exc: Exception | None) -> None:
        """Keep the error on the cursor for `status` (type and message, never data), releasing the lease in
        the same write; best effort, so the poll's own error is what the caller sees. Without an error (an
        interrupted poll) only a lease held is released."""
        if hold.cursor is None or (exc is None and not hold.held):
            return
        update = {} if exc is None else {"last_error": f"{describe_error(exc)} (at {to_z(self.now())})"}
        try:
            self._write(hold, hold.cursor, update, keep=False)
        except Exception:
            logger.warning("poll failure not recorded on the cursor", extra={"stream": str(hold.key)})

    def _poll_held(
        self,
        connection: Connection,
        stream: ResourceStream,
        hold: _Hold,
        deadline: float,
        reconcile: bool,
        given: StreamCursor | None,
    ) -> PollResult:
        key = hold.key
        result = PollResult(stream=str(key))
        cursor = self._read(hold, given)
        if cursor is None:
            try:
                cursor = self.state.put_cursor(key, initial_cursor(StartPoint(), self.now()), expected_version=None)
            except CursorConflict:
                raise StreamBusy(f"stream {key} is being polled by another worker") from None
            hold.cursor, hold.wrote = cursor, True
            result.initialised = True
        salt = connection.hash_salt.encode()
        mode = connection.payload_mode or self.payload_mode or PayloadMode.FULL

        if reconcile and cursor.reconcile_from is None:
            cursor = self._write(hold, cursor, {"reconcile_from": cursor.origin})
        walk = self._walk_marker(connection, stream, cursor)
        lower = cursor.reconcile_from if reconcile and cursor.reconcile_from else cursor.position - self.overlap
        lower = max(lower, cursor.origin)
        drain_after_id = cursor.reconcile_after_id if reconcile else None  # set while walking a crowded second by id
        removals = walk is not None and reconcile
        run = _Run(connection, stream, key, mode, salt, result, reconcile, walk, hold, not removals)
        previous: _Previous | None = None  # the last page, while the next one is to confirm it held all it should
        first_lower = lower
        # Bounded pages (`updated_at < bound`, see `_params`): set once a crowded backfill pays for them.
        bound: datetime | None = None
        entering = False  # the next request confirms a crowded page and finds the bound (newest record first)
        while True:
            if bound is not None and lower >= bound:
                bound = None
            self.checkpoint_hook("before_fetch")
            params = self._params(stream, lower, drain_after_id, bound)
            if entering:
                params = [p for p in params if p[0] not in ("sort", "per_page")] + [sort("updated_at:desc")]
                params.append(("per_page", "1"))
            page = self.api.list_page(f"/{stream.resource}", params=params, deadline=deadline)
            result.pages += 1
            records = page.records
            self.checkpoint_hook("fetched")
            draining = drain_after_id is not None
            gap = skipped(previous, page.total_entries)
            if entering and not gap:
                # The crowded page held all it should (this total, unbounded like that page's). Bounded pages
                # go on from its checkpoint, up to the newest record seen: a record that changes from now on
                # lands at or after it whatever the clocks say, so it can't hide a gap; nor, the overlap
                # before now, one still becoming visible.
                entering, previous = False, None
                if records:
                    bound = min(latest(records), self.now() - self.overlap)
                cursor = self._take(run, cursor, [], position=lower, resume_at=lower)
                if self.monotonic() >= deadline:
                    break
                continue
            entering = False  # not confirmed: the window is read unordered below, from the crowded page's start
            if gap and previous is not None and previous.retry_at is not None:
                # The skipped second had more than the page held (or a record left the bound meanwhile):
                # read again from that second, as if it had not been skipped.
                lower, previous = previous.retry_at, _Previous(previous.lower, previous.total, previous.retry_below)
                if self.monotonic() >= deadline:
                    break
                continue
            unordered = not in_order(stream, records, by_id=draining) or gap
            if not records and not draining and not unordered and bound is None:
                now = self.now()
                if not self._quiet(hold, cursor, reconcile, now):
                    update = {"last_poll_at": now, "caught_up_at": now, "last_error": None}
                    cursor = self._write(hold, cursor, update | self._walked(reconcile, None, None), keep=False)
                result.caught_up = True
                break
            more = page.next_url is not None
            caught_up = False
            if unordered:
                # Not the order asked for: the page says nothing about what comes before its last record, nor
                # (a page that skipped some) the one before it, whose checkpoint therefore stayed at its start.
                cursor = self._note_sort_not_honoured(run, cursor)
                if draining:
                    upper = lower + ONE_SECOND
                else:
                    lower = previous.lower if previous is not None else lower
                    upper = (latest(records) if records else lower) + ONE_SECOND
                previous = None
                read = self._read_window(stream, lower, upper, deadline, result)
                if read is None:
                    break  # out of time: nothing advanced, the next poll reads the window again
                window, read_upto = read
                if draining or more or bound is not None or read_upto < upper:
                    drain_after_id, end = None, read_upto
                else:
                    end, caught_up = max([lower, *(record_key(stream, r)[1] for r in window)]), True
                parts = [window[i : i + self.page_size] for i in range(0, len(window), self.page_size)] or [[]]
                for n, part in enumerate(parts):
                    final = n == len(parts) - 1
                    # The whole window is read: everything up to a part's last record is published with it.
                    at = end if final else record_key(stream, part[-1])[1]
                    done = final and caught_up
                    cursor = self._take(run, cursor, part, position=at, resume_at=None if done else at, caught_up=done)
                lower = end
            else:
                # A page that is not the last is checkpointed at its start: only the next page's total shows
                # that it held everything before its last record (see `skipped`).
                start = lower
                previous = None
                if draining:
                    if more:
                        # Inside one second, by id: ids ascending on the page is the check (a list that ignored
                        # `sort` would come in creation order, which ids follow).
                        drain_after_id = str(records[-1]["id"])
                    else:
                        drain_after_id, lower = None, lower + ONE_SECOND
                elif not more and bound is not None:
                    # Everything before the bound is read; the next (unbounded) page reads on from the last
                    # second seen (the position never follows the bound, which is only the connector's guess).
                    if records:
                        lower = max(lower, parse_ts(str(records[-1]["updated_at"])))
                    bound = None
                elif records:
                    last = parse_ts(str(records[-1]["updated_at"]))
                    if not more:
                        lower, caught_up = max(lower, last), True
                    elif last <= lower:
                        # A whole page inside one second: walk that second by id before moving on. (Ordered by
                        # id, the page is that second's first by id unless the list came in an order neither
                        # asked for nor by creation, which ids follow, and still looked ordered.)
                        drain_after_id = str(records[-1]["id"])
                    else:
                        times = [record_key(stream, r)[1] for r in records]
                        below = sum(at < last for at in times)
                        if bound is not None and page.total_entries is not None and self._whole(times, last, bound):
                            # Skip the page's last second: the next page's total proves the page held all of it.
                            lower = last + ONE_SECOND
                            previous = _Previous(start, page.total_entries, len(records), last, below)
                        else:
                            lower = last
                            previous = _Previous(start, page.total_entries, below)
                        entering = bound is None and self._crowded(records, below, page.total_entries)
                checkpoint = start if previous is not None else lower
                cursor = self._take(
                    run,
                    cursor,
                    records,
                    position=checkpoint,
                    resume_at=None if caught_up else checkpoint,
                    drain_after_id=drain_after_id,
                    caught_up=caught_up,
                )
            if caught_up:
                result.caught_up = True
                break
            if self.monotonic() >= deadline:
                if previous is not None and previous.lower <= first_lower:
                    # Out of time after one page, which its checkpoint would not pass: confirm it instead.
                    cursor = self._confirm(run, cursor, previous, lower, drain_after_id, bound)
                break
        if walk is not None and reconcile and result.caught_up and cursor.reconcile_from is None:
            removed = self._report_removals(run, walk, deadline)
            result.events += len(removed)
            for event in removed:
                result.event_counts[event.detail_type] = result.event_counts.get(event.detail_type, 0) + 1
        if hold.held and hold.cursor is not None:
            cursor = self._write(hold, hold.cursor, {}, keep=False)
        result.cursor = to_z(cursor.position)
        result.reconciling = cursor.reconcile_from is not None
        # Idle: nothing published and nothing read but records seen before (the overlap's re-read). An idle
        # stream's counts are its connection's, so a job's idle streams share one metric line with its requests
        # (one EMF line per set of labels, billed by the byte) instead of one each.
        changed = bool(result.events or result.records > result.duplicates)
        labels = {"connection": connection.id} | ({"resource": stream.resource} if changed else {})
        count("PagesFetched", result.pages, labels)
        count("RecordsPolled", result.records, labels)
        count("DuplicatesSuppressed", result.duplicates, labels)
        count("EventsPublished", result.events, labels)
        # An idle stream's line is DEBUG: the job's one INFO summary says it was polled (logs are billed by the byte).
        log = logger.info if changed else logger.debug
        log(
            "stream polled",
            extra={
                "stream": str(key),
                "pages": result.pages,
                "records": result.records,
                "events": result.events,
                "duplicates": result.duplicates,
                "caught_up": result.caught_up,
                "cursor": result.cursor,
            },
        )
        return result

    def _quiet(self, hold: _Hold, cursor: StreamCursor, reconcile: bool, now: datetime) -> bool:
        """Whether an empty page that catches the stream up may leave its cursor unwritten: this poll holds no
        lease and wrote nothing, there is no walk to end nor error to clear, and the cursor says the stream
        caught up less than `idle_heartbeat` ago. The next poll reads from the same position either way."""
        return (
            self.idle_heartbeat > timedelta(0)
            and not hold.held
            and not reconcile
            and not hold.wrote
            and cursor.last_error is None
            and cursor.caught_up_at is not None
            and cursor.last_poll_at is not None
            and timedelta(0) <= now - cursor.caught_up_at < self.idle_heartbeat
        )

    def _take(
        self,
        run: _Run,
        cursor: StreamCursor,
        records: list[dict[str, Any]],
        *,
        position: datetime,
        resume_at: datetime | None,
        drain_after_id: str | None = None,
        caught_up: bool = False,
    ) -> StreamCursor:
        """Publish these records (everything before them published already) and checkpoint at `position`;
        a reconciliation walk resumes at `resume_at` (None: the walk reached the end of the list). The lease
        is taken first if the page has anything to keep or publish (a page of repeats has not)."""
        result, key = run.result, run.key
        # The last page of a regular poll, the same as the one the stream last caught up on: settled already.
        tail = tail_digest(run.stream, records) if caught_up and records and not run.reconcile else None
        seen = tail is not None and run.walk is None and tail == cursor.seen_tail
        classified = (
            self._classify_page(run.connection, run.stream, key, records, cursor.origin, run.salt)
            if records and not seen
            else []
        )
        if any(
            c.transitions or c.pending.pending or (run.walk is not None and c.settled.walked != run.walk)
            for c, _ in classified
        ):
            cursor = self._lease(run.hold, cursor)
        events = (
            self._publish_page(run.connection, run.stream, key, classified, run.mode, run.walk) if classified else []
        )
        result.records += len(records)
        result.duplicates += len(records) if seen else sum(c.repeats for c, _ in classified)
        result.events += len(events)
        for event in events:
            result.event_counts[event.detail_type] = result.event_counts.get(event.detail_type, 0) + 1
        now = self.now()
        update = {
            "position": max(cursor.position, position),
            "last_poll_at": now,
            "last_error": None,
            "events_published": cursor.events_published + len(events),
            "backfill_done": cursor.backfill_done + sum(c.new_versions > 0 for c, _ in classified),
            **({"caught_up_at": now} if caught_up else {}),
            **({"seen_tail": tail} if tail is not None else {}),
            **self._walked(run.reconcile, resume_at, drain_after_id),
        }
        # The overlap's re-read of records the stream has seen, caught up and nothing else to say: as idle as an
        # empty page (`_quiet`), so within the heartbeat the cursor stays as it is.
        unchanged = all(getattr(cursor, k) == v for k, v in update.items() if k not in ("last_poll_at", "caught_up_at"))
        if not (caught_up and unchanged and self._quiet(run.hold, cursor, run.reconcile, now)):
            cursor = self._write(
                run.hold, cursor, update, keep=False if caught_up and run.release_when_caught_up else None
            )
        if events:  # hourly counters for `status`: never worth failing a poll over
            try:
                self.state.record_events(key, int(self.now().timestamp()) // 3600 * 3600, len(events))
            except Exception:
                logger.warning("event counter not updated", extra={"stream": str(key)})
        self.checkpoint_hook("checkpointed")
        return cursor

    def _confirm(
        self,
        run: _Run,
        cursor: StreamCursor,
        previous: _Previous,
        lower: datetime,
        after_id: str | None,
        bound: datetime | None,
    ) -> StreamCursor:
        """Out of time after the one page of a poll, not the list's last: ask for the next page's total only,
        to confirm that page held all it should (see `skipped`), and checkpoint past it if so. Without this a
        poll with time for one page only would read that page again and again."""
        page = self.api.list_page(
            f"/{run.stream.resource}",
            params=self._params(run.stream, lower, after_id, bound),
            deadline=self.monotonic() + CONFIRM_SECONDS,
        )
        run.result.pages += 1
        if skipped(previous, page.total_entries):
            return self._note_sort_not_honoured(run, cursor)
        return self._take(run, cursor, [], position=lower, resume_at=lower, drain_after_id=after_id)

    def _note_sort_not_honoured(self, run: _Run, cursor: StreamCursor) -> StreamCursor:
        """Say so (metric, log, the cursor for `status`) without moving the stream."""
        connection, stream, key = run.connection, run.stream, run.key
        error = ClinikoSortNotHonoured(
            f"GET /{stream.resource}: a page came back out of the order asked for; reading the window unordered",
            method="GET",
            path=f"/{stream.resource}",
        )
        count("ClinikoSortNotHonoured", 1, {"connection": connection.id, "resource": stream.resource})
        logger.warning(str(error), extra={"stream": str(key), "error_type": error.error_type})
        return self._write(run.hold, cursor, {"sort_not_honoured_at": self.now()})

    def _read_window(
        self, stream: ResourceStream, lower: datetime, upper: datetime, deadline: float, result: PollResult
    ) -> tuple[list[dict[str, Any]], datetime] | None:
        """Every record with `lower <= updated_at < end`, read without relying on any order and sorted here by
        (`updated_at`, `id`), and that `end` (`upper`, or earlier if the window had to be narrowed); None if the
        deadline came first.

        A part of the window is read only when one page holds all of it (no next page), so the order inside
        the page doesn't matter. A window too large for a few pages is first narrowed in time (its end moves
        back; what is after it is the next window's); a part still too large for one page is cut in two at
        the middle id it showed, until every part fits. Each cut is a request: correct, if costlier."""
        narrowed = False
        parts: list[tuple[int | None, int | None]] = [(None, None)]  # id ranges (after, up to and including)
        found: dict[str, dict[str, Any]] = {}
        while parts:
            if self.monotonic() >= deadline:
                return None
            after, upto = parts.pop()
            params = [q("updated_at", ">=", lower), q("updated_at", "<", upper)]
            params += [("q[]", f) for f in stream.include_filters]
            if after is not None:
                params.append(q("id", ">", after))
            if upto is not None:
                params.append(q("id", "<=", upto))
            params.append(("per_page", str(self.page_size)))
            page = self.api.list_page(f"/{stream.resource}", params=params, deadline=deadline)
            result.pages += 1
            total = page.total_entries
            for record in page.records:
                rid, at = record_key(stream, record)
                number = _id_order(rid)[0]
                if (
                    not lower <= at < upper
                    or (after is not None and number <= after)
                    or (upto is not None and number > upto)
                ):
                    raise ClinikoBadResponse(f"GET /{stream.resource}: a record outside the filters asked for")
            if page.next_url is None and (total is None or total <= len(page.records)):
                for record in page.records:
                    rid, at = record_key(stream, record)
                    seen = found.get(rid)
                    if seen is None or parse_ts(str(seen["updated_at"])) <= at:
                        found[rid] = record
                continue
            whole = after is None and upto is None
            if whole and not narrowed and total is not None and total > WINDOW_PAGES * self.page_size:
                if upper - lower > ONE_SECOND:
                    middle = lower + max(ONE_SECOND, (upper - lower) // 2)
                    upper = middle.replace(microsecond=0)
                    parts = [(None, None)]
                    continue
                narrowed = True  # one crowded second: cut it by id
            ids = sorted({_id_order(record_key(stream, r)[0])[0] for r in page.records})
            if len(ids) < 2:
                raise ClinikoBadResponse(f"GET /{stream.resource}: a page of the list too small to read in parts")
            pivot = ids[len(ids) // 2 - 1]
            parts += [(after, pivot), (pivot, upto)]
        ordered = sorted(found.values(), key=lambda r: (parse_ts(str(r["updated_at"])), _id_order(str(r["id"]))))
        return ordered, upper

    def _publish_page(
        self,
        connection: Connection,
        stream: ResourceStream,
        key: StreamKey,
        classified: list[tuple[ClassifiedRecord, list[dict[str, Any]]]],
        mode: PayloadMode,
        walk: str | None = None,
    ) -> list[BusEvent]:
        """Publish the page's events of the enabled triggers and settle its records; return the events.

        With `walk` (a reconciliation walk is under way on a stream that reports removals), every record of
        the page is kept as seen by that walk, changed or not.

        New versions are kept as pending before their events go out: a poll that stops while or after
        publishing leaves the next one what it needs to resend them under the same keys, and to classify
        what changed since."""
        enabled = set(connection.triggers)
        events: list[BusEvent] = []
        owners: list[int] = []  # the record (index in `classified`) of each event
        pending: list[RecordState] = []
        for r, (c, versions) in enumerate(classified):
            wanted = [(t, i) for t, i in c.transitions if t.trigger.name in enabled]
            events += [self._bus_event(connection, stream, c.settled.id, t, mode, versions[i]) for t, i in wanted]
            owners += [r] * len(wanted)
            if wanted and c.new_versions:
                pending.append(c.pending)
        if pending:
            self.state.put_records(key, pending)
        self.checkpoint_hook("pending_saved")
        if events:
            try:
                self.publisher.publish(events)
            except PublishError as exc:
                self._keep_what_was_accepted(key, classified, events, owners, exc)
                raise
        self.checkpoint_hook("published")
        if walk is not None:
            settled = [
                c.settled.model_copy(update={"walked": walk})
                for c, _ in classified
                if c.pending.pending or c.settled.walked != walk
            ]
        else:
            settled = [c.settled for c, _ in classified if c.pending.pending]
        if settled:
            self.state.put_records(key, settled)
        self.checkpoint_hook("settled")
        return events

    def _keep_what_was_accepted(
        self,
        key: StreamKey,
        classified: list[tuple[ClassifiedRecord, list[dict[str, Any]]]],
        events: list[BusEvent],
        owners: list[int],
        error: PublishError,
    ) -> None:
        """After a publish that failed in part, settle the records whose events all went out, and note on
        the others which of theirs did: the retry sends only what the bus has not accepted."""
        failed = set(range(len(events)) if error.failed_indexes is None else error.failed_indexes)
        accepted: dict[int, list[str]] = {}
        unfinished: set[int] = set()
        for index, (event, owner) in enumerate(zip(events, owners, strict=True)):
            if index in failed:
                unfinished.add(owner)
            else:
                accepted.setdefault(owner, []).append(str(event.detail["event_key"]))
        states: list[RecordState] = []
        for r, (c, _) in enumerate(classified):
            if not c.pending.pending:
                continue
            if r not in unfinished:
                states.append(c.settled)
            elif r in accepted:
                states.append(c.pending.model_copy(update={"sent": (*c.pending.sent, *accepted[r])}))
        if not states:
            return
        try:
            self.state.put_records(key, states)
        except Exception:  # the publish error is what the caller must see; this only saves repeats
            logger.warning("accepted events not recorded: the retry sends them again", extra={"stream": str(key)})

    @staticmethod
    def _walk_marker(connection: Connection, stream: ResourceStream, cursor: StreamCursor) -> str | None:
        """The name of the reconciliation walk under way, when the stream must note what it sees (its removal
        trigger is on): the end of the walk before it never changes while this one goes on."""
        if cursor.reconcile_from is None or stream.removal is None or stream.removal.name not in connection.triggers:
            return None
        return f"after:{to_z(cursor.reconciled_at)}" if cursor.reconciled_at else "first"

    def _report_removals(self, run: _Run, walk: str, deadline: float) -> list[BusEvent]:
        """After a finished walk: the records the stream keeps that the walk did not see. Each is asked for by
        id; a 404 means it is gone (Cliniko's list shows no trace of a deleted availability block), and its
        removal is published before the stream forgets it. One that is still there changed mid-walk and is
        seen by the next walk; one left when the deadline comes, or when Cliniko fails for a while, is checked
        by the next walk too."""
        connection, stream, key, mode = run.connection, run.stream, run.key, run.mode
        detected_at = to_z(self.now())
        gone: list[tuple[str, Transition]] = []
        for kept in self.state.list_records(key):
            if kept.walked == walk:
                continue
            transition = removal(stream, connection.id, kept, detected_at)
            if transition is None:
                continue
            if self.monotonic() >= deadline:
                break
            try:
                self.api.request("GET", f"/{stream.resource}/{kept.id}", deadline=deadline)
            except ClinikoNotFound:
                gone.append((kept.id, transition))
            except (ClinikoTransientError, RateBudgetExhausted) as exc:
                # The walk itself is done; what is left unchecked stays kept for the next walk to check.
                logger.warning("removal checks deferred", extra={"stream": str(key), "error": type(exc).__name__})
                count("RemovalChecksDeferred", 1, {"connection": connection.id, "resource": stream.resource})
                break
        if not gone:
            return []
        events = [self._bus_event(connection, stream, rid, t, mode, None) for rid, t in gone]  # nothing left to read
        if run.hold.cursor is not None:
            self._lease(run.hold, run.hold.cursor)
        self.publisher.publish(events)  # raises (the records stay): the next walk reports them again
        self.state.delete_records(key, [rid for rid, _ in gone])
        logger.info("records removed", extra={"stream": str(key), "removed": len(gone)})
        return events

    def _walked(self, reconcile: bool, resume_at: datetime | None, after_id: str | None) -> dict[str, Any]:
        """A reconciliation walk's checkpoint: where to resume, or (at the end of the list) when it ended."""
        if not reconcile:
            return {}
        if resume_at is not None:
            return {"reconcile_from": resume_at, "reconcile_after_id": after_id}
        return {"reconcile_from": None, "reconcile_after_id": None, "reconciled_at": self.now()}

    def _crowded(self, records: list[dict[str, Any]], below: int, total: int | None) -> bool:
        """Whether bounded pages pay: this full page leaves many records to re-read (its last second's) and
        many pages follow. Switching costs two requests: one that confirms this page and finds the newest
        record (the bound: a bound later than Cliniko's clock, or than records still becoming visible,
        could let a total hide a gap), and one for what is after the bound."""
        return (
            (len(records) - below) * CROWDED_SHARE >= self.page_size
            and total is not None
            and total >= CROWDED_PAGES_AHEAD * self.page_size
        )

    @staticmethod
    def _whole(times: list[datetime], last: datetime, bound: datetime) -> bool:
        """Whether a page's last second looks whole, so skipping it likely pays: it holds at least as many
        records as the second before it (whole, being before the last), and is before the bound."""
        before = [at for at in times if at < last]
        if not before or last + ONE_SECOND >= bound:
            return False
        return len(times) - len(before) >= sum(at == before[-1] for at in before)

    def _params(
        self, stream: ResourceStream, lower: datetime, after_id: str | None, bound: datetime | None = None
    ) -> list[tuple[str, str]]:
        """The next page's query. A bounded page (`updated_at < bound`, the bound no later than a record
        already seen) lets two pages' totals count the same records: a change moves a record past the bound,
        never into it, so the totals of a page and the next, started past its last second, differ by no more
        than the page's records unless that second had more than the page held (see `skipped`)."""
        params = [q("updated_at", ">=", lower)]
        params += [("q[]", f) for f in stream.include_filters]
        if after_id is None:
            if bound is not None and lower < bound:
                params.append(q("updated_at", "<", bound))
            params.append(sort("updated_at", "id"))
        else:
            params += [q("updated_at", "<", lower + ONE_SECOND), q("id", ">", after_id), sort("id")]
        params.append(("per_page", str(self.page_size)))
        return params

    def _classify_page(
        self,
        connection: Connection,
        stream: ResourceStream,
        key: StreamKey,
        records: list[dict[str, Any]],
        origin: datetime,
        salt: bytes,
    ) -> list[tuple[ClassifiedRecord, list[dict[str, Any]]]]:
        """Each record of the page (the versions of one id together, in page order) against what the
        stream keeps of it."""
        by_id: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            if not isinstance(record.get("id"), str | int) or not isinstance(record.get("updated_at"), str):
                raise ClinikoBadResponse(f"a {stream.resource} record without id or updated_at")
            by_id.setdefault(str(record["id"]), []).append(record)
        kept = self.state.get_records(key, list(by_id))
        return [
            (classify_versions(stream, connection.id, versions, kept.get(rid), origin, salt), versions)
            for rid, versions in by_id.items()
        ]

    def _bus_event(
        self,
        connection: Connection,
        stream: ResourceStream,
        record_id: str,
        transition: Transition,
        mode: PayloadMode,
        record: dict[str, Any] | None,
    ) -> BusEvent:
        detail = TriggerEventDetail(
            trigger=transition.trigger.name,
            connection_id=connection.id,
            resource=stream.resource,
            id=record_id,
            occurred_at=transition.occurred_at,
            event_key=transition.event_key,
            changed_fields=transition.changed_fields,
            previous=transition.previous,
            payload_mode=mode,
            data=record if mode is PayloadMode.FULL else None,  # None: the record is gone (removed)
        )
        event = BusEvent(
            source=self.event_source,
            detail_type=transition.trigger.detail_type,
            detail=detail.model_dump(mode="json"),
        )
        if entry_size(event) > MAX_REQUEST_BYTES:
            # Too big for one entry: send it without the record rather than lose it.
            detail = detail.model_copy(update={"data": None, "truncated": True})
            event = event.model_copy(update={"detail": detail.model_dump(mode="json")})
        return event
