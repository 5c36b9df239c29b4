"""The use-cases behind `status` and `backfill`, and the poll worker's bookkeeping, on in-memory fakes."""

from __future__ import annotations

import copy
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
from cliniko_connector.errors import ClinikoServerError, ClinikoUnauthorized, StreamBusy
from cliniko_connector.models import Connection, StartPoint, StreamCursor, StreamKey
from cliniko_connector.ports import PollJob, StreamStats
from cliniko_connector.settings import PollerSettings
from cliniko_connector.usecases import poll_worker as worker_module
from cliniko_connector.usecases.backfill import Backfill, BackfillProgress
from cliniko_connector.usecases.connections import ConnectionAdmin
from cliniko_connector.usecases.poll import describe_error
from cliniko_connector.usecases.status import StatusReader, StreamStatus, lag_seconds
from cliniko_connector.wiring import PollWorker, Runtime
from tests.leases import release_lease, take_lease
from tests.unit.fakes import FakeCliniko

NOW = datetime(2026, 1, 5, 9, 45, 0, tzinfo=UTC)
KEY = StreamKey(connection_id="clinic", resource="patients")


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def patient(n: int, updated: datetime) -> dict[str, Any]:
    return {
        "id": str(1000 + n),
        "first_name": f"P{n}",
        "last_name": "T",
        "archived_at": None,
        "created_at": ts(updated),
        "updated_at": ts(updated),
    }


class World:
    """A runtime of fakes around a FakeCliniko, and a poll worker on it."""

    def __init__(self) -> None:
        self.cliniko = FakeCliniko()
        self.state = InMemoryStreamStateStore()
        self.connections = InMemoryConnectionStore()
        self.secrets = InMemorySecretStore()
        self.bus = RecordingPublisher()
        secret = self.secrets.put("clinic", "key-au1")
        self.connections.put(Connection(id="clinic", name="Clinic", secret_id=secret, shard="au1", hash_salt="s"))
        settings = PollerSettings(
            connections_table="c",
            state_table="s",
            event_bus_name="b",
            cliniko_contact_email="a@b.co",
            poll_page_size=10,
        )
        self.runtime = Runtime(
            settings=settings,
            connections=self.connections,
            state=self.state,
            publisher=self.bus,
            secrets=self.secrets,
            rate_budget=InMemoryRateBudget(),
        )
        self.runtime.api_for = lambda connection, purpose="poll": self.cliniko  # type: ignore[method-assign]
        self.worker = PollWorker(self.runtime, settings)
        self.admin = ConnectionAdmin(self.connections, self.secrets, self.state, lambda key, url: self.cliniko)

    def enable(self, *triggers: str, start: StartPoint | None = None) -> None:
        self.admin.enable_triggers("clinic", list(triggers), start)


@pytest.fixture
def world() -> World:
    return World()


# -- status ---------------------------------------------------------------------------------------


def test_lag_counts_from_the_later_of_cursor_and_last_catch_up() -> None:
    position = NOW - timedelta(hours=3)  # a quiet stream: its last change is old…
    assert lag_seconds(position, None, NOW) == 3 * 3600
    assert lag_seconds(position, NOW - timedelta(seconds=40), NOW) == 40  # …but it caught up 40 s ago
    assert lag_seconds(NOW + timedelta(seconds=5), None, NOW) == 0


def test_events_of_the_last_hour_are_estimated_from_two_hourly_counters() -> None:
    hour = int(NOW.timestamp()) // 3600 * 3600  # NOW is 45 minutes into its hour
    stats = StreamStats(events_by_hour={hour: 10, hour - 3600: 40, hour - 7200: 1000, hour - 30 * 3600: 5})
    s = StreamStatus(resource="patients", triggers=(), cursor=None, stats=stats, now=NOW)
    assert s.events_last_hour == 10 + 10  # a quarter of the previous hour is inside the window
    assert s.events_last_24h == 1050
    assert s.lag_seconds is None


