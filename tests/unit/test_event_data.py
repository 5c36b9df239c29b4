"""A trigger event's `data` is typed per resource from the official spec, and the sample events carry realistic
records built from the spec's documented examples whose personal details are all fictitious.

Each test reads the spec itself, so the published schemas fail here when they drift from the spec, and the
catalog's streams fail here when one has no typed `data`."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft202012Validator

from cliniko_connector.catalog.triggers import STREAMS, STREAMS_BY_RESOURCE, TRIGGERS
from cliniko_tools.devtools import resource_data
from cliniko_tools.devtools.events_doc import all_schemas
from cliniko_tools.devtools.template import schema_content
from tests.unit.contract import ROOT

SPEC = json.loads((ROOT / "tests" / "fixtures" / "cliniko-openapi.json").read_text(encoding="utf-8"))
RESOURCES = [stream.resource for stream in STREAMS]


def spec_schema(resource: str) -> dict[str, Any]:
    singular = STREAMS_BY_RESOURCE[resource].singular  # the catalog's, not resource_data's table
    name = re.sub(r"(?:^|_)([a-z])", lambda m: m.group(1).upper(), singular)
    schema: dict[str, Any] = SPEC["components"]["schemas"][name]
    return schema


def spec_properties(resource: str) -> set[str]:
    """The fields of a record: of its one shape, or (a booking, a communication) of the shape its sample has."""
    schema = spec_schema(resource)
    if "properties" not in schema:
        schema = SPEC["components"]["schemas"][resource_data.SAMPLE_VARIANTS[resource]]
    return set(schema["properties"])


def shapes(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A record's shapes: itself, or each of its `anyOf` (refs resolved in the spec)."""
    variants = schema.get("anyOf", [schema])
    return [SPEC["components"]["schemas"][v["$ref"].rsplit("/", 1)[-1]] if "$ref" in v else v for v in variants]


def published(resource: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "docs" / "schemas" / "data" / f"{resource}.json").read_text())
    return loaded


def sample(trigger: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / "triggers" / f"{trigger}.json").read_text())
    return loaded


