"""Backfill: move streams' start back and poll them with the poll worker until they catch up.

The stream's cursor is the checkpoint, so a backfill stopped anywhere (Ctrl-C, a time limit, a crash)
continues from there when run again: `prepare` resumes a backfill towards the same start instead of
starting over, unless asked to restart. Progress is read from the cursor, whoever moves it: the scheduled
poll worker may take turns with the CLI on a stream (they share its lease), and both count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cliniko_connector.catalog.triggers import TRIGGERS, ResourceStream, streams_for
from cliniko_connector.cliniko_query import q
from cliniko_connector.errors import ConfigurationError, CursorConflict, RateBudgetExhausted, StreamBusy
from cliniko_connector.models import Connection, StartPoint, StreamCursor, StreamKey
from cliniko_connector.ports import ClinikoApi, Page, Params, PollJob
from cliniko_connector.timeutil import to_z, utc_now
from cliniko_connector.usecases.connections import ConnectionAdmin, refuse_unknown_triggers
from cliniko_connector.usecases.poll import StreamPoller, initial_cursor
from cliniko_connector.usecases.poll_worker import PollWorker

PlanAction = Literal["start", "restart", "resume"]
ProgressState = Literal["reading", "rate-limited", "busy", "caught-up", "stopped"]


@dataclass(frozen=True)
class StreamPlan:
    resource: str
    triggers: tuple[str, ...]
    action: PlanAction
    cursor: StreamCursor


@dataclass
class BackfillProgress:
    """A stream's backfill as the progress bar shows it."""

    connection_id: str
    resource: str
    index: int
    streams: int
    origin: datetime
    position: datetime
    total: int | None
    done: int
    done_at_start: int
    pages: int = 0
    events: int = 0
    elapsed: float = 0.0
    rate_used: int | None = None
    rate_limit: int | None = None
    state: ProgressState = "reading"
    now: datetime = field(default_factory=utc_now)

    @property
    def fraction(self) -> float | None:
        if self.state == "caught-up":
            return 1.0
        if self.total:
            return min(1.0, self.done / self.total)
        if self.total == 0:
            return None
        span = (self.now - self.origin).total_seconds()
        return max(0.0, min(1.0, (self.position - self.origin).total_seconds() / span)) if span > 0 else None

    @property
    def eta_seconds(self) -> float | None:
        """Time left at this run's speed so far (records per second), when the total is known."""
        if self.state == "caught-up":
            return 0.0
        read = self.done - self.done_at_start
        if not self.total or read <= 0 or self.elapsed <= 0:
            return None
        return max(0.0, (self.total - self.done) / (read / self.elapsed))


@dataclass
class StreamOutcome:
    resource: str
    action: PlanAction
    caught_up: bool = False
    stopped: bool = False
    pages: int = 0
    records: int = 0
    events: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    cursor: str | None = None
    total: int | None = None
    done: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "resource": self.resource,
            "action": self.action,
            "caught_up": self.caught_up,
            "stopped": self.stopped,
            "pages": self.pages,
            "records": self.records,
            "events": self.events,
            "duplicates": self.duplicates,
            "seconds": round(self.seconds, 1),
            "cursor": self.cursor,
            "backfill_total": self.total,
            "backfill_done": self.done,
        }


@dataclass(frozen=True)
class _FirstPage:
    """A stream's first page, fetched by `prepare` for its total: the poll's first request, answered already."""

    path: str
    params: tuple[tuple[str, str], ...]
    page: Page
    fetched_at: float  # monotonic


class _AnsweredFirst:
    """A `ClinikoApi` whose first `list_page` is answered with the page `prepare` fetched when it asks for
    exactly that page; any other first request, and every later one, goes to Cliniko."""

    def __init__(self, api: ClinikoApi, first: _FirstPage) -> None:
        self._api = api
        self._first: _FirstPage | None = first

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)  # `request`, `iter_records`, and the client's request counters

    def list_page(self, path_or_url: str, *, params: Params = (), deadline: float | None = None) -> Page:
        first, self._first = self._first, None
        if first is not None and (path_or_url, tuple(params)) == (first.path, first.params):
            return first.page
        return self._api.list_page(path_or_url, params=params, deadline=deadline)


@dataclass
class _ObservedPollWorker(PollWorker):
    """The poll worker, plus a call after every checkpointed page, a way to stop between pages, and the
    stream's first page when `prepare` fetched it already (`first_page`, used by the next poller only)."""

    on_page: Callable[[], None] = lambda: None
    stop_requested: Callable[[], bool] = lambda: False
    first_page: _FirstPage | None = None

    def _poller(self, connection: Connection) -> StreamPoller:
        poller = super()._poller(connection)
        if self.first_page is not None:
            poller.api = _AnsweredFirst(poller.api, self.first_page)
            self.first_page = None
        clock = poller.monotonic

        def hook(step: str) -> None:
            if step == "checkpointed":
                self.on_page()

        # The poller stops at its deadline after a checkpoint; a stop request makes that deadline now.
        poller.checkpoint_hook = hook
        poller.monotonic = lambda: float("inf") if self.stop_requested() else clock()
        return poller