def test_errors_keep_type_and_message_of_our_own_errors_and_only_the_type_of_others() -> None:
    assert describe_error(ClinikoServerError("GET /v1/patients: Cliniko answered 502")) == (
        "ClinikoServerError: GET /v1/patients: Cliniko answered 502"
    )
    assert describe_error(KeyError("Ada Lovelace")) == "KeyError"  # could be a record's value

    class ClientError(Exception):
        operation_name = "PutItem"
        response = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "details"}}

    assert describe_error(ClientError("x")) == "ClientError: PutItem ProvisionedThroughputExceededException"
    assert len(describe_error(ClinikoServerError("x" * 1000))) == 300


def test_status_reads_cursor_counters_and_rate_budget_per_enabled_stream(world: World) -> None:
    world.enable("patient.created", "patient.updated", "individual_appointment.created")
    world.state.record_events(KEY, int(NOW.timestamp()) // 3600 * 3600, 7)
    reader = StatusReader(world.connections, world.state, rate_usage=lambda c: 12, now=lambda: NOW)
    (report,) = reader.report()
    data = report.to_dict()
    assert data["rate_budget"] == {
        "used_in_window": 12,
        "cap_in_window": 200,
        "window_seconds": 60,
        "limit_per_minute": 200,
        "note": None,
    }
    assert [s["resource"] for s in data["streams"]] == ["patients", "individual_appointments"]
    patients = data["streams"][0]
    assert patients["triggers"] == ["patient.created", "patient.updated"]
    assert patients["events_last_hour"] == 7 and patients["last_error"] is None


# -- the poll worker's bookkeeping --------------------------------------------------------------------


def test_a_failed_poll_leaves_its_error_on_the_cursor_counts_it_and_re_raises(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[tuple[str, float, dict[str, str]]] = []
    monkeypatch.setattr(
        worker_module,
        "count",
        lambda name, value=1, dimensions=None: counted.append((name, value, dict(dimensions or {}))),
    )
    world.enable("patient.created")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ClinikoUnauthorized("GET /v1/patients: the API key was refused", status=401)

    world.cliniko.list_page = refuse  # type: ignore[method-assign]
    with pytest.raises(ClinikoUnauthorized):
        world.worker.handle(PollJob(connection_id="clinic", resource="patients"))
    cursor = world.state.get_cursor(KEY)
    assert cursor is not None and cursor.last_error is not None
    assert cursor.last_error.startswith("ClinikoUnauthorized: GET /v1/patients: the API key was refused (at ")
    assert ("ClinikoAuthFailures", 1, {"connection": "clinic"}) in counted


def test_a_busy_stream_is_not_a_failure(world: World) -> None:
    world.enable("patient.created")
    assert take_lease(world.state, KEY, "another-worker", 600)
    with pytest.raises(StreamBusy):
        world.worker.handle(PollJob(connection_id="clinic", resource="patients"))
    cursor = world.state.get_cursor(KEY)
    assert cursor is not None and cursor.last_error is None


def test_a_poll_that_catches_up_records_when_and_clears_the_last_error(world: World) -> None:
    world.enable("patient.created")
    cursor = world.state.get_cursor(KEY)
    assert cursor is not None
    world.state.put_cursor(KEY, cursor.model_copy(update={"last_error": "ClinikoServerError: x"}), expected_version=1)
    world.worker.handle(PollJob(connection_id="clinic", resource="patients"))
    after = world.state.get_cursor(KEY)
    assert after is not None and after.last_error is None  # an idle poll clears it too
    assert world.state.get_stats(KEY, 0).caught_up_at is not None


def test_published_events_are_counted_per_hour(world: World) -> None:
    world.enable("patient.created")
    start = world.state.get_cursor(KEY).position  # type: ignore[union-attr]
    for n in range(3):
        world.cliniko.put("patients", patient(n, start + timedelta(seconds=n)))
    world.worker.handle(PollJob(connection_id="clinic", resource="patients"))
    assert sum(world.state.get_stats(KEY, 0).events_by_hour.values()) == 3


# -- backfill -------------------------------------------------------------------------------------


def history(world: World, n: int, at: datetime) -> None:
    for i in range(n):
        world.cliniko.put("patients", patient(i, at + timedelta(seconds=i)))


def test_backfill_counts_moves_back_polls_to_the_end_and_reports_progress(world: World) -> None:
    history(world, 35, datetime(2025, 6, 1, tzinfo=UTC))
    world.enable("patient.created")  # from now: none of the history
    backfill = Backfill(world.admin, world.worker, rate_usage=lambda c: 3)
    (plan,) = backfill.prepare("clinic", ["patient.created"], StartPoint(kind="beginning"), restart=False)
    assert (plan.action, plan.cursor.backfill_total, plan.cursor.backfill_done) == ("start", 35, 0)
    seen: list[BackfillProgress] = []
    (outcome,) = backfill.run("clinic", [plan], on_progress=lambda p: seen.append(copy.copy(p)))
    assert outcome.caught_up and outcome.events == 35 == len(world.bus.events)
    reading = [p.done for p in seen if p.state == "reading"]
    assert len(reading) == outcome.pages == 4  # one report per checkpointed page
    assert reading == sorted(reading) and reading[-1] == 35
    assert seen[-1].state == "caught-up" and seen[-1].fraction == 1.0 and seen[-1].rate_used == 3


def test_counting_a_stream_costs_no_request_its_first_page_is_the_polls_first_page(world: World) -> None:
    history(world, 35, datetime(2025, 6, 1, tzinfo=UTC))
    world.enable("patient.created")
    backfill = Backfill(world.admin, world.worker)
    plans = backfill.prepare("clinic", ["patient.created"], StartPoint(kind="beginning"), restart=False)
    assert len(world.cliniko.requests) == 1 and plans[0].cursor.backfill_total == 35
    (outcome,) = backfill.run("clinic", plans)
    assert outcome.caught_up and outcome.events == 35 and outcome.pages == 4
    assert len(world.cliniko.requests) == outcome.pages  # the count was the first of them
    assert len({str(params) for _, params in world.cliniko.requests}) == 4


def test_a_first_page_older_than_a_polls_time_budget_is_asked_for_again(world: World) -> None:
    history(world, 35, datetime(2025, 6, 1, tzinfo=UTC))
    clock = [1000.0]
    backfill = Backfill(world.admin, world.worker, monotonic=lambda: clock[0])
    plans = backfill.prepare("clinic", ["patient.created"], StartPoint(kind="beginning"), restart=False)
    clock[0] += world.worker.settings.poll_time_budget_seconds + 1
    (outcome,) = backfill.run("clinic", plans)
    assert outcome.caught_up and outcome.events == 35
    assert len(world.cliniko.requests) == outcome.pages + 1
    assert world.cliniko.requests[0] == world.cliniko.requests[1]  # the same page, asked for again when due


def test_a_stopped_backfill_resumes_where_it_was_and_restart_starts_over(world: World) -> None:
    history(world, 35, datetime(2025, 6, 1, tzinfo=UTC))
    backfill = Backfill(world.admin, world.worker)
    start = StartPoint(kind="beginning")
    plans = backfill.prepare("clinic", ["patient.created"], start, restart=False)
    (stopped,) = backfill.run("clinic", plans, time_limit=0)
    # One page, and the next page's total only, to confirm the first held every record before the second's start
    assert stopped.stopped and not stopped.caught_up and stopped.pages == 2 and stopped.done == 10

    (plan,) = backfill.prepare("clinic", ["patient.created"], start, restart=False)
    assert plan.action == "resume" and plan.cursor.backfill_total == 35 and plan.cursor.backfill_done == 10
    (resumed,) = backfill.run("clinic", [plan])
    assert resumed.caught_up and resumed.done == 35
    assert len({e.detail["event_key"] for e in world.bus.events}) == len(world.bus.events) == 35

    (again,) = backfill.prepare("clinic", ["patient.created"], start, restart=True)
    assert again.action == "restart" and again.cursor.backfill_done == 0
    backfill.run("clinic", [again])
    assert len(world.bus.events) == 70  # everything again, with the same event keys
    assert len({e.detail["event_key"] for e in world.bus.events}) == 35


def test_backfill_waits_while_another_worker_holds_the_stream(world: World) -> None:
    history(world, 5, datetime(2025, 6, 1, tzinfo=UTC))
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        release_lease(world.state, KEY, "scheduled-worker")

    backfill = Backfill(world.admin, world.worker, sleep=sleep)
    plans = backfill.prepare("clinic", ["patient.created"], StartPoint(kind="beginning"), restart=False)
    take_lease(world.state, KEY, "scheduled-worker", 600)
    states: list[str] = []
    (outcome,) = backfill.run("clinic", plans, on_progress=lambda p: states.append(p.state))
    assert outcome.caught_up and sleeps == [2.0] and states[0] == "busy"


def test_a_refused_key_stops_the_backfill_before_any_stream_moves(world: World) -> None:
    world.enable("patient.created")
    before = world.state.get_cursor(KEY)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ClinikoUnauthorized("GET /v1/patients: the API key was refused", status=401)

    world.cliniko.list_page = refuse  # type: ignore[method-assign]
    with pytest.raises(ClinikoUnauthorized):
        Backfill(world.admin, world.worker).prepare(
            "clinic", ["patient.created"], StartPoint(kind="beginning"), restart=False
        )
    assert world.state.get_cursor(KEY) == before


def test_progress_estimates_time_left_from_this_runs_speed() -> None:
    p = BackfillProgress(
        connection_id="c",
        resource="patients",
        index=1,
        streams=1,
        origin=NOW,
        position=NOW,
        total=1000,
        done=400,
        done_at_start=100,
        elapsed=30.0,
    )
    assert p.fraction == 0.4 and p.eta_seconds == 60.0
    unknown = BackfillProgress(
        connection_id="c",
        resource="patients",
        index=1,
        streams=1,
        origin=NOW - timedelta(hours=10),
        position=NOW - timedelta(hours=5),
        total=None,
        done=0,
        done_at_start=0,
        now=NOW,
    )
    assert unknown.fraction == 0.5 and unknown.eta_seconds is None


def test_stream_cursor_without_a_backfill_has_none(world: World) -> None:
    world.enable("patient.created")
    cursor = world.state.get_cursor(KEY)
    assert isinstance(cursor, StreamCursor) and cursor.backfill_total is None


def test_every_poll_reports_requests_sent_and_stream_lag(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from cliniko_connector.usecases import poll_worker

    counted: list[tuple[str, float, dict[str, str]]] = []
    lags: list[tuple[str, float, dict[str, str]]] = []
    monkeypatch.setattr(
        poll_worker,
        "count",
        lambda name, value=1, dimensions=None: counted.append((name, value, dict(dimensions or {}))),
    )
    monkeypatch.setattr(
        worker_module, "seconds_metric", lambda name, value, dims: lags.append((name, value, dict(dims)))
    )
    world.enable("patient.created")
    real_list_page = world.cliniko.list_page
    world.cliniko.requests_sent = 0  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        world.cliniko.requests_sent += 1  # type: ignore[attr-defined]
        return real_list_page(*args, **kwargs)

    world.cliniko.list_page = counting  # type: ignore[method-assign]
    world.worker.handle(PollJob(connection_id="clinic", resource="patients"))
    assert counted == [("ClinikoRequests", 1, {"connection": "clinic"})]
    assert lags == [("StreamLagSeconds", 0, {"connection": "clinic", "resource": "patients"})]  # caught up