def types_of(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set(kind or ())


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_stream_publishes_a_data_schema_with_exactly_the_spec_fields_and_types(resource: str) -> None:
    spec = spec_schema(resource)
    schema = published(resource)

    Draft4Validator.check_schema(schema)
    Draft202012Validator.check_schema(schema)
    spec_shapes, published_shapes = shapes(spec), schema.get("anyOf", [schema])
    assert len(published_shapes) == len(spec_shapes)
    for spec_shape, shape in zip(spec_shapes, published_shapes, strict=True):
        assert set(shape["properties"]) == set(spec_shape["properties"])
        for name, prop in spec_shape["properties"].items():
            target = SPEC["components"]["schemas"][prop["$ref"].rsplit("/", 1)[-1]] if "$ref" in prop else prop
            expected = {target["type"]} | ({"null"} if target.get("nullable") else set())
            assert expected <= types_of(shape["properties"][name]) <= expected | {"null"}, name
        assert "additionalProperties" not in shape  # fields Cliniko adds later stay valid


def test_the_spec_defects_are_mended_and_nothing_from_openapi_is_left() -> None:
    text = json.dumps([published(r) for r in RESOURCES])
    assert "nullable" not in text and '"example"' not in text and "x-tags" not in text and "$ref" not in text
    assert '"pattern"' not in json.dumps(published("patients")["properties"]["email"])
    assert published("patients")["properties"]["email"]["type"] == ["string", "null"]
    rule = published("unavailable_blocks")["properties"]["repeat_rule"]["properties"]["number_of_repeats"]
    assert (rule["minimum"], rule["maximum"]) == (1, 51)  # the spec's exclusive 0, as a closed bound


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    """Every schema, generated once for the module (~0.4 s a time); the tests only read them."""
    return all_schemas()


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_each_trigger_schema_types_data_as_its_resource_in_the_docs_and_the_registry(
    name: str, schemas: dict[str, dict[str, Any]]
) -> None:
    trigger = TRIGGERS[name]
    schema = schemas[trigger.detail_type]
    title = resource_data.data_title(trigger.resource)
    assert schema["properties"]["data"]["anyOf"] == [{"$ref": f"#/$defs/{title}"}, {"type": "null"}]
    assert schema["$defs"][title] == published(trigger.resource)
    registered = json.loads(schema_content(trigger.detail_type, schema))
    definition = registered["definitions"][title]
    for shape, spec_shape in zip(
        definition.get("anyOf", [definition]), shapes(spec_schema(trigger.resource)), strict=True
    ):
        assert shape["properties"].keys() == spec_shape["properties"].keys()


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_each_sample_carries_a_realistic_record_in_the_state_its_trigger_describes(name: str) -> None:
    trigger = TRIGGERS[name]
    detail = sample(name)["detail"]
    if name == "availability_block.removed":
        assert detail["data"] is None
        assert set(detail["previous"]) == {"starts_at", "ends_at", "practitioner", "business"}
        assert all(detail["previous"].values())
        return
    data = detail["data"]
    Draft202012Validator(published(trigger.resource)).validate(data)
    absent = {"merged_with_patient", "repeated_from", "patient_case"}
    assert set(data) == spec_properties(trigger.resource) - absent
    assert data["id"] == detail["id"]
    assert data["links"]["self"] == f"https://api.au1.cliniko.com/v1/{trigger.resource}/{detail['id']}"
    assert set(detail["changed_fields"] or []) <= set(data)
    field = getattr(trigger.transition, "field", None)
    if field is not None:
        assert data[field] not in (None, False)
    if name.endswith(".created"):
        assert data["created_at"] == data["updated_at"] == detail["occurred_at"]


def test_patient_updated_names_email_changed_and_carries_the_email() -> None:
    detail = sample("patient.updated")["detail"]
    assert "email" in detail["changed_fields"]
    assert detail["data"]["email"] == "alex.example@example.com"


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for value in node:
            yield from strings(value, f"{path}[]")
    elif isinstance(node, str):
        yield path, node


def example_personal_values() -> set[str]:
    """What the documented examples hold in the personal fields the samples replace."""
    found: set[str] = set()
    for path in resource_data.EXAMPLES_DIR.glob("*.get.response.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        # `invoice_default_to` names the example's insurer, also a custom-field option: not personal.
        for key in resource_data.FICTITIOUS.keys() - {
            "country",
            "country_code",
            "state",
            "title",
            "name",
            "invoice_default_to",
        }:
            value = record.get(key)
            if isinstance(value, str) and len(value) > 3:
                found.add(value)
        for phones in (record.get("patient_phone_numbers"), record.get("phone_numbers")):
            found.update(p["number"] for p in phones or [] if isinstance(p, dict))
    return found


def test_the_sample_data_is_obviously_fictitious() -> None:
    leaked = example_personal_values()
    assert "Patientman" in " ".join(leaked)  # the check below looks at real example values
    seen: set[str] = set()
    for name in TRIGGERS:
        for path, value in strings(sample(name)["detail"]["data"]):
            seen.add(path)
            assert value not in leaked, (name, path)
            if "@" in value:
                assert value.endswith("@example.com"), (name, path)
            if path.endswith("number") and "phone" in path:
                assert value in (resource_data.FICTITIOUS_MOBILE, resource_data.FICTITIOUS_LANDLINE), (name, path)
            if path.endswith("ip_address"):
                assert ipaddress.ip_address(value) in ipaddress.ip_network("192.0.2.0/24")  # TEST-NET-1
            if path.endswith(("first_name", "last_name", "patient_name", "label")):
                assert value in {"Alex", "Example", "Alex Example"}, (name, path)
            if value.startswith("http"):
                host = value.split("/")[2]
                assert value.startswith("https://api.au1.cliniko.com/v1/") or host.endswith(".example.com"), value
    assert {".email", ".patient_phone_numbers[].number", ".booking_ip_address", ".first_name"} <= seen
