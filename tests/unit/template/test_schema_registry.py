"""The schema registry in template.yaml describes exactly the events the code publishes and accepts.

The registry schemas are generated from the event models (`events_doc.all_schemas()`); these tests fail when
the committed template drifts from the models, and when what the poller and the action runner actually put
on the bus stops validating against the registered schema of its detail-type.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from cliniko_connector.adapters.memory import InMemoryStreamStateStore, RecordingPublisher
from cliniko_connector.catalog.triggers import STREAMS, TRIGGERS
from cliniko_connector.eventmodels import (
    ACTION_FAILED,
    ACTION_REQUESTED,
    ACTION_SUCCEEDED,
    SCHEDULED_ACTION_DROPPED,
    SCHEDULED_ACTION_DUE,
    SCHEDULED_ACTION_MOVED,
    ActionOutcomeDetail,
)
from cliniko_connector.models import BusEvent, Connection, PayloadMode, StreamCursor, StreamKey
from cliniko_connector.usecases.poll import StreamPoller
from cliniko_tools.devtools.events_doc import all_schemas
from cliniko_tools.devtools.template import DRAFT4, schema_content, schema_id, schema_name
from tests.unit.fakes import FakeCliniko

# Generating every schema takes ~0.4 s; done once per module (it was run per parametrized case and per sample at
# collection time, over a minute per xdist worker). The tests only read it.
SCHEMAS = all_schemas()

ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)


def registry_schemas(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """detail-type → the registry schema's properties, from template.yaml."""
    found = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::EventSchemas::Schema":
            props = resource["Properties"]
            found[json.loads(props["Content"])["title"]] = props
    return found


def validator(resources: dict[str, Any], detail_type: str) -> Draft4Validator:
    return Draft4Validator(json.loads(registry_schemas(resources)[detail_type]["Content"]))


def as_eventbridge_event(event: BusEvent) -> dict[str, Any]:
    """What EventBridge delivers for a PutEvents entry."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.detail_type,
        "source": event.source,
        "account": "123456789012",
        "time": "2026-11-26T09:30:00Z",
        "region": "eu-west-1",
        "resources": list(event.resources),
        "detail": json.loads(json.dumps(event.detail)),
    }


def test_one_schema_per_detail_type_and_nothing_else(resources: dict[str, Any]) -> None:
    expected = set(SCHEMAS)
    assert set(registry_schemas(resources)) == expected
    scheduled = {SCHEDULED_ACTION_DUE, SCHEDULED_ACTION_MOVED, SCHEDULED_ACTION_DROPPED}
    assert {t.detail_type for t in TRIGGERS.values()} | {
        ACTION_REQUESTED,
        ACTION_SUCCEEDED,
        ACTION_FAILED,
    } | scheduled == expected
    registry = resources["EventSchemaRegistry"]
    assert registry["Type"] == "AWS::EventSchemas::Registry"
    assert registry["Properties"]["RegistryName"] == {"Fn::Sub": "cliniko-connector-${Stage}"}


@pytest.mark.parametrize("detail_type", sorted(SCHEMAS))
def test_the_registered_schema_is_generated_from_the_models(resources: dict[str, Any], detail_type: str) -> None:
    props = resources[schema_id(detail_type)]["Properties"]
    assert props["Type"] == "JSONSchemaDraft4"
    assert props["RegistryName"] == {"Fn::GetAtt": ["EventSchemaRegistry", "RegistryName"]}
    assert re.fullmatch(r"[A-Za-z0-9.@_-]{1,385}", props["SchemaName"])
    assert props["SchemaName"] == schema_name(detail_type)
    assert props["Content"] == schema_content(detail_type, SCHEMAS[detail_type]), "run `make template`"
    content = json.loads(props["Content"])
    assert content["$schema"] == DRAFT4
    Draft4Validator.check_schema(content)
    assert "$defs" not in props["Content"] and '"const"' not in props["Content"]  # draft 2019+ only
    detail = content["definitions"][content["properties"]["detail"]["$ref"].rsplit("/", 1)[-1]]
    assert detail["additionalProperties"] is False
    assert content["properties"]["detail-type"] == {"type": "string", "enum": [detail_type]}


def test_schema_names_are_unique() -> None:
    names = [schema_name(detail_type) for detail_type in SCHEMAS]
    assert len(names) == len(set(names))


def bus_samples() -> list[Path]:
    """The sample events of events/ that travel on the bus (not the schedule tick or the SQS batch)."""
    samples = sorted((Path(__file__).resolve().parents[3] / "events").glob("*/*.json"))
    return [p for p in samples if json.loads(p.read_text(encoding="utf-8")).get("detail-type") in SCHEMAS]


@pytest.mark.parametrize("sample", bus_samples(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_bus_event_validates(resources: dict[str, Any], sample: Path) -> None:
    event = json.loads(sample.read_text(encoding="utf-8"))
    validator(resources, event["detail-type"]).validate(event)


def test_the_samples_cover_every_trigger() -> None:
    covered = {json.loads(p.read_text(encoding="utf-8"))["detail-type"] for p in bus_samples()}
    assert {t.detail_type for t in TRIGGERS.values()} | {ACTION_REQUESTED} <= covered


def test_what_the_poller_publishes_validates_in_both_payload_modes(resources: dict[str, Any]) -> None:
    cliniko = FakeCliniko()
    published: list[BusEvent] = []
    for stream in STREAMS:
        record = {
            "id": "1000000000000000001",
            "created_at": "2026-01-01T00:00:10Z",
            "updated_at": "2026-01-01T00:00:10Z",
            "archived_at": None,
            "cancelled_at": None,
        }
        cliniko.put(stream.resource, record)
    for mode in (PayloadMode.FULL, PayloadMode.MINIMAL):
        state = InMemoryStreamStateStore()
        bus = RecordingPublisher()
        connection = Connection(
            id="clinic", name="Clinic", secret_id="s", shard="au1", triggers=tuple(TRIGGERS), payload_mode=mode
        )
        for stream in STREAMS:
            key = StreamKey(connection_id="clinic", resource=stream.resource)
            state.put_cursor(key, StreamCursor(position=ORIGIN, origin=ORIGIN), expected_version=None)
            StreamPoller(api=cliniko, state=state, publisher=bus, event_source="cliniko").poll(
                connection, stream, deadline=float("inf")
            )
        published += bus.events
    assert {e.detail_type for e in published} >= {s.triggers[0].detail_type for s in STREAMS}
    for event in published:
        validator(resources, event.detail_type).validate(as_eventbridge_event(event))


def test_action_outcomes_validate_and_extra_fields_do_not(resources: dict[str, Any]) -> None:
    succeeded = ActionOutcomeDetail(
        action="medical_alert.create",
        connection_id="clinic",
        idempotency_key="medical_alert.create#k",
        status="succeeded",
        result={"record": {"id": "1"}},
    )
    failed = succeeded.model_copy(update={"status": "failed", "result": None, "error": {"type": "X"}})
    for detail_type, outcome in ((ACTION_SUCCEEDED, succeeded), (ACTION_FAILED, failed)):
        event = as_eventbridge_event(
            BusEvent(source="cliniko", detail_type=detail_type, detail=outcome.model_dump(mode="json"))
        )
        validator(resources, detail_type).validate(event)
        event["detail"]["unexpected"] = True
        assert not validator(resources, detail_type).is_valid(event)
    wrong_status = as_eventbridge_event(
        BusEvent(source="cliniko", detail_type=ACTION_SUCCEEDED, detail=failed.model_dump(mode="json"))
    )
    assert not validator(resources, ACTION_SUCCEEDED).is_valid(wrong_status)
