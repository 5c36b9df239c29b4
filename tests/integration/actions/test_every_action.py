"""Every catalog action over HTTP against the Cliniko simulator, through `ActionRunner` and a real client.

Parametrized over the catalog: a new action gets these tests from its sample input alone. Each one runs
its sample input (ids pointed at seeded records) for success, a missing id for "not found", a bad
reference for Cliniko's 422, a 429 before success, and 5xx until the time budget runs out.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from cliniko_connector.catalog.actions import (
    ACTIONS,
    Action,
    AppointmentDetails,
    Create,
    Find,
    Get,
    ListIds,
    LookupInput,
)
from cliniko_connector.errors import ClinikoTransientError
from cliniko_connector.eventmodels import ACTION_FAILED, ACTION_SUCCEEDED, ActionRequest
from tests.integration.actions.conftest import CONNECTION_ID, MISSING_ID, World, id_fields

pytestmark = pytest.mark.integration

ALL = sorted(ACTIONS)
READ_OPS = (Get, Find, ListIds)


def succeeded(outcome: dict[str, Any]) -> dict[str, Any]:
    assert outcome["status"] == "succeeded", outcome.get("error")
    result: dict[str, Any] = outcome["result"]
    return result


def check_success(action: Action, data: dict[str, Any], result: dict[str, Any], world: World) -> None:
    op = action.operation
    if isinstance(op, ListIds):
        assert world.ids[action.resource] in result["ids"] and result["truncated"] is False
    elif isinstance(op, AppointmentDetails):
        assert result["found"] is True and result["id"] == data["id"]
        assert result["practitioner_name"] and result["local_text"] and result["time_zone"]
    elif isinstance(op, Get | Find):
        assert result["found"] is True
        if "id" in data:
            assert result["record"]["id"] == data["id"]
    elif "record" in op.result:
        assert result["record"]["id"]
    else:
        assert result["id"] == data["id"]
        assert result.get("archived") or result.get("cancelled") or result.get("deleted") or result.get("unarchived")


@pytest.mark.parametrize("name", ALL)
def test_success(world: World, name: str) -> None:
    action = ACTIONS[name]
    data = world.materialize(action)
    runner, publisher = world.runner(action)
    result = succeeded(runner.run(ActionRequest(connection_id=CONNECTION_ID, input=data, idempotency_key="s")))
    check_success(action, data, result, world)
    assert [e.detail_type for e in publisher.events] == [ACTION_SUCCEEDED]
    sent = world.statuses()
    if action.writes:
        assert len(sent) == 1, sent  # one call: a write is never half-applied
        assert sent[0][0] in {"POST", "PATCH", "DELETE"} and 200 <= sent[0][2] < 300
    else:
        assert {method for method, _, _ in sent} == {"GET"}


def not_found_input(action: Action, world: World) -> dict[str, Any] | None:
    model = action.input_model
    data = world.materialize(action)
    if "id" in model.model_fields:
        if issubclass(model, LookupInput):
            return {"id": MISSING_ID}
        return {**data, "id": MISSING_ID}
    if isinstance(action.operation, ListIds):
        return {key: MISSING_ID if key in id_fields(action) else value for key, value in data.items()}
    return None  # a create has no id of its own; a missing reference is Cliniko's 422 (below)


def _can_miss(action: Action) -> bool:
    """Creates have no id of their own to miss; a missing reference is Cliniko's 422 (below)."""
    return "id" in action.input_model.model_fields or isinstance(action.operation, ListIds)


@pytest.mark.parametrize("name", [n for n in ALL if _can_miss(ACTIONS[n])])
def test_not_found(world: World, name: str) -> None:
    action = ACTIONS[name]
    data = not_found_input(action, world)
    assert data is not None
    outcome = world.run(action, data)
    if isinstance(action.operation, ListIds):
        assert succeeded(outcome) == {"ids": [], "truncated": False}
    elif isinstance(action.operation, AppointmentDetails):
        assert succeeded(outcome) == dict.fromkeys(action.operation.result) | {"found": False}
    elif isinstance(action.operation, READ_OPS):
        expected: dict[str, Any] = {"found": False, "record": None}
        if isinstance(action.operation, Find) and action.operation.every_match:
            expected |= {"matches": 0, "ids": []}
        assert succeeded(outcome) == expected
    else:
        assert outcome["status"] == "failed"
        assert outcome["error"]["type"] == "ClinikoNotFound" and outcome["error"]["status"] == 404


