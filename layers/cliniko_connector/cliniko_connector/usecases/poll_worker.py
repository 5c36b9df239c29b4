"""The poll worker: one job is one connection's due streams, polled by one invocation, a few at once.

A job reads the connection once, the streams' cursors in one read, and counts the job's first requests in
the key's rate budget in one go; each idle stream then costs one Cliniko request and one conditional cursor
write (see `StreamPoller`). A stream that fails or is busy does not hold back the others: its error is kept
on its cursor for `status`, and the job is retried soon only if a failure is transient.

An idle job mostly waits on Cliniko, and Lambda bills the wait, so up to `poll_stream_concurrency` streams
are polled at once on threads of the invocation. Nothing about a stream changes with that: each stream is
still polled by one thread at a time, with the same cursor, lease and conditional writes, and every request
goes through the key's rate budget (which is shared with other workers and thread-safe), so the poll reserve
of each window and what a 429 blocks hold whatever the number of threads.

Also here: the worker's own metrics after each poll (`after_poll`, `after_poll_failure`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE, ResourceStream
from cliniko_connector.errors import (
    ClinikoForbidden,
    ClinikoUnauthorized,
    ConnectionDisabled,
    ConnectorError,
    StreamBusy,
    UntrustedBaseUrl,
)
from cliniko_connector.models import Connection, StreamCursor, StreamKey
from cliniko_connector.observability import count, logger, seconds_metric
from cliniko_connector.ports import (
    ClinikoApi,
    ConnectionStore,
    EventPublisher,
    JobQueue,
    JobRetry,
    PollJob,
    RateBudget,
    StreamStateStore,
)
from cliniko_connector.settings import PollerSettings
from cliniko_connector.timeutil import parse_ts, to_z, utc_now
from cliniko_connector.usecases.poll import UNREAD, PollResult, StreamPoller, describe_error
from cliniko_connector.usecases.status import lag_seconds


class WorkerRuntime(Protocol):
    """What the worker needs of the composition root (`wiring.Runtime`)."""

    connections: ConnectionStore
    state: StreamStateStore
    publisher: EventPublisher
    rate_budget: RateBudget

    def api_for(self, connection: Connection, purpose: str = "poll") -> ClinikoApi: ...


@dataclass
class _Job:
    """One job's streams as it goes: each stream's results so far, and the ones out of this job."""

    connection_id: str
    streams: list[ResourceStream]
    results: dict[str, PollResult] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    # Streams whose first poll had less than the whole job's time, and the walks the job still has to make.
    cut_short: set[str] = field(default_factory=set)
    to_walk: set[str] = field(default_factory=set)
    # Streams are polled on several threads; each stream by one at a time, but the dicts are the job's.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def active(self) -> list[ResourceStream]:
        """The streams polled in this job and still in it (not failed, not busy)."""
        return [s for s in self.streams if s.resource in self.results and s.resource not in self.failures]

    def add(self, resource: str, result: PollResult, *, caught_up: bool | None = None) -> PollResult:
        with self.lock:
            before = self.results.get(resource)
            merged = result if before is None else before.followed_by(result, caught_up=caught_up)
            self.results[resource] = merged
            return merged


@dataclass
class PollWorker:
    """Runs poll jobs: loads the connection, builds its client, polls each of the job's streams in turn.

    Each stream first gets a fair share of the job's time; streams still behind then go on with what is left.
    A fast-mode connection (interval under a minute) has all its streams polled every interval until the
    job's minute is used up. Reconciliation (a stream the job names in `reconcile`, or a walk still under
    way) goes on only once the stream is caught up, and only for part of the minute or between a fast-mode
    connection's polls: the connection's next job waits behind this one in its FIFO group, so a long walk
    must not hold back fresh changes. Streams the job had no time for at all go to a job of their own
    (`continuation`), which runs right after this one."""

    runtime: WorkerRuntime
    settings: PollerSettings
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    schedule_seconds: int = 60
    reconcile_share: float = 0.75
    continuation: JobQueue | None = None
    # Threads polling a job's streams, made when first needed and kept across warm invocations.
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _pool_width: int = field(default=0, init=False, repr=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def handle(self, job: PollJob, *, time_budget_seconds: float | None = None) -> PollResult:
        """The job's result (a single stream's own, or the streams' summed). Raises the first transient
        failure of a stream (the job is retried soon), or, when no stream was polled, the first failure or
        `StreamBusy`."""
        connection = self.runtime.connections.get(job.connection_id)
        if not connection.enabled:
            raise ConnectionDisabled(f"connection {connection.id} is disabled")
        unknown = [r for r in job.resources if r not in STREAMS_BY_RESOURCE]
        if unknown:
            raise ConnectorError(f"no stream for resource {unknown[0]!r}")
        streams = [STREAMS_BY_RESOURCE[r] for r in dict.fromkeys(job.resources)]
        started = self.monotonic()
        deadline = started + min(self.settings.poll_time_budget_seconds, time_budget_seconds or float("inf"))
        keys = [StreamKey(connection_id=connection.id, resource=s.resource) for s in streams]
        try:
            poller = self._poller(connection)
        except UntrustedBaseUrl as refused:
            for key in keys:  # `status` shows why they stopped
                after_poll_failure(self.runtime.state, key, refused, utc_now(), keep_error=True)
            raise
        # Eventually consistent, at half the read units: the last write to a cursor was a job ago, and every
        # write a poll makes is conditional on the version it read (a publish only after one), so a stale
        # cursor can only make its stream busy for this job, never publish twice or move it back.
        cursors: dict[StreamKey, StreamCursor] = self.runtime.state.get_cursors(keys, consistent=False)
        self._prepay(poller.api, len(streams))
        run = _Job(connection.id, streams)
        with self._counted(poller.api, connection):
            left = self._first_round(run, poller, connection, cursors, deadline)
            self._walk_and_repeat(run, job, poller, connection, started, deadline)
        if left:
            self._carry_on(job, left)
        logger.info(
            "job polled",
            extra={
                "connection_id": connection.id,
                "streams": len(run.results),
                "records": sum(r.records for r in run.results.values()),
                "events": sum(r.events for r in run.results.values()),
                "failed": sorted(run.failures),
                "busy": sorted(run.busy),
                "left": [s.resource for s in left],
            },
        )
        return self._outcome(run)

    # -- the rounds -------------------------------------------------------------------------------

    def _first_round(
        self,
        run: _Job,
        poller: StreamPoller,
        connection: Connection,
        cursors: dict[StreamKey, StreamCursor],
        deadline: float,
    ) -> list[ResourceStream]:
        """Every stream once, each with a fair share of the time left; then the streams still behind with
        all of it. Returns the streams there was no time for.

        A stream's share is the time left over the streams not yet started, times the number that run at once
        (with one at a time: the time left over the streams left)."""
        total = len(run.streams)
        width = self._width(total)
        order = itertools.count()  # the order streams start in (next() is atomic)
        left: list[ResourceStream] = []

        def first(stream: ResourceStream) -> None:
            index = next(order)
            now = self.monotonic()
            if now >= deadline and index > 0:
                with run.lock:
                    left.append(stream)
                return
            remaining = total - index
            share = (deadline - now) * min(width, remaining) / remaining
            if index < total - 1:
                with run.lock:
                    run.cut_short.add(stream.resource)
            key = StreamKey(connection_id=connection.id, resource=stream.resource)
            self._poll(run, poller, connection, stream, deadline=now + share, cursor=cursors.get(key))

        self._each(first, run.streams, width)
        if left:
            return sorted(left, key=run.streams.index)

        def behind(stream: ResourceStream) -> None:
            if self.monotonic() < deadline:
                self._poll(run, poller, connection, stream, deadline=deadline)

        self._each(
            behind,
            [s for s in run.active() if s.resource in run.cut_short and not run.results[s.resource].caught_up],
            width,
        )
        return []

    def _width(self, streams: int) -> int:
        return max(1, min(self.settings.poll_stream_concurrency, streams))

    def _each(self, step: Callable[[ResourceStream], None], streams: Sequence[ResourceStream], width: int) -> None:
        """`step` for each stream: in turn on this thread, or on `width` threads at once (each stream on one).
        A step never raises but to stop the invocation (`_guarded` keeps a stream's failure), and that
        goes on up from here once every step has ended."""
        if width <= 1 or len(streams) <= 1:
            for stream in streams:
                step(stream)
            return
        with self._pool_lock:
            if self._pool is None or self._pool_width < width:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)  # idle between jobs: its threads end as they are
                self._pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="poll-stream")
                self._pool_width = width
            pool = self._pool
        # At most `width` at once even when the pool is wider (a later job with fewer streams).
        slots = threading.BoundedSemaphore(width)

        def bounded(stream: ResourceStream) -> None:
            with slots:
                step(stream)

        for _ in pool.map(bounded, streams):
            pass

    def _walk_and_repeat(
        self, run: _Job, job: PollJob, poller: StreamPoller, connection: Connection, started: float, deadline: float
    ) -> None:
        run.to_walk = set(job.reconcile)

        def walkers() -> list[ResourceStream]:
            return [
                s
                for s in run.active()
                if (s.resource in run.to_walk or run.results[s.resource].reconciling)
                and run.results[s.resource].caught_up
            ]

        for stream in run.active():
            result = run.results[stream.resource]
            if stream.resource in job.reconcile and not result.caught_up and not result.reconciling:
                self._guarded(run, stream, lambda s=stream: poller.begin_reconcile(connection, s))  # type: ignore[misc]
                result.reconciling = True  # still behind: the walk waits for it to catch up
        interval = connection.poll_interval_seconds
        if interval < self.schedule_seconds and any(r.caught_up for r in run.results.values()):
            # Fast mode: stop before the connection's next job could be waiting on us.
            stop_at = min(deadline, started + self.schedule_seconds - interval / 2)
            next_at = started + interval
            while next_at < stop_at and run.active():
                for stream in walkers():
                    self._poll(run, poller, connection, stream, deadline=next_at, reconcile=True)
                self.sleep(max(0.0, next_at - self.monotonic()))
                self._each(
                    lambda s: self._poll(run, poller, connection, s, deadline=deadline),
                    run.active(),
                    self._width(len(run.streams)),
                )
                next_at += interval
        else:
            walk_until = min(deadline, started + self.schedule_seconds * self.reconcile_share)
            for stream in walkers():
                if self.monotonic() >= walk_until:
                    break
                self._poll(run, poller, connection, stream, deadline=walk_until, reconcile=True)

    def _poll(
        self,
        run: _Job,
        poller: StreamPoller,
        connection: Connection,
        stream: ResourceStream,
        *,
        deadline: float,
        reconcile: bool = False,
        cursor: StreamCursor | None = UNREAD,
    ) -> None:
        def once() -> None:
            result = poller.poll(connection, stream, deadline=deadline, reconcile=reconcile, cursor=cursor)
            before = run.results.get(stream.resource)
            # A walk says nothing about whether the stream is caught up: its polls do.
            merged = run.add(stream.resource, result, caught_up=before.caught_up if reconcile and before else None)
            if reconcile:
                with run.lock:
                    run.to_walk.discard(stream.resource)  # what is left of the walk shows as `reconciling`
            key = StreamKey(connection_id=connection.id, resource=stream.resource)
            after_poll(key, caught_up=merged.caught_up, cursor=merged.cursor, now=utc_now())

        self._guarded(run, stream, once)

    def _guarded(self, run: _Job, stream: ResourceStream, step: Callable[[], None]) -> None:
        """Run one stream's step; a failure takes the stream out of this job, not the job."""
        key = StreamKey(connection_id=run.connection_id, resource=stream.resource)
        try:
            step()
        except StreamBusy:
            logger.info("stream already being polled; skipping it this tick", extra={"stream": str(key)})
            with run.lock:
                run.busy.add(stream.resource)
        except Exception as exc:
            with run.lock:
                run.failures[stream.resource] = exc
            logger.warning(
                "stream poll failed",
                extra={"stream": str(key), "error": type(exc).__name__, "retryable": _retryable(exc)},
            )
            after_poll_failure(self.runtime.state, key, exc, utc_now())

    # -- the job's end ----------------------------------------------------------------------------

    def _outcome(self, run: _Job) -> PollResult:
        transient = [e for e in run.failures.values() if _retryable(e)]
        if transient:
            raise transient[0]
        if not run.results:
            if run.failures:
                raise next(iter(run.failures.values()))
            raise StreamBusy(f"every stream of the job is being polled by another worker: {sorted(run.busy)}")
        if len(run.streams) == 1:
            return run.results[run.streams[0].resource]
        first, *others = run.results.values()
        total = first
        for result in others:
            total = total.followed_by(result, caught_up=total.caught_up and result.caught_up)
        total.stream, total.by_stream = run.connection_id, dict(run.results)
        return total

    def _carry_on(self, job: PollJob, left: Sequence[ResourceStream]) -> None:
        resources = tuple(s.resource for s in left)
        rest = PollJob(
            connection_id=job.connection_id,
            resources=resources,
            reconcile=tuple(r for r in job.reconcile if r in resources),
            tick=job.tick,
            part=job.part + 1,
        )
        logger.info("job out of time; the rest goes on in a job of its own", extra={"streams": list(resources)})
        if self.continuation is not None:
            self.continuation.enqueue([rest])

    # -- the connection's client ------------------------------------------------------------------

    def _prepay(self, api: ClinikoApi, streams: int) -> None:
        """One rate-budget write for the job's first request of every stream, rather than one per request."""
        key_id = getattr(api, "rate_key_id", None)
        if key_id is not None:
            self.runtime.rate_budget.prepay(key_id, streams)

    @contextmanager
    def _counted(self, api: ClinikoApi, connection: Connection) -> Iterator[None]:
        sent_before = getattr(api, "requests_sent", 0)
        limited_before = getattr(api, "rate_limited", 0)
        try:
            yield
        finally:
            sent = getattr(api, "requests_sent", 0) - sent_before
            if sent:
                count("ClinikoRequests", sent, {"connection": connection.id})
            limited = getattr(api, "rate_limited", 0) - limited_before
            if limited:
                count("ClinikoRateLimited", limited, {"connection": connection.id})

    def _poller(self, connection: Connection) -> StreamPoller:
        return StreamPoller(
            api=self.runtime.api_for(connection, "poll"),
            state=self.runtime.state,
            publisher=self.runtime.publisher,
            event_source=self.settings.event_source,
            overlap=timedelta(seconds=self.settings.poll_overlap_seconds),
            page_size=self.settings.poll_page_size,
            lease_seconds=self.settings.lease_seconds,
            payload_mode=self.settings.default_payload_mode,
            idle_heartbeat=timedelta(seconds=self.settings.poll_idle_heartbeat_seconds),
            monotonic=self.monotonic,  # the clock this worker's deadlines are on
        )


@dataclass
class QueuedPollWorker:
    """The poll worker behind the FIFO PollQueue. A job that failed for a transient reason (a retryable
    error: Cliniko 5xx, timeouts or 429s, the rate budget, PutEvents, a cursor conflict) is made visible again
    after `retry_delay_seconds` instead of the queue's visibility timeout, which would hold the connection's
    message group, and so every later job of the connection, for half an hour. Other failures keep the long
    timeout: retrying a revoked key or a bug every few seconds would only fill the DLQ sooner."""

    worker: PollWorker
    retries: JobRetry
    retry_delay_seconds: int

    def handle(self, job: PollJob, receipt_handle: str, *, time_budget_seconds: float | None = None) -> PollResult:
        try:
            return self.worker.handle(job, time_budget_seconds=time_budget_seconds)
        except ConnectorError as exc:
            if exc.retryable:
                self._retry_soon(receipt_handle, exc)
            raise

    def _retry_soon(self, receipt_handle: str, cause: ConnectorError) -> None:
        try:
            self.retries.retry_after(receipt_handle, self.retry_delay_seconds)
        except Exception as exc:  # the job still comes back, after the visibility timeout
            logger.warning("could not schedule the poll job's early retry", extra={"error": type(exc).__name__})
            return
        logger.info(
            "poll job will be retried",
            extra={"error": cause.error_type, "retry_in_seconds": self.retry_delay_seconds},
        )


# -- the worker's bookkeeping ----------------------------------------------------------------------


def after_poll(key: StreamKey, *, caught_up: bool, cursor: str | None, now: datetime) -> None:
    """A poll ended normally: report its lag (when it caught up is on the cursor, written by the poll)."""
    if cursor is not None:
        lag = 0 if caught_up else lag_seconds(parse_ts(cursor), None, now)
        seconds_metric("StreamLagSeconds", lag, {"connection": key.connection_id, "resource": key.resource})


def after_poll_failure(
    state: StreamStateStore, key: StreamKey, exc: BaseException, now: datetime, *, keep_error: bool = False
) -> None:
    """A poll raised: count auth failures, report lag, and with `keep_error` keep the error on the cursor for
    `status` (a poll that ran did that itself, releasing its lease in the same write)."""
    if isinstance(exc, ClinikoUnauthorized | ClinikoForbidden):
        count("ClinikoAuthFailures", 1, {"connection": key.connection_id})
    try:
        cursor = state.get_cursor(key)
        if cursor is None:
            return
        if keep_error:
            message = f"{describe_error(exc)} (at {to_z(now)})"
            cursor = state.put_cursor(
                key, cursor.model_copy(update={"last_error": message}), expected_version=cursor.version
            )
        lag = lag_seconds(cursor.position, cursor.caught_up_at, now)
        seconds_metric("StreamLagSeconds", lag, {"connection": key.connection_id, "resource": key.resource})
    except Exception:
        logger.warning("poll failure not recorded", extra={"stream": str(key)})


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ConnectorError) and exc.retryable