RateUsage = Callable[[Connection], int]


@dataclass
class Backfill:
    """The backfill use-case behind `cliniko-connector backfill`."""

    admin: ConnectionAdmin
    worker: PollWorker
    rate_usage: RateUsage | None = None
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = utc_now
    wait_seconds: float = 2.0
    rate_refresh_seconds: float = 1.0
    _first_pages: dict[StreamKey, _FirstPage] = field(default_factory=dict, repr=False)

    def prepare(self, connection_id: str, triggers: list[str], start: StartPoint, *, restart: bool) -> list[StreamPlan]:
        """Switch the triggers on and move their streams back to `start`, or leave a backfill towards the same
        start where it is (it resumes). Each stream's `backfill_total` is counted first, so a refused key or
        an outage stops the backfill before any stream has moved. A stream that starts (or starts over) is
        counted with the very page its poll begins with, which `run` then uses instead of asking again: the
        count costs no request of its own."""
        refuse_unknown_triggers(triggers)
        connection = self.admin.connections.get(connection_id)
        state = self.admin.state
        wanted = initial_cursor(start, self.now())
        plans: list[StreamPlan] = []
        for stream in streams_for(triggers):
            key = StreamKey(connection_id=connection_id, resource=stream.resource)
            names = tuple(t for t in triggers if TRIGGERS[t].resource == stream.resource)
            existing = state.get_cursor(key)
            action: PlanAction
            if existing is None:
                action = "start"
            elif restart:
                action = "restart"
            elif to_z(existing.origin) == to_z(wanted.origin) or wanted.position >= existing.position:
                # The same backfill again, or a stream not yet as far as `start`: polling on gets there.
                action = "resume"
            else:
                action = "start"
            total: int | None = None
            counted = action != "resume" or existing is None or existing.backfill_total is None
            if counted and action == "resume" and existing is not None:
                total = self._count(connection, stream, existing.position)
            elif counted:
                total = self._first_page(connection, stream, key, wanted)
            if action == "restart":
                state.delete_stream(key)
            self.admin.enable_triggers(connection_id, list(names), start if action != "resume" else None)
            cursor = self._set_total(key, total) if counted else state.get_cursor(key)
            if cursor is None:
                raise ConfigurationError(f"stream {key} has no cursor after enabling its triggers")
            plans.append(StreamPlan(resource=stream.resource, triggers=names, action=action, cursor=cursor))
        return plans

    def _set_total(self, key: StreamKey, total: int | None) -> StreamCursor:
        state = self.admin.state
        for _attempt in range(5):
            cursor = state.get_cursor(key)
            if cursor is None:
                raise ConfigurationError(f"stream {key} has no cursor after enabling its triggers")
            try:
                return state.put_cursor(
                    key,
                    cursor.model_copy(update={"backfill_total": total, "backfill_done": 0}),
                    expected_version=cursor.version,
                )
            except CursorConflict:
                continue  # the scheduled poller moved it meanwhile
        raise CursorConflict(f"stream {key} kept moving while its backfill was being set up; run the command again")

    def _first_page(
        self, connection: Connection, stream: ResourceStream, key: StreamKey, cursor: StreamCursor
    ) -> int | None:
        """`total_entries` of the first page the stream's poll will ask for from `cursor`, kept for `run`."""
        poller = self.worker._poller(connection)
        lower = max(cursor.position - poller.overlap, cursor.origin)
        path, params = f"/{stream.resource}", tuple(poller._params(stream, lower, None))
        budget = min(60.0, self.worker.settings.poll_time_budget_seconds)
        page = poller.api.list_page(path, params=params, deadline=self.monotonic() + budget)
        self._first_pages[key] = _FirstPage(path, params, page, self.monotonic())
        return page.total_entries

    def _fresh_first_page(self, key: StreamKey) -> _FirstPage | None:
        """The page `prepare` fetched, unless it is older than a poll's time budget: one poll may take that
        long from its first page to its last, so a first page that old is no staler than its later ones."""
        first = self._first_pages.pop(key, None)
        max_age = self.worker.settings.poll_time_budget_seconds
        return first if first is not None and self.monotonic() - first.fetched_at <= max_age else None

    def _count(self, connection: Connection, stream: ResourceStream, since: datetime) -> int | None:
        """Records the stream will read from `since`: `total_entries` of a one-record first page."""
        api = self.worker.runtime.api_for(connection, "poll")
        params = [q("updated_at", ">=", since), *[("q[]", f) for f in stream.include_filters], ("per_page", "1")]
        budget = min(60.0, self.worker.settings.poll_time_budget_seconds)
        page = api.list_page(f"/{stream.resource}", params=params, deadline=self.monotonic() + budget)
        return page.total_entries

    def run(
        self,
        connection_id: str,
        plans: list[StreamPlan],
        *,
        on_progress: Callable[[BackfillProgress], None] = lambda p: None,
        time_limit: float | None = None,
    ) -> list[StreamOutcome]:
        """Poll each planned stream until it catches up (or `time_limit` seconds pass: then the streams stop
        after their current page and the outcome says `stopped`; running again continues)."""
        connection = self.admin.connections.get(connection_id)
        started = self.monotonic()
        stop_at = started + time_limit if time_limit is not None else None

        def stop_requested() -> bool:
            return stop_at is not None and self.monotonic() >= stop_at

        worker = _ObservedPollWorker(
            self.worker.runtime,
            self.worker.settings,
            schedule_seconds=0,  # no fast-mode loop: a backfill stops as soon as it has caught up
            stop_requested=stop_requested,
        )
        outcomes: list[StreamOutcome] = []
        for index, plan in enumerate(plans, start=1):
            outcome = StreamOutcome(resource=plan.resource, action=plan.action)
            outcomes.append(outcome)
            tracker = _Tracker(self, connection, self._progress(connection, plan, index, len(plans)), on_progress)
            worker.on_page = tracker.page_done
            worker.first_page = self._fresh_first_page(StreamKey(connection_id=connection.id, resource=plan.resource))
            job = PollJob(connection_id=connection.id, resources=(plan.resource,))
            while True:
                try:
                    result = worker.handle(job)
                except StreamBusy:
                    tracker.refresh("busy")  # the scheduled worker polls it now; its progress shows too
                    self.sleep(self.wait_seconds)
                    continue
                except RateBudgetExhausted:
                    tracker.refresh("rate-limited")
                    self.sleep(self.wait_seconds)
                    continue
                outcome.pages += result.pages
                outcome.records += result.records
                outcome.events += result.events
                outcome.duplicates += result.duplicates
                outcome.cursor = result.cursor
                if result.caught_up:
                    outcome.caught_up = True
                    tracker.refresh("caught-up")
                    break
                if stop_requested():
                    outcome.stopped = True
                    tracker.refresh("stopped")
                    break
            outcome.seconds = self.monotonic() - tracker.started
            outcome.total, outcome.done = tracker.progress.total, tracker.progress.done
            if outcome.stopped:
                break
        return outcomes

    def _progress(self, connection: Connection, plan: StreamPlan, index: int, streams: int) -> BackfillProgress:
        cursor = self.admin.state.get_cursor(StreamKey(connection_id=connection.id, resource=plan.resource))
        cursor = cursor or plan.cursor
        return BackfillProgress(
            connection_id=connection.id,
            resource=plan.resource,
            index=index,
            streams=streams,
            origin=cursor.origin,
            position=cursor.position,
            total=cursor.backfill_total,
            done=cursor.backfill_done,
            done_at_start=cursor.backfill_done,
            rate_limit=connection.rate_limit_per_minute,
            now=self.now(),
        )


