"""Fan-out: one job per connection per tick naming its due streams, at each connection's own interval."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from cliniko_connector.adapters.memory import InMemoryConnectionStore
from cliniko_connector.catalog.triggers import STREAMS, TRIGGERS
from cliniko_connector.models import Connection, ConnectionStatus
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import DispatcherSettings, load_settings
from cliniko_connector.usecases.dispatch import Dispatcher, jobs_due, reconcile_slot

TICK = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def clinic(cid: str, triggers: tuple[str, ...], **kw: object) -> Connection:
    return Connection.model_validate(
        {"id": cid, "name": cid, "secret_id": "s", "shard": "au1", "triggers": triggers, **kw}
    )


def test_a_stream_is_named_once_however_many_of_its_triggers_are_on() -> None:
    jobs = jobs_due([clinic("a", ("patient.created", "patient.updated", "patient.archived"))], TICK, reconcile_period=0)
    assert [(j.connection_id, j.resources) for j in jobs] == [("a", ("patients",))]


def test_every_trigger_on_means_one_job_naming_every_resource_stream() -> None:
    (job,) = jobs_due([clinic("a", tuple(TRIGGERS))], TICK, reconcile_period=0)
    assert len(job.resources) == len(set(job.resources)) == len({t.resource for t in TRIGGERS.values()}) == len(STREAMS)


def test_each_connection_gets_its_own_job() -> None:
    jobs = jobs_due([clinic("a", ("patient.created",)), clinic("b", ("invoice.paid",))], TICK, reconcile_period=0)
    assert [(j.connection_id, j.resources, j.group) for j in jobs] == [
        ("a", ("patients",), "a"),
        ("b", ("invoices",), "b"),
    ]


def test_disabled_connections_and_connections_without_triggers_get_nothing() -> None:
    jobs = jobs_due(
        [clinic("off", ("patient.created",), status=ConnectionStatus.DISABLED), clinic("idle", ())],
        TICK,
        reconcile_period=0,
    )
    assert jobs == []


def test_a_five_minute_interval_is_due_once_every_five_ticks() -> None:
    five = clinic("slow", ("invoice.paid",), poll_interval_seconds=300)
    due = [bool(jobs_due([five], TICK + timedelta(minutes=m), reconcile_period=0)) for m in range(10)]
    assert due.count(True) == 2


def test_fast_mode_connections_get_a_job_every_tick() -> None:
    fast = clinic("fast", ("patient.created",), poll_interval_seconds=10)
    assert all(jobs_due([fast], TICK + timedelta(minutes=m), reconcile_period=0) for m in range(5))


def test_each_stream_reconciles_once_a_day_in_its_own_slot() -> None:
    connections = [clinic(f"c{i}", ("patient.created", "invoice.paid")) for i in range(50)]
    reconciles: Counter[tuple[str, str]] = Counter()
    minutes_used = set()
    for minute in range(24 * 60):
        for job in jobs_due(connections, TICK + timedelta(minutes=minute)):
            for resource in job.reconcile:
                assert resource in job.resources  # a walk goes on only after the stream's poll
                reconciles[(job.connection_id, resource)] += 1
                minutes_used.add(minute)
    assert len(reconciles) == 100
    assert set(reconciles.values()) == {1}
    assert len(minutes_used) > 50  # spread over the day, not all at once
    assert reconcile_slot("c1", "patients", 86400, 60) == reconcile_slot("c1", "patients", 86400, 60)


def test_a_job_is_deduplicated_per_connection_and_tick() -> None:
    (job,) = jobs_due([clinic("a", ("patient.created",))], TICK, reconcile_period=0)
    (again,) = jobs_due([clinic("a", ("patient.created",))], TICK + timedelta(seconds=30), reconcile_period=0)
    (later,) = jobs_due([clinic("a", ("patient.created",))], TICK + timedelta(seconds=60), reconcile_period=0)
    assert job.dedupe_id == again.dedupe_id != later.dedupe_id
    assert job.group == "a"
    rest = job.model_copy(update={"part": 1})  # what a job out of time leaves: not taken for the job itself
    assert rest.dedupe_id != job.dedupe_id


def test_a_single_stream_job_can_still_be_read() -> None:
    old = PollJob.model_validate_json('{"connection_id": "a", "resource": "patients", "tick": 60, "reconcile": true}')
    assert (old.resources, old.reconcile, old.group) == (("patients",), ("patients",), "a")


class Queue:
    def __init__(self) -> None:
        self.jobs: list[PollJob] = []

    def enqueue(self, jobs: list[PollJob]) -> None:
        self.jobs += jobs


def reconciling_over_a_day(period_seconds: int) -> Counter[str]:
    queue = Queue()
    dispatcher = Dispatcher(
        InMemoryConnectionStore([clinic("a", tuple(TRIGGERS))]), queue, reconcile_period_seconds=period_seconds
    )
    for minute in range(24 * 60):
        dispatcher.dispatch(TICK + timedelta(minutes=minute))
    return Counter(resource for job in queue.jobs for resource in job.reconcile)


def test_the_stack_sets_how_often_streams_reconcile_and_zero_turns_it_off() -> None:
    assert set(reconciling_over_a_day(6 * 3600).values()) == {4}
    assert reconciling_over_a_day(0) == Counter()


def test_the_dispatcher_reads_its_reconcile_period_in_hours_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("RECONCILE_EVERY_HOURS", "6")
    settings = load_settings(
        DispatcherSettings,
        cliniko_contact_email="ops@example.com",
        connections_table="c",
        state_table="s",
        event_bus_name="b",
        poll_queue_url="https://sqs.example/q",
    )
    assert settings.reconcile_every_hours == 6
