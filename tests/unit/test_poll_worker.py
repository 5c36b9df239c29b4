"""The poll worker: a job becomes one poll, or in fast mode a poll every few seconds within the minute."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryRateBudget,
    InMemorySecretStore,
    InMemoryStreamStateStore,
    RecordingPublisher,
)
from cliniko_connector.errors import (
    ClinikoServerError,
    ClinikoTimeout,
    ClinikoUnauthorized,
    ConfigurationError,
    ConnectionDisabled,
    RateBudgetExhausted,
    StreamBusy,
)
from cliniko_connector.models import Connection, ConnectionStatus, StreamCursor, StreamKey
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import PollerSettings, PollWorkerSettings, load_settings
from cliniko_connector.wiring import PollWorker, QueuedPollWorker, Runtime
from cliniko_tools.devtools.template import POLL_QUEUE_VISIBILITY_SECONDS
from tests.leases import take_lease
from tests.unit.fakes import FakeCliniko


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def cliniko() -> FakeCliniko:
    return FakeCliniko()


REQUIRED_SETTINGS: dict[str, Any] = {
    "cliniko_contact_email": "ops@example.com",
    "connections_table": "t",
    "state_table": "s",
    "event_bus_name": "b",
}


def worker(cliniko: FakeCliniko, clock: Clock, *, concurrency: int = 1, **connection: Any) -> PollWorker:
    """A worker on a fake clock: one stream at a time unless `concurrency` says otherwise, so the order of
    requests, and the time each takes on the fake clock, is the order the job names its streams."""
    conn = Connection.model_validate(
        {"id": "c", "name": "c", "secret_id": "s", "shard": "au1", "triggers": ("patient.created",), **connection}
    )
    settings = PollerSettings(**REQUIRED_SETTINGS, poll_stream_concurrency=concurrency)
    runtime = Runtime(
        settings=settings,
        connections=InMemoryConnectionStore([conn]),
        state=InMemoryStreamStateStore(),
        publisher=RecordingPublisher(),
        secrets=InMemorySecretStore(),
        rate_budget=InMemoryRateBudget(),
    )
    runtime.api_for = lambda connection, purpose="poll": cliniko  # type: ignore[method-assign]
    return PollWorker(runtime, settings, monotonic=clock.monotonic, sleep=clock.sleep)


def test_a_normal_connection_is_polled_once_per_job(cliniko: FakeCliniko) -> None:
    clock = Clock()
    worker(cliniko, clock).handle(PollJob(connection_id="c", resource="patients"))
    assert len(cliniko.requests) == 1
    assert clock.sleeps == []


def test_fast_mode_polls_every_interval_until_the_minute_is_used(cliniko: FakeCliniko) -> None:
    clock = Clock()
    result = worker(cliniko, clock, poll_interval_seconds=10).handle(PollJob(connection_id="c", resource="patients"))
    assert len(cliniko.requests) == 6  # at 0, 10, 20, 30, 40, 50 s
    assert result.pages == 6
    assert clock.now < 60


def test_a_disabled_connection_is_not_polled(cliniko: FakeCliniko) -> None:
    clock = Clock()
    with pytest.raises(ConnectionDisabled):
        worker(cliniko, clock, status=ConnectionStatus.DISABLED).handle(PollJob(connection_id="c", resource="patients"))
    assert cliniko.requests == []


ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
KEY = StreamKey(connection_id="c", resource="patients")


def with_patients(cliniko: FakeCliniko, w: PollWorker, n: int) -> None:
    """`n` patients, all published, and the stream well past them."""
    for i in range(n):
        ts = (ORIGIN + timedelta(seconds=10 + i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cliniko.put("patients", {"id": str(1000 + i), "created_at": ts, "updated_at": ts, "archived_at": None})
    later = (ORIGIN + timedelta(seconds=10_000)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cliniko.put("patients", {"id": "999999", "created_at": later, "updated_at": later, "archived_at": None})
    w.runtime.state.put_cursor(KEY, StreamCursor(position=ORIGIN, origin=ORIGIN), expected_version=None)
    w.handle(PollJob(connection_id="c", resource="patients"))
    cliniko.requests.clear()


def lower_bounds(cliniko: FakeCliniko) -> list[str]:
    return [v for _, params in cliniko.requests for k, v in params if k == "q[]" and v.startswith("updated_at:>=")]


def test_a_reconcile_job_polls_first_then_walks_the_whole_stream(cliniko: FakeCliniko) -> None:
    clock = Clock()
    w = worker(cliniko, clock)
    with_patients(cliniko, w, 3)
    result = w.handle(PollJob(connection_id="c", resource="patients", reconcile=True))
    bounds = lower_bounds(cliniko)
    assert bounds[0] != bounds[1] == "updated_at:>=2026-01-01T00:00:00Z"  # the regular poll, then from the origin
    assert result.caught_up and not result.reconciling
    assert w.runtime.state.get_cursor(KEY).reconciled_at is not None  # type: ignore[union-attr]


def test_a_walk_too_long_for_its_share_of_the_minute_goes_on_in_the_next_regular_job(cliniko: FakeCliniko) -> None:
    # Given 500 patients and Cliniko answering each request in 10 s
    clock = Clock()
    w = worker(cliniko, clock)
    with_patients(cliniko, w, 500)

    def slow(_: int) -> None:
        clock.now += 10

    cliniko.before_request = slow
    # When the day's reconcile job runs, its walk stops within 45 s of the job's start
    first = w.handle(PollJob(connection_id="c", resource="patients", reconcile=True))
    assert first.reconciling and first.caught_up
    assert clock.now <= 45 + 10
    walked = len(cliniko.requests) - 1
    resume_at = w.runtime.state.get_cursor(KEY).reconcile_from  # type: ignore[union-attr]
    assert resume_at is not None and resume_at > ORIGIN
    # Then the next minute's regular job polls, then takes the walk on from where it stopped
    cliniko.requests.clear()
    clock.now = 60.0
    w.handle(PollJob(connection_id="c", resource="patients", tick=1))
    assert lower_bounds(cliniko)[1] == f"updated_at:>={resume_at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    # And the two jobs together walked the stream once (6 pages for 500 records, keyset-overlapping by one)
    second = w.handle(PollJob(connection_id="c", resource="patients", tick=2))
    assert not second.reconciling
    assert walked + len(lower_bounds(cliniko)) - 2 <= 7


def test_fast_mode_walks_between_its_polls(cliniko: FakeCliniko) -> None:
    clock = Clock()
    w = worker(cliniko, clock, poll_interval_seconds=10)
    with_patients(cliniko, w, 3)
    started = clock.now
    result = w.handle(PollJob(connection_id="c", resource="patients", reconcile=True))
    assert not result.reconciling
    assert w.runtime.state.get_cursor(KEY).reconciled_at is not None  # type: ignore[union-attr]
    assert clock.now - started < 60
    assert len(cliniko.requests) == 6 + 1  # the six polls of the minute, the walk's one page after the first


def test_a_reconcile_job_for_a_stream_still_behind_starts_the_walk_for_when_it_has_caught_up(
    cliniko: FakeCliniko,
) -> None:
    # Given 500 patients not yet polled, and Cliniko answering each request in 10 s
    clock = Clock()
    w = worker(cliniko, clock)
    with_patients(cliniko, w, 0)
    for i in range(500):
        ts = (ORIGIN + timedelta(seconds=20_000 + i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cliniko.put("patients", {"id": str(5000 + i), "created_at": ts, "updated_at": ts, "archived_at": None})

    def slow(_: int) -> None:
        clock.now += 10

    cliniko.before_request = slow
    # When the day's reconcile job has time only for part of the backlog
    first = w.handle(PollJob(connection_id="c", resource="patients", reconcile=True), time_budget_seconds=15)
    # Then the walk is marked to start from the origin
    assert not first.caught_up and first.reconciling
    assert w.runtime.state.get_cursor(KEY).reconcile_from == ORIGIN  # type: ignore[union-attr]
    # And the regular jobs that catch up go on with it to the end
    cliniko.before_request = lambda _: None
    later = w.handle(PollJob(connection_id="c", resource="patients", tick=1))
    assert later.caught_up and not later.reconciling
    assert w.runtime.state.get_cursor(KEY).reconciled_at is not None  # type: ignore[union-attr]


# -- a failed job's retry ---------------------------------------------------------------------------


class RecordingRetry:
    """`ports.JobRetry` that records each early retry asked for, or fails to schedule it."""

    def __init__(self, fail: bool = False) -> None:
        self.asked: list[tuple[str, int]] = []
        self.fail = fail

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        self.asked.append((receipt_handle, seconds))
        if self.fail:
            raise ConnectionError("SQS unreachable")


def queued(cliniko: FakeCliniko, retry: RecordingRetry, delay: int = 20) -> QueuedPollWorker:
    return QueuedPollWorker(worker(cliniko, Clock()), retry, retry_delay_seconds=delay)


def failing_with(cliniko: FakeCliniko, error: Exception) -> None:
    def fail(_: int) -> None:
        raise error

    cliniko.before_request = fail


@pytest.mark.parametrize(
    "error",
    [
        ClinikoServerError("Cliniko answered 503", status=503),
        ClinikoTimeout("Cliniko did not answer in time"),
        RateBudgetExhausted("no poll request budget left for this API key before the deadline"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_job_that_failed_for_a_transient_reason_comes_back_after_the_retry_delay(
    cliniko: FakeCliniko, error: Exception
) -> None:
    retry = RecordingRetry()
    failing_with(cliniko, error)

    with pytest.raises(type(error)):
        queued(cliniko, retry).handle(PollJob(connection_id="c", resource="patients"), "receipt-1")

    assert retry.asked == [("receipt-1", 20)]


def test_a_job_that_failed_for_good_keeps_the_queues_visibility_timeout(cliniko: FakeCliniko) -> None:
    retry = RecordingRetry()
    failing_with(cliniko, ClinikoUnauthorized("Cliniko refused the API key", status=401))

    with pytest.raises(ClinikoUnauthorized):
        queued(cliniko, retry).handle(PollJob(connection_id="c", resource="patients"), "receipt-1")

    assert retry.asked == []


def test_a_job_that_succeeded_is_not_retried(cliniko: FakeCliniko) -> None:
    retry = RecordingRetry()

    queued(cliniko, retry).handle(PollJob(connection_id="c", resource="patients"), "receipt-1")

    assert retry.asked == []
    assert len(cliniko.requests) == 1


def test_a_retry_that_cannot_be_scheduled_still_fails_the_job_with_its_own_error(cliniko: FakeCliniko) -> None:
    retry = RecordingRetry(fail=True)
    failing_with(cliniko, ClinikoServerError("Cliniko answered 500", status=500))

    with pytest.raises(ClinikoServerError):
        queued(cliniko, retry).handle(PollJob(connection_id="c", resource="patients"), "receipt-1")

    assert retry.asked == [("receipt-1", 20)]


def test_the_deployed_retry_delay_is_under_a_minute_and_the_queue_timeout_is_not() -> None:
    # The worker's default delay, the most it may be configured to, and the queue's timeout it replaces.
    required = {**REQUIRED_SETTINGS, "poll_queue_url": "https://sqs.example/q.fifo"}
    assert PollWorkerSettings(**required).poll_retry_delay_seconds == 20
    assert POLL_QUEUE_VISIBILITY_SECONDS == 1800
    with pytest.raises(ConfigurationError, match="POLL_RETRY_DELAY_SECONDS"):
        load_settings(PollWorkerSettings, **required, poll_retry_delay_seconds=61)


# -- one job, a connection's streams ----------------------------------------------------------------

STREAMS = ("patients", "medical_alerts", "invoices")
EVERY = ("patient.created", "medical_alert.created", "invoice.paid")


class CountingState(InMemoryStreamStateStore):
    """The in-memory store, counting the calls a DynamoDB store would make."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def get_cursor(self, stream: StreamKey) -> StreamCursor | None:
        self.calls["get_cursor"] += 1
        return super().get_cursor(stream)

    def get_cursors(self, streams: Any, **kw: Any) -> dict[StreamKey, StreamCursor]:
        self.calls["get_cursors"] += 1
        return super().get_cursors(streams, **kw)

    def put_cursor(self, stream: StreamKey, cursor: StreamCursor, **kw: Any) -> StreamCursor:
        self.calls["put_cursor" + ("_leased" if kw.get("lease_seconds") else "")] += 1
        return super().put_cursor(stream, cursor, **kw)


