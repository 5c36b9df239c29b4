"""`replay` on the local stack: archived events of a window that match a pattern go back on the bus."""

from __future__ import annotations

import json

import pytest

from tests.e2e.cli.conftest import CONNECTION, Stack

pytestmark = pytest.mark.e2e

CREATED = json.dumps({"detail-type": ["Patient Created"]})


def test_replay_sends_matching_events_again_and_idempotent_actions_do_not_repeat(stack: Stack) -> None:
    stack.connect("medical_alert.create")
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.patients("Ada", "Grace")
    assert stack.cli("poll").code == 0
    first = stack.runner.run_once()  # the example rule: every new patient gets a medical alert
    assert first.invocations["MedicalAlertCreateActionFunction"] == 2 and not first.failures
    archived = [json.loads(line) for line in (stack.root / ".local" / "archive.jsonl").read_text().splitlines()]
    assert [e["detail-type"] for e in archived].count("Patient Created") == 2  # `local run` keeps the archive
    assert len(stack.sim.list("medical_alerts")) == 2

    dry = stack.cli("replay", "--since", "10m", "--pattern", CREATED, "--dry-run")
    assert dry.code == 0, dry.err
    assert dry.out.splitlines()[0].startswith("would replay 2 events from ")

    replayed = stack.cli("replay", "--since", "10m", "--pattern", CREATED)
    assert replayed.code == 0, replayed.err
    lines = replayed.out.splitlines()
    assert lines[0].startswith("replayed 2 events from ") and f"onto {stack.bus}" in lines[0]
    assert lines[1].split() == ["2", "x", "Patient", "Created"]
    assert lines[-1] == "next: `cliniko-connector local run --once` delivers them to the rules' targets"

    second = stack.run()
    assert second.invocations["MedicalAlertCreateActionFunction"] == 2 and not second.failures
    assert len(stack.sim.list("medical_alerts")) == 2  # same event_key: the action ran once per change

    # Replayed events are not archived again; the outcomes of the first run are there, unmatched.
    everything = stack.cli("replay", "--since", "10m", "--dry-run", "--json").json
    assert everything["by_detail_type"]["Patient Created"] == 2
    assert everything["by_detail_type"]["Cliniko Action Succeeded"] == 2

    as_json = stack.cli("replay", "--since", "10m", "--until", "now", "--pattern", CREATED, "--json").json
    assert as_json["mode"] == "local" and as_json["replayed"] == 2
    assert as_json["by_detail_type"] == {"Patient Created": 2}
    assert as_json["name"].startswith("cliniko-")


def test_an_empty_window_replays_nothing(stack: Stack) -> None:
    result = stack.cli("replay", "--since", "2020-01-01", "--until", "2020-01-02T00:00:00Z")
    assert result.code == 0, result.err
    (line,) = result.out.splitlines()  # no "next:" when nothing was replayed
    assert line.startswith(f"replayed 0 events from 2020-01-01T00:00:00Z to 2020-01-02T00:00:00Z onto {stack.bus}")


def test_a_stack_without_an_archive_gets_one_and_says_so(stack: Stack) -> None:
    state = json.loads(stack.state_path.read_text())
    state["archive"] = None
    stack.state_path.write_text(json.dumps(state))
    result = stack.cli("replay", "--since", "1h")
    assert result.code == 1
    assert result.err.startswith("error: the local stack kept no archive of its bus until now; it records every")
    assert json.loads(stack.state_path.read_text())["archive"]["rule"] == "local-archive"
    assert stack.cli("replay", "--since", "1h").code == 0


def test_aws_only_options_are_usage_errors_on_the_local_stack(stack: Stack) -> None:
    result = stack.cli("replay", "--since", "1h", "--rule", "ExampleNewPatientAlertRule")
    assert result.code == 2
    assert result.err.strip() == "error: --rule is for AWS replays; on the local stack use --pattern"
