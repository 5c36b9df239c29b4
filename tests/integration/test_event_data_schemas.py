"""What the poller publishes from Cliniko (the simulator, over HTTP) validates against the typed `data` schema of
its resource, archived, cancelled and paid records included: the schemas consumers bind code to are right."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.memory import InMemoryStreamStateStore, RecordingPublisher
from cliniko_connector.catalog.triggers import STREAMS, TRIGGERS
from cliniko_connector.models import Connection, StreamCursor, StreamKey
from cliniko_connector.usecases.poll import StreamPoller
from cliniko_tools.devtools import resource_data
from cliniko_tools.simulator import Simulator
from tests.integration.actions.conftest import seed
from tests.unit.contract import assert_matches_schema

pytestmark = pytest.mark.integration

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def test_every_published_record_matches_its_resource_data_schema(simulator: Simulator, client: ClinikoClient) -> None:
    ids = seed(simulator)
    simulator.archive("patients", ids["patients"])
    simulator.archive("unavailable_blocks", ids["unavailable_blocks"])
    simulator.cancel("individual_appointments", ids["individual_appointments"], reason=40, note="Away")
    simulator.pay_invoice(ids["invoices"])
    connection = Connection(id="clinic", name="Clinic", secret_id="-", shard="au1", triggers=tuple(TRIGGERS))
    state, bus = InMemoryStreamStateStore(), RecordingPublisher()
    for stream in STREAMS:
        key = StreamKey(connection_id="clinic", resource=stream.resource)
        state.put_cursor(key, StreamCursor(position=ORIGIN, origin=ORIGIN), expected_version=None)
        StreamPoller(api=client, state=state, publisher=bus, event_source="cliniko").poll(
            connection, stream, deadline=float("inf")
        )

    assert {e.detail["resource"] for e in bus.events} == {s.resource for s in STREAMS}
    for event in bus.events:
        detail = event.detail
        Draft202012Validator(resource_data.data_schema(detail["resource"])).validate(detail["data"])
        assert_matches_schema(event.detail_type, detail)
