"""What only the in-memory fakes do: their test controls, and holding their guarantees under threads."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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


ROUNDS = 30  # rounds of a race run without the fake's lock, to show the race is real


def run_in_threads(n: int, work: Callable[[], None]) -> None:
    """`work` in `n` threads released together, the interpreter switching threads every microsecond so that
    their calls interleave rather than run one after another."""
    start = threading.Barrier(n)

    def run() -> None:
        start.wait()
        work()

    threads = [threading.Thread(target=run) for _ in range(n)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)


class NoLock:
    """Stands in for a fake's lock to show that a test's threads really race: without it, they break the rule."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def unlocked[T](fake: T) -> T:
    fake._lock = NoLock()  # type: ignore[attr-defined]
    return fake


class YieldingDict[K, V](dict[K, V]):
    """A dict that hands the interpreter to other threads on every lookup: a lease's check-and-take is a few
    bytecodes, which threads hardly ever interrupt on their own, so without this they would not really race."""

    def get(self, key: K, default: Any = None) -> Any:
        value = super().get(key, default)
        time.sleep(0.005)  # between the read and the write that follows it; longer than a barrier's wake-up
        return value


class YieldingWindows(dict[tuple[str, int], dict[str, int]]):
    """The budget's windows, each of whose counters is a `YieldingDict`."""

    def setdefault(self, key: tuple[str, int], default: dict[str, int] | None = None) -> dict[str, int]:
        return super().setdefault(key, YieldingDict())


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


def race_cursor_writers(store: InMemoryStreamStateStore) -> list[str]:
    store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=None)
    outcomes: list[str] = []

    def write() -> None:
        try:
            store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=1)
            outcomes.append("won")
        except CursorConflict:
            outcomes.append("lost")

    run_in_threads(16, write)
    return outcomes


def test_only_one_of_many_concurrent_cursor_writers_wins() -> None:
    store = InMemoryStreamStateStore()

    outcomes = race_cursor_writers(store)

    assert sorted(outcomes) == ["lost"] * 15 + ["won"]
    cursor = store.get_cursor(STREAM)
    assert cursor is not None
    assert cursor.version == 2
    # The same threads against the store without its lock: more than one wins, so they really overlap.
    assert any(race_cursor_writers(unlocked(InMemoryStreamStateStore())).count("won") > 1 for _ in range(ROUNDS))


def race_lease_takers(store: InMemoryStreamStateStore) -> list[str]:
    """16 pollers that read the same cursor each take its lease with a conditional write of it."""
    read = store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=None)
    winners: list[str] = []

    def take() -> None:
        owner = threading.current_thread().name
        try:
            store.put_cursor(STREAM, read, expected_version=read.version, owner=owner, lease_seconds=60)
        except CursorConflict:
            return
        winners.append(owner)

    run_in_threads(16, take)
    return winners


def store_with_yielding_cursors() -> InMemoryStreamStateStore:
    store = InMemoryStreamStateStore()
    store.cursors = YieldingDict()
    return store


def test_only_one_of_many_concurrent_lease_takers_wins() -> None:
    store = store_with_yielding_cursors()
    (winner,) = race_lease_takers(store)
    cursor = store.get_cursor(STREAM)
    assert cursor is not None and store.leased_by(cursor) == winner
    # Without the store's lock more than one takes it: the takers really overlap.
    assert any(len(race_lease_takers(unlocked(store_with_yielding_cursors()))) > 1 for _ in range(5))


def race_acquisitions(budget: InMemoryRateBudget, clock: FakeClock) -> int:
    """8 threads asking 10 requests each of a budget of 50: how many were refused."""
    refused: list[int] = []

    def acquire_many() -> None:
        for _ in range(10):
            try:
                budget.acquire("k", purpose="poll", deadline=clock.monotonic())
            except RateBudgetExhausted:
                refused.append(1)

    run_in_threads(8, acquire_many)
    return len(refused)


def new_budget(clock: FakeClock) -> InMemoryRateBudget:
    budget = InMemoryRateBudget(limit_per_minute=50, reserved_for_actions=0.0, now=clock.now, monotonic=clock.monotonic)
    budget.windows = YieldingWindows()  # a count's read-then-write would hardly ever be interrupted otherwise
    return budget


def test_concurrent_acquisitions_never_exceed_the_cap() -> None:
    clock = FakeClock()
    budget = new_budget(clock)

    refused = race_acquisitions(budget, clock)

    assert budget.acquired == 50
    assert refused == 30
    # Without the budget's lock the same threads overrun it: they really overlap.
    assert any(race_acquisitions(unlocked(new_budget(clock)), clock) < 30 for _ in range(5))


def test_connection_store_can_be_seeded() -> None:
    seeded = Connection(id="acme", name="Acme", secret_id="s", shard="au1")

    assert InMemoryConnectionStore([seeded]).list() == [seeded]


def test_secret_store_ids_look_like_arns_and_repr_hides_values() -> None:
    store = InMemorySecretStore()

    secret_id = store.put("acme", "very-secret")

    assert secret_id.startswith("arn:aws:secretsmanager:")
    assert "very-secret" not in repr(store)
