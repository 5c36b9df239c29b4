"""Who may make the connector act, on the local stack: the real template's rules (moto's own matching), the
real action handlers, the simulator. Forged and disallowed requests reach Cliniko zero times."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_tools.devtools.template import DEFAULT_ACTION_REQUEST_SOURCE
from tests.e2e.cli.conftest import CONNECTION, Stack

pytestmark = pytest.mark.e2e


def archived(stack: Stack) -> list[dict[str, Any]]:
    stack.runner.drain_archive()
    path = stack.root / ".local" / "archive.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def archive_request(patient_id: str, key: str) -> dict[str, Any]:
    return {
        "action": "patient.archive",
        "connection_id": CONNECTION,
        "input": {"id": patient_id},
        "idempotency_key": key,
    }


def test_a_forged_request_from_a_foreign_source_reaches_no_action_and_cliniko_zero_times(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("connections", "allow", CONNECTION, "patient.archive").code == 0
    (patient,) = stack.patients("Ada")
    stack.sim.requests_clear()
    for source in ("attacker", "cliniko.forged", "custom.automation"):
        stack.put_event(ACTION_REQUESTED, archive_request(patient["id"], source), source=source)
    summary = stack.run()
    assert summary.invocations["PatientArchiveActionFunction"] == 0
    assert stack.sim.requests == []
    assert stack.sim.get("patients", patient["id"])["archived_at"] is None


def test_a_forged_trigger_event_from_a_foreign_source_drives_no_example_automation(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("connections", "allow", CONNECTION, "medical_alert.create").code == 0
    (patient,) = stack.patients("Ada")
    stack.sim.requests_clear()
    forged = {"connection_id": CONNECTION, "id": patient["id"], "event_key": "forged-1", "trigger": "patient.created"}
    stack.put_event("Patient Created", forged, source="attacker")
    assert stack.run().invocations["MedicalAlertCreateActionFunction"] == 0
    assert stack.sim.requests == []


def test_a_request_for_an_action_the_connection_does_not_allow_fails_typed_with_no_cliniko_call(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("connections", "allow", CONNECTION, "patient.find").code == 0  # a read, not this write
    (patient,) = stack.patients("Ada")
    stack.sim.requests_clear()
    request = archive_request(patient["id"], "declared-1")
    stack.put_event(ACTION_REQUESTED, request, source=DEFAULT_ACTION_REQUEST_SOURCE)
    summary = stack.run()
    assert summary.invocations["PatientArchiveActionFunction"] == 1 and not summary.failures
    assert stack.sim.requests == []
    (failed,) = [e for e in archived(stack) if e["detail-type"] == "Cliniko Action Failed"]
    assert failed["detail"]["error"]["type"] == "ActionNotAllowed"
    assert failed["detail"]["action"] == "patient.archive" and failed["detail"]["result"] is None

    # Allowed now: the same request, the same idempotency key, runs (the refusal was not stored as its result).
    assert stack.cli("connections", "allow", CONNECTION, "patient.archive").code == 0
    stack.put_event(ACTION_REQUESTED, request, source=DEFAULT_ACTION_REQUEST_SOURCE)
    assert stack.run().invocations["PatientArchiveActionFunction"] == 1
    assert stack.sim.get("patients", patient["id"])["archived_at"] is not None


def test_allowed_actions_are_shown_reads_and_writes_apart_and_can_be_taken_back(stack: Stack) -> None:
    stack.connect()
    shown = stack.cli("connections", "show", CONNECTION, "--json").json
    assert shown["allowed_reads"] == [] and shown["allowed_writes"] == []
    allowed = stack.cli("connections", "allow", CONNECTION, "patient.find", "medical_alert.create")
    assert allowed.code == 0, allowed.err
    assert allowed.out.splitlines() == [
        f"{CONNECTION} allows reads: patient.find",
        f"{CONNECTION} allows writes: medical_alert.create",
    ]
    human = stack.cli("connections", "show", CONNECTION).out
    assert "allowed_reads            patient.find" in human
    (report,) = stack.cli("status", "--json").json
    assert report["allowed_actions"] == {"reads": ["patient.find"], "writes": ["medical_alert.create"]}
    status = stack.cli("status", CONNECTION).out.splitlines()
    assert status[1:3] == ["  allowed reads: patient.find", "  allowed writes: medical_alert.create"]

    assert stack.cli("connections", "disallow", CONNECTION, "medical_alert.create").code == 0
    assert stack.cli("connections", "show", CONNECTION, "--json").json["allowed_writes"] == []
    unknown = stack.cli("connections", "allow", CONNECTION, "patient.obliterate")
    assert unknown.code == 1
    assert unknown.err.strip() == "error: unknown actions: patient.obliterate (see `actions list`)"


def test_a_forged_event_handed_straight_to_the_action_function_is_refused_with_no_cliniko_call(stack: Stack) -> None:
    stack.connect("patient.archive")
    (patient,) = stack.patients("Ada")
    stack.sim.requests_clear()
    forged = {"detail-type": ACTION_REQUESTED, "source": "attacker", "detail": archive_request(patient["id"], "f")}
    outcome = stack.runner.invoke("PatientArchiveActionFunction", forged)
    assert outcome["status"] == "failed" and outcome["error"]["type"] == "UntrustedSource"
    assert stack.sim.requests == []
    declared = {**forged, "source": DEFAULT_ACTION_REQUEST_SOURCE}
    assert stack.runner.invoke("PatientArchiveActionFunction", declared)["status"] == "succeeded"
