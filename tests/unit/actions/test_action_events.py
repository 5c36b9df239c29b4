"""The three shapes an action Lambda receives its request in, and malformed ones."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import InputValidationError
from cliniko_connector.eventmodels import ACTION_REQUESTED, ActionRequest, parse_action_event
from cliniko_connector.usecases.actions import validate_input

ACTION = ACTIONS["communication.create"]
REQUEST = {
    "connection_id": "clinic",
    "idempotency_key": "clinic:individual_appointments:42:individual_appointment.cancelled:2026-11-26T09:30:00Z",
    "input": ACTION.sample_input,
}


def eventbridge_event(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "custom.automation",
        "account": "123456789012",
        "time": "2026-11-26T09:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def check(request: ActionRequest, *, action: str | None = None) -> None:
    assert request.connection_id == "clinic"
    assert request.input == ACTION.sample_input
    assert request.action == action
    validate_input(ACTION, request.input)


def test_a_full_eventbridge_event_carries_the_request_in_detail() -> None:
    event = eventbridge_event(ACTION_REQUESTED, {**REQUEST, "action": ACTION.name})
    request = parse_action_event(event)
    check(request, action=ACTION.name)
    assert request.key_for(ACTION.name) == f"{ACTION.name}#{REQUEST['idempotency_key']}"


def test_an_input_transformer_delivers_the_bare_request() -> None:
    # What the InputTemplate of docs/automations.md renders: connection, idempotency key and input only.
    check(parse_action_event(dict(REQUEST)))


def test_a_direct_invoke_may_send_the_bare_request_or_only_a_detail() -> None:
    check(parse_action_event({**REQUEST, "event_key": "k"}))
    check(parse_action_event({"detail": dict(REQUEST)}))


def test_without_a_key_the_idempotency_key_comes_from_the_event_key_or_the_content() -> None:
    with_event = parse_action_event({"connection_id": "clinic", "input": {}, "event_key": "e1"})
    assert with_event.key_for("x.y") == "x.y#event#e1"
    a = parse_action_event({"connection_id": "clinic", "input": {"a": 1, "b": 2}}).key_for("x.y")
    b = parse_action_event({"connection_id": "clinic", "input": {"b": 2, "a": 1}}).key_for("x.y")
    assert a == b and a.startswith("x.y#sha256#")


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "text",
        {},
        {"input": {}},
        {"connection_id": "clinic"},
        {"connection_id": "", "input": {}},
        {"connection_id": "clinic", "input": ["not", "an", "object"]},
        {"connection_id": "clinic", "input": {}, "unexpected": 1},
        {"connection_id": "clinic", "input": {}, "idempotency_key": ""},
        eventbridge_event(ACTION_REQUESTED, {"input": {}}),
        eventbridge_event(ACTION_REQUESTED, {**REQUEST, "extra": True}),
    ],
)
def test_malformed_requests_are_input_validation_errors(event: Any) -> None:
    with pytest.raises(InputValidationError):
        parse_action_event(event)


SECRET = "S3CR3T"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text().map(lambda s: s + SECRET),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(
            st.sampled_from(["connection_id", "input", "idempotency_key", "event_key", "action", "detail", "x"]),
            st.one_of(st.integers(), st.text(max_size=8).map(lambda s: s + SECRET), st.none(), st.just({})),
            max_size=5,
        ),
    )
)
def test_anything_else_is_a_validation_error_never_a_crash(event: Any) -> None:
    try:
        request = parse_action_event(event)
    except InputValidationError as exc:
        error = exc.to_dict()
    else:
        assert isinstance(request, ActionRequest)  # a dict that happens to be a valid request
        return
    assert error["type"] == "InputValidationError"
    assert SECRET not in json.dumps(error)