class Queue:
    def __init__(self) -> None:
        self.jobs: list[PollJob] = []

    def enqueue(self, jobs: Any) -> None:
        self.jobs += jobs


def connection_worker(cliniko: FakeCliniko, clock: Clock, concurrency: int = 1) -> PollWorker:
    w = worker(cliniko, clock, concurrency=concurrency, triggers=EVERY)
    w.runtime.state = CountingState()
    w.continuation = Queue()
    for resource in STREAMS:
        w.runtime.state.put_cursor(
            StreamKey(connection_id="c", resource=resource),
            StreamCursor(position=ORIGIN, origin=ORIGIN),
            expected_version=None,
        )
    return w


def failing_for(cliniko: FakeCliniko, resource: str, error: Exception) -> None:
    listed = cliniko.list_page

    def list_page(path: str, **kw: Any) -> Any:
        if path == f"/{resource}":
            raise error
        return listed(path, **kw)

    cliniko.list_page = list_page  # type: ignore[method-assign]


def test_an_idle_stream_of_a_job_is_one_request_and_one_cursor_write(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock())
    state: Any = w.runtime.state
    state.calls.clear()

    result = w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert sorted(result.by_stream) == sorted(STREAMS) and result.caught_up
    assert [path for path, _ in cliniko.requests] == [f"/{r}" for r in STREAMS]
    # The cursors in one read, each written once, no lease taken: nothing to publish.
    assert state.calls == {"get_cursors": 1, "put_cursor": 3}
    assert all(state.get_cursor(StreamKey(connection_id="c", resource=r)).caught_up_at for r in STREAMS)