class _Tracker:
    """Keeps one stream's `BackfillProgress` up to date from its cursor and reports it."""

    def __init__(
        self,
        backfill: Backfill,
        connection: Connection,
        progress: BackfillProgress,
        on_progress: Callable[[BackfillProgress], None],
    ) -> None:
        self.backfill = backfill
        self.connection = connection
        self.progress = progress
        self.on_progress = on_progress
        self.started = backfill.monotonic()
        self._rate_checked = float("-inf")
        self._key = StreamKey(connection_id=connection.id, resource=progress.resource)

    def page_done(self) -> None:
        self.progress.pages += 1
        self.refresh("reading")

    def refresh(self, state: ProgressState) -> None:
        b, p = self.backfill, self.progress
        cursor = b.admin.state.get_cursor(self._key)
        if cursor is not None:
            p.position, p.done, p.total = cursor.position, cursor.backfill_done, cursor.backfill_total
        p.elapsed = b.monotonic() - self.started
        p.now = b.now()
        p.state = state
        if b.rate_usage is not None and b.monotonic() - self._rate_checked >= b.rate_refresh_seconds:
            self._rate_checked = b.monotonic()
            try:
                p.rate_used = b.rate_usage(self.connection)
            except Exception:
                p.rate_used = None
        self.on_progress(p)
