"""Records Cliniko's lists hide by default (archived, cancelled, deleted) stay in their stream: polled over
HTTP from the simulator, their change is published rather than lost when they drop out of the default list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.memory import InMemoryStreamStateStore, RecordingPublisher
from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE, TRIGGERS
from cliniko_connector.models import Connection, StreamCursor, StreamKey
from cliniko_connector.usecases.poll import StreamPoller
from cliniko_tools.simulator import Simulator

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONNECTION = Connection(id="clinic", name="Clinic", secret_id="-", shard="au1", triggers=tuple(TRIGGERS))


def poll(client: ClinikoClient, state: InMemoryStreamStateStore, bus: RecordingPublisher, resource: str) -> None:
    StreamPoller(api=client, state=state, publisher=bus, event_source="cliniko").poll(
        CONNECTION, STREAMS_BY_RESOURCE[resource], deadline=float("inf")
    )


@pytest.fixture
def state() -> InMemoryStreamStateStore:
    store = InMemoryStreamStateStore()
    for resource in STREAMS_BY_RESOURCE:
        key = StreamKey(connection_id=CONNECTION.id, resource=resource)
        store.put_cursor(key, StreamCursor(position=START, origin=START), expected_version=None)
    return store


def triggers(bus: RecordingPublisher) -> list[tuple[str, Any]]:
    return [(e.detail["trigger"], e.detail["changed_fields"]) for e in bus.events]


def test_a_contact_deleted_after_it_was_published_arrives_as_an_update_naming_deleted_at(
    simulator: Simulator, client: ClinikoClient, state: InMemoryStreamStateStore
) -> None:
    simulator.clock.set(START + timedelta(minutes=1))
    contact = simulator.create("contacts", {"first_name": "Dana", "last_name": "Deleted"})
    bus = RecordingPublisher()
    poll(client, state, bus, "contacts")
    simulator.clock.set(START + timedelta(minutes=5))
    simulator.store.set_fields("contacts", int(contact["id"]), {"deleted_at": simulator.clock.now_epoch()})
    assert client.list_page("/contacts").records == []  # gone from the default list

    poll(client, state, bus, "contacts")

    assert triggers(bus) == [("contact.created", None), ("contact.updated", ["deleted_at"])]
