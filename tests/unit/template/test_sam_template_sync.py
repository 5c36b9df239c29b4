"""The committed template.yaml and events/ are exactly what the catalog generates."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.ports import PollJob
from cliniko_tools.cli.main import main
from cliniko_tools.devtools import render
from cliniko_tools.devtools.sample_events import render_sample_events
from cliniko_tools.devtools.template import HEADER, build_template, render_template


def test_committed_generated_files_match_the_catalog(project_root: Path) -> None:
    differences = render.check(project_root)
    assert not differences, "run `make template` and commit the result:\n" + "\n".join(map(str, differences))


def test_render_is_deterministic_and_round_trips_through_safe_load() -> None:
    text = render_template()
    assert text == render_template()
    assert text.startswith(HEADER)
    assert "!Ref" not in text and "!Sub" not in text and "!GetAtt" not in text
    assert "&id" not in text and "*id" not in text  # no YAML anchors/aliases
    assert yaml.safe_load(text) == build_template()


def test_dev_render_check_reports_and_render_repairs(tmp_path: Path, capsys: object) -> None:
    assert main(["dev", "render", "--check", "--root", str(tmp_path)]) == 1
    assert main(["dev", "render", "--root", str(tmp_path)]) == 0
    assert main(["dev", "render", "--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "template.yaml").write_text("# edited by hand\n", encoding="utf-8")
    stale = tmp_path / "events" / "actions" / "removed.action.json"
    stale.write_text("{}", encoding="utf-8")
    kinds = {d.path: d.kind for d in render.check(tmp_path)}
    assert kinds == {"template.yaml": "differs", "events/actions/removed.action.json": "stale"}
    assert main(["dev", "render", "--root", str(tmp_path)]) == 0
    assert not stale.exists()
    assert render.check(tmp_path) == []


def test_dev_render_restores_a_hand_edited_trigger_sample(tmp_path: Path) -> None:
    sample = tmp_path / "events" / "triggers" / "patient.created.json"
    sample.parent.mkdir(parents=True)
    sample.write_text("{}", encoding="utf-8")
    render.write(tmp_path)
    assert json.loads(sample.read_text(encoding="utf-8"))["detail-type"] == "Patient Created"


def test_a_sample_event_per_action_and_the_poll_samples() -> None:
    files = render_sample_events()
    assert set(files) == {
        "events/poll_dispatcher/scheduled.json",
        "events/poll_worker/job.json",
        "events/poll_worker/reconcile_job.json",
        *(f"events/actions/{name}.json" for name in ACTIONS),
    }
    scheduled = json.loads(files["events/poll_dispatcher/scheduled.json"])
    assert scheduled["detail-type"] == "Scheduled Event" and scheduled["source"] == "aws.events"
    job = json.loads(files["events/poll_worker/job.json"])
    (record,) = job["Records"]
    polled = PollJob.model_validate_json(record["body"])  # one connection's streams, in turn
    assert (polled.connection_id, polled.resources, polled.reconcile) == ("demo", ("patients", "medical_alerts"), ())
    assert record["attributes"]["MessageGroupId"] == "demo"
    (reconcile,) = json.loads(files["events/poll_worker/reconcile_job.json"])["Records"]
    assert PollJob.model_validate_json(reconcile["body"]).reconcile == ("patients",)
    assert reconcile["attributes"]["MessageDeduplicationId"] != record["attributes"]["MessageDeduplicationId"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(".fifo")
    assert {"MessageGroupId", "MessageDeduplicationId", "SequenceNumber"} <= set(record["attributes"])
