"""The poll worker: a job becomes one poll, or in fast mode a poll every few seconds within the minute."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryRateBudget,
    InMemorySecretStore,
    InMemoryStreamStateStore,
    RecordingPublisher,
)
from cliniko_connector.errors import ConnectionDisabled
from cliniko_connector.models import Connection, ConnectionStatus
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import PollerSettings
from cliniko_connector.wiring import PollWorker, Runtime
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


def worker(cliniko: FakeCliniko, clock: Clock, **connection: Any) -> PollWorker:
    conn = Connection.model_validate(
        {"id": "c", "name": "c", "secret_id": "s", "shard": "au1", "triggers": ("patient.created",), **connection}
    )
    settings = PollerSettings(
        cliniko_contact_email="ops@example.com", connections_table="t", state_table="s", event_bus_name="b"
    )
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
