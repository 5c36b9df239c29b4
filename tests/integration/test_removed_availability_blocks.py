"""Availability blocks deleted in Cliniko leave no trace in its list (no `archived_at`, no `deleted_at`): the
reconciliation walk notes every block it sees, and reports those the stream kept but the walk no longer
found, once a GET by id confirms they are gone. Polled over HTTP from the simulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.memory import InMemoryStreamStateStore, RecordingPublisher
from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE, TRIGGERS
from cliniko_connector.errors import PublishError
from cliniko_connector.models import Connection, StreamCursor, StreamKey
from cliniko_connector.usecases.poll import PollResult, StreamPoller
from cliniko_tools.simulator import Simulator
from tests.unit.contract import assert_matches_schema

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONNECTION = Connection(id="clinic", name="Clinic", secret_id="-", shard="au1", triggers=tuple(TRIGGERS))
STREAM = STREAMS_BY_RESOURCE["availability_blocks"]
KEY = StreamKey(connection_id=CONNECTION.id, resource="availability_blocks")


def poll(
    client: ClinikoClient,
    state: InMemoryStreamStateStore,
    bus: RecordingPublisher,
    *,
    reconcile: bool = False,
    connection: Connection = CONNECTION,
    deadline: float = float("inf"),
) -> PollResult:
    poller = StreamPoller(api=client, state=state, publisher=bus, event_source="cliniko", page_size=2)
    result = poller.poll(connection, STREAM, deadline=deadline, reconcile=reconcile)
    while reconcile and result.reconciling:
        result = poller.poll(connection, STREAM, deadline=deadline, reconcile=True)
    return result


@pytest.fixture
def state() -> InMemoryStreamStateStore:
    store = InMemoryStreamStateStore()
    store.put_cursor(KEY, StreamCursor(position=START, origin=START), expected_version=None)
    return store


@pytest.fixture
def blocks(simulator: Simulator) -> list[dict[str, Any]]:
    simulator.clock.set(START + timedelta(minutes=1))
    business = simulator.create("businesses", {"business_name": "Example Physio (fictitious)", "country_code": "AU"})
    practitioner = simulator.create("practitioners", {"first_name": "Sam", "last_name": "Example"})
    made = []
    for day in range(1, 6):
        made.append(
            simulator.create(
                "availability_blocks",
                {
                    "practitioner_id": practitioner["id"],
                    "business_id": business["id"],
                    "starts_at": f"2026-03-{10 + day}T09:00:00Z",
                    "ends_at": f"2026-03-{10 + day}T12:00:00Z",
                },
            )
        )
    return made


def removed(bus: RecordingPublisher) -> list[dict[str, Any]]:
    return [e.detail for e in bus.events if e.detail["trigger"] == "availability_block.removed"]


def test_a_block_deleted_in_cliniko_is_reported_removed_by_the_next_walk_once(
    simulator: Simulator, client: ClinikoClient, state: InMemoryStreamStateStore, blocks: list[dict[str, Any]]
) -> None:
    # Given five blocks the stream has published
    bus = RecordingPublisher()
    poll(client, state, bus)
    assert [e.detail["trigger"] for e in bus.events] == ["availability_block.created"] * 5
    # When staff delete one in Cliniko: it leaves the list without a trace
    gone = blocks[2]
    simulator.purge("availability_blocks", gone["id"])
    assert gone["id"] not in {r["id"] for r in client.iter_records("/availability_blocks")}
    poll(client, state, bus)
    assert removed(bus) == []  # an ordinary poll can't tell

    # Then the reconciliation walk reports it, with its last known times, practitioner and business
    result = poll(client, state, bus, reconcile=True)

    (event,) = removed(bus)
    assert event["id"] == gone["id"]
    assert event["data"] is None
    assert event["previous"] == {
        "starts_at": gone["starts_at"],
        "ends_at": gone["ends_at"],
        "practitioner": gone["practitioner"]["links"]["self"].rsplit("/", 1)[-1],
        "business": gone["business"]["links"]["self"].rsplit("/", 1)[-1],
    }
    assert result.event_counts == {"Availability Block Removed": 1}
    assert_matches_schema("Availability Block Removed", event)
    # And the stream forgets it: the next walk reports nothing again, the other four are still kept
    assert gone["id"] not in state.get_records(KEY, [b["id"] for b in blocks])
    assert len(state.get_records(KEY, [b["id"] for b in blocks])) == 4
    poll(client, state, bus, reconcile=True)
    assert len(removed(bus)) == 1


def test_a_kept_block_the_walk_did_not_list_but_cliniko_still_has_is_not_reported(
    simulator: Simulator, client: ClinikoClient, state: InMemoryStreamStateStore, blocks: list[dict[str, Any]]
) -> None:
    # Given a published block whose `updated_at` went back before the stream's origin: no walk lists it
    bus = RecordingPublisher()
    poll(client, state, bus)
    odd = blocks[0]
    simulator.store.set_fields(
        "availability_blocks", int(odd["id"]), {"updated_at": int((START - timedelta(days=1)).timestamp())}, touch=False
    )
    simulator.requests_clear()

    poll(client, state, bus, reconcile=True)

    # Then it is asked for by id, found, and not reported
    assert removed(bus) == []
    assert [r.path for r in simulator.requests if r.path.startswith("/v1/availability_blocks/")] == [
        f"/v1/availability_blocks/{odd['id']}"
    ]


def test_a_removal_whose_publish_fails_is_reported_by_the_next_walk_under_the_same_key(
    simulator: Simulator, client: ClinikoClient, state: InMemoryStreamStateStore, blocks: list[dict[str, Any]]
) -> None:
    bus = RecordingPublisher()
    poll(client, state, bus)
    simulator.purge("availability_blocks", blocks[4]["id"])
    bus.fail_permanently(True)

    with pytest.raises(PublishError):
        poll(client, state, bus, reconcile=True)

    assert blocks[4]["id"] in state.get_records(KEY, [blocks[4]["id"]])  # kept until its removal is out
    bus.fail_permanently(False)
    poll(client, state, bus, reconcile=True)
    poll(client, state, bus, reconcile=True)
    (event,) = removed(bus)
    assert event["id"] == blocks[4]["id"]
    assert event["event_key"].startswith(f"clinic:availability_blocks:{blocks[4]['id']}:availability_block.removed:")


def test_without_the_removed_trigger_a_walk_writes_no_marks_and_asks_for_nothing_by_id(
    simulator: Simulator, client: ClinikoClient, state: InMemoryStreamStateStore, blocks: list[dict[str, Any]]
) -> None:
    connection = CONNECTION.model_copy(update={"triggers": ("availability_block.created",)})
    bus = RecordingPublisher()
    poll(client, state, bus, connection=connection)
    simulator.purge("availability_blocks", blocks[1]["id"])
    simulator.requests_clear()

    poll(client, state, bus, reconcile=True, connection=connection)

    assert removed(bus) == []
    assert not [r for r in simulator.requests if r.path.startswith("/v1/availability_blocks/")]
    assert all(s.walked is None for s in state.list_records(KEY))


def test_a_failing_check_by_id_leaves_the_walk_done_and_the_block_for_the_next_walk(
    simulator: Simulator, client: ClinikoClient, state: InMemoryStreamStateStore, blocks: list[dict[str, Any]]
) -> None:
    bus = RecordingPublisher()
    poll(client, state, bus)
    gone = blocks[3]["id"]
    simulator.purge("availability_blocks", gone)
    outage = simulator.faults.inject("server_error", count=1000, status=503, paths=[f"/availability_blocks/{gone}"])

    result = poll(client, state, bus, reconcile=True, deadline=time.monotonic() + 2)

    assert result.caught_up and not result.reconciling  # the walk finished
    assert removed(bus) == [] and gone in state.get_records(KEY, [gone])
    outage.remaining = 0
    poll(client, state, bus, reconcile=True)
    assert [e["id"] for e in removed(bus)] == [gone]
