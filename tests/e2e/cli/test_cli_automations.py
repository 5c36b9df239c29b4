"""`automations new|validate|test` and `triggers sample` against the local stack and the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli.conftest import CONNECTION, Stack

pytestmark = pytest.mark.e2e


def write(stack: Stack, name: str, text: str) -> Path:
    folder = stack.root / "automations"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


ALERT = f"""\
name: new-patient-alert
when:
  trigger: patient.created
  connections: [{CONNECTION}]
do:
  - action: medical_alert.create
    input: {{patient_id: $.detail.id, name: "New patient <first_name>: review intake form"}}
"""


def test_new_writes_a_file_that_validates_and_matches_its_sample(stack: Stack) -> None:
    made = stack.cli(
        "automations", "new", "welcome", "--trigger", "patient.created", "--action", "medical_alert.create"
    )
    assert made.code == 0, made.err
    text = (stack.root / "automations" / "welcome.yaml").read_text(encoding="utf-8")
    assert "#   $.detail.data.first_name" in text  # the trigger's paths are listed
    assert "patient_id: $.detail.id  # from the event" in text
    assert "name: " in text
    checked = stack.cli("automations", "validate")
    assert checked.code == 0, checked.out + checked.err
    assert checked.out == "ok: 1 automation, 0 webhooks in automations\n"
    tried = stack.cli("automations", "test", "welcome", "--json")
    assert tried.code == 0, tried.out
    assert tried.json["matched"] is True
    again = stack.cli("automations", "new", "welcome", "--trigger", "patient.created", "--action", "patient.find")
    assert (again.code, again.err) == (
        2,
        "error: automations/welcome.yaml exists; choose another NAME, or --force to overwrite it\n",
    )


def test_validate_says_which_connection_does_not_allow_the_action(stack: Stack) -> None:
    stack.connect()
    write(stack, "alert.yaml", ALERT)
    refused = stack.cli("automations", "validate")
    assert refused.code == 1
    assert refused.out.splitlines() == [
        f"automations/alert.yaml:6: {CONNECTION} does not allow medical_alert.create: run "
        f"`cliniko-connector connections allow {CONNECTION} medical_alert.create`"
    ]
    assert stack.cli("connections", "allow", CONNECTION, "medical_alert.create").code == 0
    allowed = stack.cli("automations", "validate", "automations")
    assert allowed.code == 0, allowed.out


def test_validate_without_a_stack_checks_everything_else_and_says_so(stack: Stack, tmp_path: Path) -> None:
    write(stack, "alert.yaml", ALERT.replace("$.detail.id", "$.detail.data.patient_number_typo"))
    result = stack.cli("automations", "validate", "--offline")
    assert result.code == 1
    assert result.out.splitlines() == [
        "automations/alert.yaml:7: `$.detail.data.patient_number_typo` is not in patient.created events "
        "(`automations new` lists the paths)"
    ]
    assert "note: connections not checked (--offline)" in result.err


def test_test_shows_the_exact_input_of_the_sample(stack: Stack) -> None:
    write(stack, "alert.yaml", ALERT.replace(f"connections: [{CONNECTION}]", "connections: [demo]"))
    result = stack.cli("automations", "test", "new-patient-alert", "--sample", "--json")
    assert result.code == 0, result.out
    [target] = result.json["targets"]
    assert target["destination"] == "Cliniko action medical_alert.create"
    key = "demo:patients:1000000000000000101:patient.created:2026-11-26T09:30:00Z"
    assert target["input"] == {
        "connection_id": "demo",
        "idempotency_key": f"new-patient-alert/1:{key}",
        "event_key": key,
        "input": {"patient_id": "1000000000000000101", "name": "New patient Alex: review intake form"},
    }
    assert target["problems"] == []


def test_an_event_of_another_connection_does_not_match_and_says_why(stack: Stack) -> None:
    write(stack, "alert.yaml", ALERT)
    result = stack.cli("automations", "test", "new-patient-alert")
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        "new-patient-alert: does not match Patient Created of demo (1000000000000000101): "
        "`detail.connection_id` differs"
    )


def test_triggers_sample_reads_the_newest_record_without_publishing_or_moving_anything(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    before = stack.only_stream()
    older, newer = stack.patients("Older", "Newer")
    sampled = stack.cli("triggers", "sample", CONNECTION, "patient.created")
    assert sampled.code == 0, sampled.err
    event = sampled.json
    assert event["detail-type"] == "Patient Created"
    assert event["detail"]["id"] == str(newer["id"])
    assert event["detail"]["data"]["first_name"] == "Newer"
    assert event["detail"]["event_key"] == f"{CONNECTION}:patients:{newer['id']}:patient.created"
    assert stack.only_stream()["cursor"] == before["cursor"]
    assert stack.only_stream()["events_published"] == 0
    # The poller then publishes both, the newest under the sampled event's key: the sample took nothing.
    assert stack.cli("poll").code == 0
    stack.runner.run_once()
    archive = stack.root / ".local" / "archive.jsonl"
    published = [json.loads(line) for line in archive.read_text().splitlines()]
    keys = [e["detail"]["event_key"] for e in published if e["detail-type"] == "Patient Created"]
    assert sorted(keys) == sorted(f"{CONNECTION}:patients:{p['id']}:patient.created" for p in (older, newer))


def test_a_trigger_no_record_fires_says_so(stack: Stack) -> None:
    stack.connect()
    result = stack.cli("triggers", "sample", CONNECTION, "invoice.paid")
    assert result.code == 1
    assert "none of the newest invoices of northside-physio fires invoice.paid" in result.err


def test_from_a_connection_and_run_creates_the_alert_once(stack: Stack) -> None:
    stack.connect("medical_alert.create")
    [patient] = stack.patients("Robin")
    write(stack, "alert.yaml", ALERT)
    first = stack.cli("automations", "test", "new-patient-alert", "--from", CONNECTION, "--run")
    assert first.code == 0, first.out + first.err
    assert "matches Patient Created of northside-physio" in first.out
    assert "medical_alert.create on northside-physio succeeded: record " in first.out
    alerts = [
        a for a in stack.sim.list("medical_alerts") if a["patient"]["links"]["self"].endswith(f"/{patient['id']}")
    ]
    assert [a["name"] for a in alerts] == ["New patient Robin: review intake form"]
    second = stack.cli("automations", "test", "new-patient-alert", "--from", CONNECTION, "--run")
    assert second.code == 0, second.err
    assert "already done for this event (idempotency key), Cliniko not called" in second.out
    assert (
        len(
            [a for a in stack.sim.list("medical_alerts") if a["patient"]["links"]["self"].endswith(f"/{patient['id']}")]
        )
        == 1
    )


def test_an_event_file_is_tested_as_given(stack: Stack) -> None:
    write(stack, "alert.yaml", ALERT)
    event = json.loads(
        (Path(__file__).resolve().parents[3] / "events" / "triggers" / "patient.created.json").read_text()
    )
    event["detail"]["connection_id"] = CONNECTION
    (stack.root / "event.json").write_text(json.dumps(event), encoding="utf-8")
    result = stack.cli("automations", "test", "automations/alert.yaml", "--event", "event.json", "--json")
    assert result.code == 0, result.out
    assert result.json["matched"] is True
