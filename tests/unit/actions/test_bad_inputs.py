"""Property: for every action, bad input is a typed `InputValidationError` outcome and Cliniko is never called.

Bad inputs are built by breaking the action's (valid) sample input in ways that are invalid by construction
(a required field dropped, a value of the wrong JSON type, an unknown field, a bad id, enum value or
timestamp, a cross-field rule broken, or no object at all), so the test doesn't ask the model under test
which inputs are bad. They run through `ActionRunner.run` with in-memory fakes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliniko_connector.catalog.actions import ACTIONS, Action, LookupInput, UpdateInput
from cliniko_connector.eventmodels import ACTION_FAILED, ActionRequest
from tests.unit.actions.support import make_runner

MARKER = "S3CR3T-PATIENT-DATA"
INT_MARKER = 97531864

BAD_IDS: list[Any] = [
    True,
    False,
    0,
    -INT_MARKER,
    2**64 + INT_MARKER,
    1.5,
    "",
    "   ",
    "0",
    "-12",
    "12.0",
    f"12{MARKER}",
    MARKER,
    "١٢٣",
    "9" * 25,
    f"https://api.au1.cliniko.com/v1/{MARKER}_things/12",
    f"https://api.au1.cliniko.com/v1/patients/{MARKER}",
    f"https://[{MARKER}/v1/patients/12",
    "https://api.au1.cliniko.com/v1/",
    [MARKER],
    {"id": MARKER},
]
BAD_TIMESTAMPS: list[Any] = [
    f"{MARKER}",
    "2026-13-01T09:00:00Z",
    "2026-02-30T09:00:00Z",
    "2026-12-01T25:00:00Z",
    "2026-12-01",
    "2026-12-01T09:00:00",
    "2026-12-01T09:00:00+25:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "1066-10-14T09:00:00Z",
    1767225600,
    "",
    [f"2026-12-01T09:00:00Z{MARKER}"],
]
NON_OBJECTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20).map(lambda s: s + MARKER),
    st.lists(st.one_of(st.integers(), st.just(MARKER)), max_size=3),
)


@dataclass
class FieldInfo:
    name: str  # as sent (alias)
    kind: str  # id, timestamp, enum, string, integer, number, boolean, array, object, amount, …
    nullable: bool
    enum: list[Any] = field(default_factory=list)


@dataclass
class ModelInfo:
    fields: dict[str, FieldInfo]
    required: list[str]


def _describe(name: str, prop: dict[str, Any]) -> FieldInfo:
    variants = prop.get("anyOf")
    nullable = False
    if isinstance(variants, list) and "x-kind" not in prop:
        non_null = [v for v in variants if v.get("type") != "null"]
        nullable = len(non_null) < len(variants)
        if len(non_null) == 1:
            prop = non_null[0]
    if "x-kind" in prop:
        kind = prop["x-kind"]
    elif "enum" in prop:
        kind = "enum"
    elif "$ref" in prop:
        kind = "object"
    else:
        kind = prop.get("type", "any")
    return FieldInfo(name, kind, nullable, list(prop.get("enum", [])))


@cache
def model_info(action_name: str) -> ModelInfo:
    schema = ACTIONS[action_name].input_model.model_json_schema(by_alias=True)
    fields = {name: _describe(name, prop) for name, prop in schema["properties"].items()}
    return ModelInfo(fields, list(schema.get("required", [])))


def wrong_types(info: FieldInfo, required: bool) -> list[Any]:
    """Values of a JSON type the field never accepts."""
    marker_list, marker_obj = [[MARKER]], {"x": [MARKER]}
    by_kind: dict[str, list[Any]] = {
        "id": [1.5, False, marker_list, marker_obj],
        "amount": [False, MARKER, marker_list, marker_obj],
        "enum": [MARKER, 1.5, marker_list, marker_obj],
        "boolean": [MARKER, "true", 1, 0, marker_list, marker_obj],
        "integer": [MARKER, 1.5, True, marker_list, marker_obj],
        "number": [MARKER, True, marker_list, marker_obj],  # a rate: any int or float is one
        "array": [MARKER, INT_MARKER, True, marker_obj],
        "object": [MARKER, INT_MARKER, True, marker_list],
    }
    values = by_kind.get(info.kind, [INT_MARKER, 1.5, True, marker_list, marker_obj])  # every string-like kind
    if required or not info.nullable:
        values = [*values, None]
    return values


def bad_enum_values(info: FieldInfo) -> st.SearchStrategy[Any]:
    ints = st.integers().map(lambda n: n * 1000 + INT_MARKER).filter(lambda n: n not in info.enum)
    return st.one_of(ints, st.text(max_size=10).map(lambda s: MARKER + s))


def rule_breakers(action: Action) -> list[dict[str, Any]]:
    """Inputs that are well-typed field by field but break a rule across fields."""
    model = action.input_model
    sample = action.sample_input
    out: list[dict[str, Any]] = []
    if issubclass(model, UpdateInput):
        out.append({"id": sample["id"]})
    if issubclass(model, LookupInput):
        out.append({})
        if "id" in model.model_fields:
            out.append({"id": "1000000000000000001", **sample})
    if {"starts_at", "ends_at"} <= set(model.model_fields):
        out.append({**sample, "starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:59:59Z"})
    if action.name == "contact.create":
        out.append({k: v for k, v in sample.items() if k not in {"first_name", "last_name", "company_name"}})
    return out


@st.composite
def one_mutation(draw: st.DrawFn, action_name: str) -> tuple[str, Any]:
    """(kind, argument) of one change that makes any input invalid."""
    info = model_info(action_name)
    fields = list(info.fields.values())
    choices = ["wrong_type", "unknown_field"]
    if info.required:
        choices.append("drop_required")
    ids = [f for f in fields if f.kind == "id"]
    enums = [f for f in fields if f.kind == "enum"]
    stamps = [f for f in fields if f.kind == "timestamp"]
    if ids:
        choices.append("bad_id")
    if enums:
        choices.append("bad_enum")
    if stamps:
        choices.append("bad_timestamp")
    kind = draw(st.sampled_from(choices))
    if kind == "drop_required":
        return kind, draw(st.sampled_from(info.required))
    if kind == "wrong_type":
        target = draw(st.sampled_from(fields))
        return kind, (target.name, draw(st.sampled_from(wrong_types(target, target.name in info.required))))
    if kind == "unknown_field":
        names = set(info.fields)
        key = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in names))
        return kind, (key, draw(st.one_of(st.integers(), st.text(max_size=5), st.none())))
    if kind == "bad_id":
        target = draw(st.sampled_from(ids))
        return kind, (target.name, draw(st.sampled_from(BAD_IDS)))
    if kind == "bad_enum":
        target = draw(st.sampled_from(enums))
        return kind, (target.name, draw(bad_enum_values(target)))
    target = draw(st.sampled_from(stamps))
    return kind, (target.name, draw(st.sampled_from(BAD_TIMESTAMPS)))


@st.composite
def bad_input(draw: st.DrawFn, action_name: str) -> Any:
    action = ACTIONS[action_name]
    shape = draw(st.sampled_from(["mutated", "mutated", "mutated", "rule", "non_object"]))
    if shape == "non_object":
        return draw(NON_OBJECTS)
    breakers = rule_breakers(action)
    if shape == "rule" and breakers:
        return draw(st.sampled_from(breakers))
    data = dict(action.sample_input)
    # Each mutation only adds a bad value or drops a required field, so their combination stays invalid.
    for kind, arg in draw(st.lists(one_mutation(action_name), min_size=1, max_size=3)):
        if kind == "drop_required":
            data.pop(arg, None)
        else:
            name, value = arg
            data[name] = value
    return data


def _run(action: Action, raw: Any) -> None:
    runner, publisher = make_runner(action)  # the fake Cliniko fails the test if it is called
    request = ActionRequest.model_construct(
        connection_id="clinic", input=raw, idempotency_key="prop", event_key=None, action=None
    )
    outcome = runner.run(request)
    assert outcome["status"] == "failed", raw
    error = outcome["error"]
    assert error["type"] == "InputValidationError"
    assert isinstance(error["field_errors"], dict) and error["field_errors"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in error["field_errors"].items())
    published = json.dumps([e.detail for e in publisher.events])
    assert [e.detail_type for e in publisher.events] == [ACTION_FAILED]
    for text in (json.dumps(outcome), published):
        assert MARKER not in text
        assert str(INT_MARKER) not in text


def _shape(node: Any) -> Any:
    """An input schema without what names or describes it: two actions of one shape run the same validation."""
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if k not in {"title", "description", "x-resources"}}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node


def fuzzed_actions() -> list[str]:
    """One action per distinct input shape (the 31 archives, gets and deletes by id share one; their rule
    breakers and non-objects still run per action below): the property test's 200 examples per shape keep
    the suite's time in step with the kinds of input, not with the size of the catalog."""
    seen: dict[str, str] = {}
    for name in sorted(ACTIONS):
        schema = ACTIONS[name].input_model.model_json_schema(by_alias=True)
        key = json.dumps(_shape(schema), sort_keys=True) + repr(rule_breakers(ACTIONS[name]) != [])
        seen.setdefault(key, name)
    return sorted(seen.values())


def test_every_input_shape_is_fuzzed_and_id_only_inputs_share_one() -> None:
    fuzzed = fuzzed_actions()
    shapes = {
        json.dumps(_shape(a.input_model.model_json_schema(by_alias=True)), sort_keys=True) for a in ACTIONS.values()
    }
    assert len(fuzzed) >= len(shapes)
    assert len(fuzzed) < len(ACTIONS)


@pytest.mark.parametrize("name", fuzzed_actions())
def test_bad_input_is_a_typed_validation_error_and_never_reaches_cliniko(name: str) -> None:
    action = ACTIONS[name]
    seen: list[Any] = []

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(raw=bad_input(name))
    def check(raw: Any) -> None:
        seen.append(raw)
        _run(action, raw)

    check()
    assert len(seen) >= 200


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_rule_breaker_and_non_object_is_rejected(name: str) -> None:
    action = ACTIONS[name]
    raws: list[Any] = [*rule_breakers(action), None, [], "text", 5, True]
    for raw in raws:
        _run(action, raw)