def test_an_idle_job_soon_after_another_reads_the_cursors_and_writes_none(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock())
    w.handle(PollJob(connection_id="c", resources=STREAMS))  # caught up: each cursor says when
    state: Any = w.runtime.state
    state.calls.clear()

    result = w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert result.caught_up and len(cliniko.requests) == 2 * len(STREAMS)
    # Within the heartbeat (`poll_idle_heartbeat_seconds`) an idle stream has nothing to write.
    assert w.settings.poll_idle_heartbeat_seconds > 60
    assert state.calls == {"get_cursors": 1}


def test_a_stream_with_changes_takes_the_lease_with_its_cursor_and_lets_it_go_with_the_last_write(
    cliniko: FakeCliniko,
) -> None:
    w = connection_worker(cliniko, Clock())
    state: Any = w.runtime.state
    ts = (ORIGIN + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cliniko.put("patients", {"id": "1", "created_at": ts, "updated_at": ts, "archived_at": None})
    state.calls.clear()

    result = w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert result.events == 1
    assert state.calls == {"get_cursors": 1, "put_cursor_leased": 1, "put_cursor": 3}
    cursor = state.get_cursor(KEY)
    assert cursor.lease_owner is None and cursor.events_published == 1


def test_a_failing_stream_does_not_hold_back_the_others_and_keeps_its_error(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock())

    failing_for(cliniko, "medical_alerts", ClinikoUnauthorized("Cliniko refused the API key", status=401))
    result = w.handle(PollJob(connection_id="c", resources=STREAMS))  # a permanent failure of one: not retried

    assert sorted(result.by_stream) == ["invoices", "patients"]
    assert "ClinikoUnauthorized" in (
        w.runtime.state.get_cursor(StreamKey(connection_id="c", resource="medical_alerts")).last_error or ""
    )


def test_a_transient_failure_of_one_stream_retries_the_job_after_the_others_were_polled(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock())
    failing_for(cliniko, "patients", ClinikoServerError("Cliniko answered 503", status=503))

    with pytest.raises(ClinikoServerError):
        w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert [path for path, _ in cliniko.requests] == ["/medical_alerts", "/invoices"]


def test_a_busy_stream_is_skipped_and_the_rest_polled(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock())
    assert take_lease(w.runtime.state, KEY, "another-worker", 600)

    result = w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert sorted(result.by_stream) == ["invoices", "medical_alerts"]
    assert "/patients" not in [path for path, _ in cliniko.requests]  # busy is known from the cursor read


def test_a_job_whose_every_stream_is_busy_is_stream_busy(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock())
    assert take_lease(w.runtime.state, KEY, "another-worker", 600)

    with pytest.raises(StreamBusy):
        w.handle(PollJob(connection_id="c", resource="patients"))


def test_streams_a_job_had_no_time_for_go_on_in_a_job_of_their_own(cliniko: FakeCliniko) -> None:
    clock = Clock()
    w = connection_worker(cliniko, clock)

    def slow(_: int) -> None:
        clock.now += 40

    cliniko.before_request = slow
    job = PollJob(connection_id="c", resources=STREAMS, reconcile=("invoices",), tick=600)
    result = w.handle(job, time_budget_seconds=60)

    assert list(result.by_stream) == ["patients", "medical_alerts"]
    (rest,) = w.continuation.jobs  # type: ignore[union-attr]
    assert (rest.resources, rest.reconcile, rest.tick, rest.part) == (("invoices",), ("invoices",), 600, 1)
    assert rest.dedupe_id != job.dedupe_id and rest.group == job.group


def test_a_job_counts_its_first_requests_in_the_rate_budget_at_once(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock())
    budget = InMemoryRateBudget()
    w.runtime.rate_budget = budget
    cliniko.rate_key_id = "key"  # type: ignore[attr-defined]

    w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert budget.acquired == 3  # one per stream, counted in one go
    for _ in range(3):  # what the job's client then asks for (this fake client asks nothing) is already counted
        budget.acquire("key", purpose="poll", deadline=float("inf"))
    assert budget.acquired == 3
    budget.acquire("key", purpose="poll", deadline=float("inf"))
    assert budget.acquired == 4


# -- streams polled at once ---------------------------------------------------------------------------


def test_the_streams_of_a_job_are_polled_at_once_each_by_one_thread(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock(), concurrency=len(STREAMS))
    state: Any = w.runtime.state
    state.calls.clear()
    # Every request waits until the job's three are in flight together: one after another, this would break.
    together = threading.Barrier(len(STREAMS), timeout=30)
    threads: set[str] = set()

    def wait_for_the_others(_: int) -> None:
        threads.add(threading.current_thread().name)
        together.wait()

    cliniko.before_request = wait_for_the_others
    result = w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert sorted(result.by_stream) == sorted(STREAMS) and result.caught_up
    assert sorted(path for path, _ in cliniko.requests) == sorted(f"/{r}" for r in STREAMS)
    assert len(threads) == len(STREAMS)
    # The same reads and writes as one stream at a time: cursors in one read, each written once, no lease.
    assert state.calls == {"get_cursors": 1, "put_cursor": 3}


def test_at_most_the_configured_number_of_streams_are_polled_at_once(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock(), concurrency=2)
    in_flight, most, started = 0, 0, 0
    lock = threading.Lock()
    two_started = threading.Barrier(2, timeout=30)
    listed = cliniko.list_page

    def list_page(path: str, **kw: Any) -> Any:
        nonlocal in_flight, most, started
        with lock:
            in_flight += 1
            started += 1
            most = max(most, in_flight)
            first_two = started <= 2
        if first_two:
            two_started.wait()  # the first two overlap for sure, so a third would have room to join them
        try:
            return listed(path, **kw)
        finally:
            with lock:
                in_flight -= 1

    cliniko.list_page = list_page  # type: ignore[method-assign]
    result = w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert sorted(result.by_stream) == sorted(STREAMS)
    assert most == 2


def test_streams_polled_at_once_keep_their_failures_apart(cliniko: FakeCliniko) -> None:
    w = connection_worker(cliniko, Clock(), concurrency=len(STREAMS))
    failing_for(cliniko, "patients", ClinikoServerError("Cliniko answered 503", status=503))

    with pytest.raises(ClinikoServerError):  # transient: the job comes back, after the others were polled
        w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert sorted(path for path, _ in cliniko.requests) == ["/invoices", "/medical_alerts"]
    state = w.runtime.state
    assert "ClinikoServerError" in (state.get_cursor(KEY).last_error or "")
    for resource in ("invoices", "medical_alerts"):
        cursor = state.get_cursor(StreamKey(connection_id="c", resource=resource))
        assert cursor is not None and cursor.last_error is None and cursor.caught_up_at is not None


def test_a_stream_with_changes_polled_beside_others_publishes_once_and_releases_its_lease(
    cliniko: FakeCliniko,
) -> None:
    w = connection_worker(cliniko, Clock(), concurrency=len(STREAMS))
    ts = (ORIGIN + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cliniko.put("patients", {"id": "1", "created_at": ts, "updated_at": ts, "archived_at": None})

    first = w.handle(PollJob(connection_id="c", resources=STREAMS))
    again = w.handle(PollJob(connection_id="c", resources=STREAMS))

    assert (first.events, again.events) == (1, 0)
    published: Any = w.runtime.publisher
    assert len(published.events) == 1
    cursor = w.runtime.state.get_cursor(KEY)
    assert cursor is not None and cursor.lease_owner is None and cursor.events_published == 1


def test_the_deployed_worker_polls_a_few_streams_at_once() -> None:
    settings = PollerSettings(**REQUIRED_SETTINGS)
    assert 1 < settings.poll_stream_concurrency <= 16  # the HTTP session's pool holds 16 connections
