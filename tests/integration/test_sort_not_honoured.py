"""The poller trusts no order Cliniko did not promise: against a simulator that ignores `sort` (strict), a page
out of order does not move the stream; it is reported (`ClinikoSortNotHonoured` on the cursor, for `status`)
and its window is read again without relying on order, so every change is still published, once."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.memory import InMemoryConnectionStore, InMemoryStreamStateStore, RecordingPublisher
from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE
from cliniko_connector.models import Connection, StreamCursor, StreamKey
from cliniko_connector.usecases import poll as poll_module
from cliniko_connector.usecases.poll import PollResult, StreamPoller
from cliniko_connector.usecases.status import StatusReader
from cliniko_tools.simulator import Simulator, SimulatorBehaviour
from tests.integration.conftest import API_KEY, USER_AGENT

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONNECTION = Connection(
    id="clinic", name="Clinic", secret_id="-", shard="au1", triggers=("patient.created", "patient.updated")
)
KEY = StreamKey(connection_id=CONNECTION.id, resource="patients")


@dataclass
class Run:
    sim: Simulator
    state: InMemoryStreamStateStore
    bus: RecordingPublisher
    poller: StreamPoller

    def poll(self) -> PollResult:
        return self.poller.poll(CONNECTION, STREAMS_BY_RESOURCE["patients"], deadline=float("inf"))

    def published(self, trigger: str) -> Counter[str]:
        return Counter(str(e.detail["id"]) for e in self.bus.events if e.detail["trigger"] == trigger)

    def cursor(self) -> StreamCursor:
        cursor = self.state.get_cursor(KEY)
        assert cursor is not None
        return cursor


def start(behaviour: SimulatorBehaviour, page_size: int) -> Iterator[Run]:
    with Simulator(api_keys=[API_KEY], behaviour=behaviour) as sim:
        sim.start()
        sim.clock.set(START)
        client = ClinikoClient(API_KEY, user_agent=USER_AGENT, base_url=sim.base_url, timeout=2.0, max_backoff=0.2)
        state = InMemoryStreamStateStore()
        state.put_cursor(KEY, StreamCursor(position=START, origin=START), expected_version=None)
        bus = RecordingPublisher()
        poller = StreamPoller(api=client, state=state, publisher=bus, event_source="cliniko", page_size=page_size)
        yield Run(sim, state, bus, poller)


@pytest.fixture(params=[True, False], ids=["sort-honoured", "sort-ignored"])
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    yield from start(SimulatorBehaviour(honour_sort=request.param), page_size=5)


def make_patients(sim: Simulator, n: int) -> list[str]:
    ids = []
    for index in range(n):
        sim.clock.advance(1)
        ids.append(str(sim.create("patients", {"first_name": f"P{index}", "last_name": "Sorted"})["id"]))
    return ids


def edit(sim: Simulator, ids: list[str], *, seconds_apart: int) -> None:
    for rid in ids:
        sim.clock.advance(seconds_apart)
        sim.update("patients", rid, {"notes": f"edited {rid}"})


def test_changes_listed_out_of_the_order_asked_for_are_each_published_once(run: Run) -> None:
    ids = make_patients(run.sim, 30)
    run.poll()
    run.sim.clock.advance(600)
    edit(run.sim, list(reversed(ids)), seconds_apart=1)  # updated order: the reverse of created order

    result = run.poll()

    assert run.published("patient.created") == Counter(ids)
    assert run.published("patient.updated") == Counter(ids)
    assert result.caught_up
    last_edit = START + timedelta(seconds=30 + 600 + 30)
    # Read unordered, a window ends a second after the last change it shows: nothing before it is unread.
    assert last_edit <= run.cursor().position <= last_edit + timedelta(seconds=1)
    honoured = run.sim.behaviour.honour_sort
    assert (run.cursor().sort_not_honoured_at is None) == honoured


def test_a_page_in_order_by_chance_that_skipped_changes_is_caught_by_the_next_page_total(run: Run) -> None:
    ids = make_patients(run.sim, 10)
    run.poll()
    run.sim.clock.advance(600)
    # Changed in this order, the first five created (the first page when `sort` is ignored) look in order,
    # though the five changed before them come first.
    edit(run.sim, ids[5:] + ids[:5], seconds_apart=1)

    run.poll()

    assert run.published("patient.updated") == Counter(ids)
    assert (run.cursor().sort_not_honoured_at is None) == run.sim.behaviour.honour_sort


def test_a_crowded_second_listed_out_of_order_is_read_in_parts_by_id(run: Run) -> None:
    ids = make_patients(run.sim, 45)
    run.poll()
    run.sim.clock.advance(600)
    shuffled = list(ids)
    random.Random(7).shuffle(shuffled)
    edit(run.sim, shuffled[:40], seconds_apart=0)  # 40 changes inside one second: eight pages of five

    run.poll()
    run.sim.clock.advance(1)
    run.sim.update("patients", ids[0], {"notes": "once more"})
    run.poll()

    updated = run.published("patient.updated")
    assert updated == Counter(shuffled[:40]) + Counter([ids[0]])


def test_a_window_too_large_for_a_few_pages_is_narrowed_in_time_and_still_complete() -> None:
    for run in start(SimulatorBehaviour(honour_sort=False), page_size=2):  # windows of at most 40 records
        ids = make_patients(run.sim, 60)
        run.poll()
        run.sim.clock.advance(600)
        shuffled = list(ids)
        random.Random(11).shuffle(shuffled)
        edit(run.sim, shuffled, seconds_apart=3)

        result = run.poll()

        assert run.published("patient.created") == Counter(ids)
        assert run.published("patient.updated") == Counter(ids)
        assert result.caught_up


def test_status_shows_that_cliniko_did_not_honour_sort_and_a_metric_counts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted: list[tuple[str, float, dict[str, str]]] = []
    monkeypatch.setattr(
        poll_module,
        "count",
        lambda name, value=1, dims=None: counted.append((name, value, dims)),
    )
    for run in start(SimulatorBehaviour.strict(), page_size=5):
        ids = make_patients(run.sim, 8)
        run.poll()
        run.sim.clock.advance(600)
        edit(run.sim, list(reversed(ids)), seconds_apart=2)
        run.poll()

        connections = InMemoryConnectionStore()
        connections.put(CONNECTION)
        (report,) = StatusReader(connections, run.state, now=lambda: START + timedelta(hours=1)).report()
        (stream,) = report.to_dict()["streams"]
        assert stream["sort_not_honoured_at"] is not None
        assert stream["last_error"] is None  # the poll itself went well
        dims = {"connection": "clinic", "resource": "patients"}
        assert ("ClinikoSortNotHonoured", 1, dims) in counted
