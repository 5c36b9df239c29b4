"""`cliniko-connector actions list|run`: an action through its Lambda's code, from the command line."""

from __future__ import annotations

import json

from cliniko_connector.catalog.actions import ACTIONS
from tests.e2e.cli.conftest import Stack


def test_actions_list_shows_every_action_with_its_input_fields(stack: Stack) -> None:
    listed = stack.cli("actions", "list")
    assert listed.code == 0
    for name in ACTIONS:
        assert name in listed.out
    (memo,) = [line for line in listed.out.splitlines() if line.startswith("communication.create")]
    assert ", from, " in memo  # a memo's `from` is shown as it is sent, and as required
    assert "from_" not in listed.out
    schemas = stack.cli("actions", "list", "--json").json
    assert set(schemas) == set(ACTIONS)
    assert "patient_id" in schemas["medical_alert.create"]["input_schema"]["properties"]


def test_actions_run_creates_the_record_once_per_idempotency_key(stack: Stack) -> None:
    stack.connect()
    (patient,) = stack.patients("Ada")
    request = json.dumps({"patient_id": patient["links"]["self"], "name": "Latex allergy"})
    args = ("actions", "run", "medical_alert.create", "--connection", "northside-physio", "--input", request)
    first = stack.cli(*args, "--idempotency-key", "cli-1")
    again = stack.cli(*args, "--idempotency-key", "cli-1")
    assert first.code == again.code == 0
    assert first.json == again.json
    assert first.json["status"] == "succeeded"
    alerts = [a for a in stack.sim.list("medical_alerts") if a["name"] == "Latex allergy"]
    assert len(alerts) == 1


def test_actions_run_exits_1_with_the_typed_error_and_never_calls_cliniko_on_bad_input(stack: Stack) -> None:
    stack.connect()
    stack.sim.requests_clear()
    bad = stack.cli(
        "actions", "run", "medical_alert.create", "--connection", "northside-physio", "--input", '{"name": ""}'
    )
    assert bad.code == 1
    outcome = bad.json
    assert outcome["error"]["type"] == "InputValidationError"
    assert set(outcome["error"]["field_errors"]) == {"patient_id", "name"}
    assert stack.sim.requests == []


def test_actions_run_with_input_that_is_not_json_is_one_clear_line(stack: Stack) -> None:
    result = stack.cli("actions", "run", "patient.find", "--connection", "x", "--input", "{nope")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "--input is not JSON" in result.err
