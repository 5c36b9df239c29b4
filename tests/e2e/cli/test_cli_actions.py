"""`cliniko-connector actions list|show|run`: an action through its Lambda's code, from the command line."""

from __future__ import annotations

import json

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_tools.cli.output import TERMINAL_WIDTH
from tests.e2e.cli.conftest import Stack


def test_actions_list_names_every_action_in_lines_that_fit_a_100_column_terminal(stack: Stack) -> None:
    listed = stack.cli("actions", "list")
    assert listed.code == 0
    names = [line.split()[0] for line in listed.out.splitlines()[2:-1] if line]  # blocks apart by blank lines
    assert set(names) == set(ACTIONS)
    resources = [ACTIONS[name].resource for name in names]
    assert resources == sorted(resources)  # grouped by resource
    assert max(len(line) for line in listed.out.splitlines()) <= TERMINAL_WIDTH
    # A break is an unavailable block in Cliniko: both block actions say, in full, which one to use for it
    (extra,) = [line for line in listed.out.splitlines() if line.startswith("availability_block.create ")]
    (block,) = [line for line in listed.out.splitlines() if line.startswith("unavailable_block.create ")]
    assert extra.rstrip().endswith("for a break use unavailable_block.create")
    assert block.rstrip().endswith("A break, leave or a meeting: time a practitioner can't be booked")
    schemas = stack.cli("actions", "list", "--json").json
    assert set(schemas) == set(ACTIONS)
    assert "patient_id" in schemas["medical_alert.create"]["input_schema"]["properties"]


def test_actions_show_gives_one_actions_inputs_result_and_a_runnable_example(stack: Stack) -> None:
    shown = stack.cli("actions", "show", "communication.create")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0].startswith("communication.create: ")
    fields = {line.split()[0] for line in lines if line.startswith("    ") and not line.startswith("    cliniko")}
    assert "from" in fields and "from_" not in shown.out  # a memo's `from` is shown as it is sent, and required
    assert any(line.startswith("  result: {") for line in lines)
    example = shown.out[shown.out.index("cliniko-connector actions run communication.create") :]
    sent = json.loads(example.split("--input '", 1)[1].rsplit("'", 1)[0])
    assert sent == ACTIONS["communication.create"].sample_input
    assert max(len(line) for line in lines) <= TERMINAL_WIDTH
    as_json = stack.cli("actions", "show", "communication.create", "--json").json
    assert as_json["example_request"]["input"] == sent


def test_actions_run_creates_the_record_once_and_says_already_done_for_the_same_key(stack: Stack) -> None:
    stack.connect("medical_alert.create")
    (patient,) = stack.patients("Ada")
    request = json.dumps({"patient_id": patient["links"]["self"], "name": "Latex allergy"})
    args = ("actions", "run", "medical_alert.create", "--connection", "northside-physio", "--input", request)
    first = stack.cli(*args, "--idempotency-key", "cli-1")
    again = stack.cli(*args, "--idempotency-key", "cli-1")
    assert first.code == again.code == 0
    assert first.out.startswith("medical_alert.create on northside-physio: succeeded, record ")
    assert "already done (idempotency key medical_alert.create#cli-1 was used before" in again.out
    assert "succeeded" not in again.out
    assert "Latex" not in first.out + again.out  # ids only: the record stays out of the terminal
    as_json = stack.cli(*args, "--idempotency-key", "cli-1", "--json")
    assert as_json.code == 0 and as_json.json["status"] == "succeeded"
    alerts = [a for a in stack.sim.list("medical_alerts") if a["name"] == "Latex allergy"]
    assert len(alerts) == 1


def test_actions_run_failure_is_one_line_with_the_typed_error_and_first_field_and_never_calls_cliniko(
    stack: Stack,
) -> None:
    stack.connect()
    stack.sim.requests_clear()
    args = ("actions", "run", "medical_alert.create", "--connection", "northside-physio", "--input", '{"name": ""}')
    bad = stack.cli(*args)
    assert bad.code == 1
    assert bad.out == ""
    (line,) = bad.err.splitlines()
    assert line.startswith(
        "error: medical_alert.create: InputValidationError: invalid input for medical_alert.create ("
    )
    assert "and 1 more)" in line
    outcome = stack.cli(*args, "--json")
    assert outcome.code == 1
    assert outcome.json["error"]["type"] == "InputValidationError"
    assert set(outcome.json["error"]["field_errors"]) == {"patient_id", "name"}
    assert stack.sim.requests == []


def test_actions_run_with_input_that_is_not_json_is_a_usage_error_in_one_line(stack: Stack) -> None:
    result = stack.cli("actions", "run", "patient.find", "--connection", "x", "--input", "{nope")
    assert result.code == 2
    assert result.err == "error: --input is not JSON (line 1, column 2)\n"
