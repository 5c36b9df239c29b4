"""What only the in-memory fakes do: their test controls, and holding their guarantees under threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryRateBudget,
    InMemorySecretStore,
    InMemoryStreamStateStore,
    RecordingPublisher,
)
from cliniko_connector.errors import CursorConflict, PublishError, RateBudgetExhausted
from cliniko_connector.models import Connection, StreamCursor, StreamKey
from tests.unit.adapters.adapter_support import FakeClock, small_event

STREAM = StreamKey(connection_id="acme", resource="patients")
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def run_in_threads(n: int, work: Callable[[], None]) -> None:
    start = threading.Barrier(n)

    def run() -> None:
        start.wait()
        work()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_recording_publisher_records_events_and_calls() -> None:
    publisher = RecordingPublisher()
    events = [small_event(i) for i in range(11)]

    publisher.publish(events)

    assert publisher.events == events
    assert publisher.calls == [10, 1]


def test_fail_next_is_used_up_and_fail_permanently_can_be_switched_off() -> None:
    publisher = RecordingPublisher(max_attempts=1)
    publisher.fail_next(1, code="ThrottlingException")
    with pytest.raises(PublishError) as raised:
        publisher.publish([small_event(1)])
    assert raised.value.error_codes == ["ThrottlingException"]

    publisher.publish([small_event(2)])  # the failure was used up
    publisher.fail_permanently(True)
    with pytest.raises(PublishError):
        publisher.publish([small_event(3)])
    publisher.fail_permanently(False)
    publisher.publish([small_event(4)])

    assert [e.detail["id"] for e in publisher.events] == ["2", "4"]


def test_only_one_of_many_concurrent_cursor_writers_wins() -> None:
    store = InMemoryStreamStateStore()
    store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=None)
    outcomes: list[str] = []

    def write() -> None:
        try:
            store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=1)
            outcomes.append("won")
        except CursorConflict:
            outcomes.append("lost")

    run_in_threads(16, write)

    assert sorted(outcomes) == ["lost"] * 15 + ["won"]
    cursor = store.get_cursor(STREAM)
    assert cursor is not None
    assert cursor.version == 2


def test_only_one_of_many_concurrent_lease_takers_wins() -> None:
    store = InMemoryStreamStateStore()
    winners: list[str] = []

    def take() -> None:
        owner = threading.current_thread().name
        if store.acquire_lease(STREAM, owner, 60):
            winners.append(owner)

    run_in_threads(16, take)

    assert len(winners) == 1


def test_concurrent_acquisitions_never_exceed_the_cap() -> None:
    clock = FakeClock()
    budget = InMemoryRateBudget(limit_per_minute=50, reserved_for_actions=0.0, now=clock.now, monotonic=clock.monotonic)
    refused: list[int] = []

    def acquire_many() -> None:
        for _ in range(10):
            try:
                budget.acquire("k", purpose="poll", deadline=clock.monotonic())
            except RateBudgetExhausted:
                refused.append(1)

    run_in_threads(8, acquire_many)

    assert budget.acquired == 50
    assert len(refused) == 30


def test_connection_store_can_be_seeded() -> None:
    seeded = Connection(id="acme", name="Acme", secret_id="s", shard="au1")

    assert InMemoryConnectionStore([seeded]).list() == [seeded]


def test_secret_store_ids_look_like_arns_and_repr_hides_values() -> None:
    store = InMemorySecretStore()

    secret_id = store.put("acme", "very-secret")

    assert secret_id.startswith("arn:aws:secretsmanager:")
    assert "very-secret" not in repr(store)