# Inputs Cliniko (the simulator) refuses where the generic rule below finds no reference to break.
INVALID_FOR_CLINIKO: dict[str, dict[str, Any]] = {
    "contact.create": {"country_code": "ZZ"},
    "contact.update": {"country_code": "ZZ"},
    "business.create": {"country_code": "ZZ"},
    "business.update": {"country_code": "ZZ"},
}


def _references(action: Action) -> list[str]:
    return [
        name for name, resources in id_fields(action).items() if name != "id" and resources and resources[0] != "taxes"
    ]


def _cliniko_can_refuse(action: Action) -> bool:
    """Reads and writes without a reference to break: the simulator accepts every input the model allows."""
    if action.name in INVALID_FOR_CLINIKO or action.name == "attendee.cancel":
        return True
    return not isinstance(action.operation, READ_OPS) and bool(_references(action))


def invalid_input(action: Action, world: World) -> dict[str, Any] | None:
    """The sample input with one reference pointing nowhere (Cliniko: `<field> must exist`), or an override."""
    data = world.materialize(action)
    if action.name in INVALID_FOR_CLINIKO:
        return {**data, **INVALID_FOR_CLINIKO[action.name]}
    if action.name == "attendee.cancel":
        # Cancelling works for group attendees only: the individual appointment's attendee is refused.
        attendee = world.sim.get("individual_appointments", world.ids["individual_appointments"])
        assert attendee is not None
        own = [a for a in world.sim.list("attendees") if a["booking"]["links"]["self"].endswith(attendee["id"])]
        return {**data, "id": own[0]["id"]}
    if isinstance(action.operation, READ_OPS):
        return None
    references = [name for name in _references(action) if id_fields(action)[name][0] in world.sim.resources]
    if not references:
        return None
    schema = action.input_model.model_json_schema(by_alias=True)["properties"][references[0]]
    is_list = any(v.get("type") == "array" for v in [schema, *schema.get("anyOf", [])])
    return {**data, references[0]: [MISSING_ID] if is_list else MISSING_ID}


@pytest.mark.parametrize("name", [n for n in ALL if _cliniko_can_refuse(ACTIONS[n])])
def test_cliniko_422(world: World, name: str) -> None:
    action = ACTIONS[name]
    data = invalid_input(action, world)
    assert data is not None
    runner, publisher = world.runner(action)
    outcome = runner.run(ActionRequest(connection_id=CONNECTION_ID, input=data))
    assert outcome["status"] == "failed", outcome
    error = outcome["error"]
    assert error["type"] == "ClinikoValidationError" and error["status"] == 422
    assert error["field_errors"]
    assert [e.detail_type for e in publisher.events] == [ACTION_FAILED]


@pytest.mark.parametrize("name", ALL)
def test_rate_limited_then_succeeds(world: World, name: str) -> None:
    action = ACTIONS[name]
    world.sim.set_rate_limit(10_000, 1.0)  # X-RateLimit-Reset at most ~1 s away
    world.sim.faults.inject("rate_limit", count=1)
    data = world.materialize(action)
    check_success(action, data, succeeded(world.run(action, data)), world)
    statuses = [status for _, _, status in world.statuses()]
    assert statuses[0] == 429 and all(200 <= s < 300 for s in statuses[1:]) and len(statuses) >= 2
    assert world.waits and world.waits[0] >= 0


@pytest.mark.parametrize("name", ALL)
def test_server_errors_until_the_budget_is_spent_raise(world: World, name: str) -> None:
    action = ACTIONS[name]
    world.sim.faults.inject("server_error", status=503)
    runner, publisher = world.runner(action, budget=0.4)
    started = time.monotonic()
    with pytest.raises(ClinikoTransientError) as caught:
        runner.run(ActionRequest(connection_id=CONNECTION_ID, input=world.materialize(action)))
    assert time.monotonic() - started < 3.0
    assert caught.value.retryable
    assert publisher.events == []  # not a failed outcome: Lambda's retries take over
    statuses = [status for _, _, status in world.statuses()]
    assert statuses and set(statuses) == {503}
    if isinstance(action.operation, Create):
        assert len(statuses) == 1  # a create is never resent after an ambiguous failure
