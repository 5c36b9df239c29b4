"""`dlq list|redrive`: what failed for good and why, and sending it back where it came from."""

from __future__ import annotations

import json

import pytest

from cliniko_tools.local.stack import local_target_queue_name
from tests.e2e.cli.conftest import CONNECTION, Stack

pytestmark = pytest.mark.e2e

EXAMPLE_QUEUE = local_target_queue_name("ExampleNewPatientAlertRule", "ActionFunction")


def test_a_failed_action_is_listed_with_why_and_redriven_once_cliniko_is_back(stack: Stack) -> None:
    stack.connect("medical_alert.create")
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.sim.faults.inject("server_error", paths=["/medical_alerts"])
    (ada,) = stack.patients("Ada")
    assert stack.cli("poll").code == 0
    failed = stack.run()
    assert failed.invocations["MedicalAlertCreateActionFunction"] == 3  # the first try and two retries
    assert stack.depth("ActionFailureQueue") == 1

    listed = stack.cli("dlq", "list")
    assert listed.code == 0, listed.err
    header, _rule, row, *rest = listed.out.splitlines()
    assert header.split() == ["ID", "QUEUE", "FAILED", "AT", "WHAT", "CONNECTION", "KEY", "WHY"]
    assert " actions " in row and "action medical_alert.create" in row and CONNECTION in row
    assert f"{CONNECTION}:patients:{ada['id']}" in row  # the triggering change's key
    assert "ClinikoServerError: POST /v1/medical_alerts: Cliniko answered 500" in row
    assert rest[-1].startswith("1 message; send them back: cliniko-connector dlq redrive")
    assert "Ada" not in listed.out

    (summary,) = stack.cli("dlq", "list", "--queue", "actions", "--json").json
    assert summary["queue"] == "actions" and summary["attempts"] == 3
    assert summary["target"] == stack.state.functions["MedicalAlertCreateActionFunction"].name
    assert set(summary) >= {"message_id", "sent_at", "what", "connection_id", "key", "error", "redrivable"}
    assert stack.depth("ActionFailureQueue") == 1  # listing changes nothing

    unattended = stack.cli("dlq", "redrive")
    assert unattended.code == 2 and unattended.err.strip() == "error: pass --yes to send messages back without a prompt"

    stack.sim.faults.clear()
    redriven = stack.cli("dlq", "redrive", "--queue", "actions", "--yes")
    assert redriven.code == 0, redriven.err
    assert redriven.out.splitlines()[-1] == "1 sent back, 0 failed"
    assert f"invoked {summary['target']} again" in redriven.out
    assert stack.depth("ActionFailureQueue") == 0
    again = stack.run()
    assert again.invocations["MedicalAlertCreateActionFunction"] == 1 and not again.failures
    (alert,) = stack.sim.list("medical_alerts")
    assert alert["patient"]["links"]["self"].endswith(f"/patients/{ada['id']}")
    assert stack.cli("dlq", "list").out.startswith("nothing failed: actions, rule-targets, poll")


def test_undeliverable_events_go_back_on_the_bus_and_poll_jobs_to_the_poll_queue(stack: Stack) -> None:
    stack.monkeypatch.setenv("POLL_TIME_BUDGET_SECONDS", "1")
    stack.monkeypatch.setenv("CLINIKO_MAX_BACKOFF_SECONDS", "0.1")
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.sim.faults.inject("server_error", status=502, paths=["/patients"])
    assert stack.cli("poll").code == 1  # the stream's cursor keeps the error
    stack.sim.faults.clear()

    sqs = stack.client("sqs")
    key = f"{CONNECTION}:patients:42:created"
    event = {
        "version": "0",
        "id": "5b1f7d3e-0000-4000-8000-000000000042",
        "detail-type": "Patient Created",
        "source": "cliniko",
        "account": stack.state.account_id,
        "time": "2026-01-05T09:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"connection_id": CONNECTION, "resource": "patients", "id": "42", "event_key": key},
    }
    rule_arn = stack.state.rules["ExampleNewPatientAlertRule"].arn
    function_arn = stack.state.functions["MedicalAlertCreateActionFunction"].arn
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": function_arn,
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": "Unable to invoke Lambda function",
        "RETRY_ATTEMPTS": "8",
    }
    sqs.send_message(
        QueueUrl=stack.state.queues["RuleTargetDeadLetterQueue"].url,
        MessageBody=json.dumps(event),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )
    job = {"connection_id": CONNECTION, "resources": ["patients"], "tick": 7}
    sqs.send_message(
        QueueUrl=stack.state.queues["PollDeadLetterQueue"].url,
        MessageBody=json.dumps(job),
        MessageGroupId=CONNECTION,
        MessageDeduplicationId="job-7",
    )

    listed = stack.cli("dlq", "list", "--json").json
    by_queue = {m["queue"]: m for m in listed}
    assert set(by_queue) == {"rule-targets", "poll"}
    target = by_queue["rule-targets"]
    assert (target["what"], target["key"], target["target"], target["attempts"]) == (
        "Patient Created",
        key,
        "ExampleNewPatientAlertRule",
        8,
    )
    assert target["error"] == "SDK_CLIENT_ERROR: Unable to invoke Lambda function"
    poll = by_queue["poll"]
    assert (poll["what"], poll["connection_id"], poll["key"]) == ("poll patients", CONNECTION, CONNECTION)
    # The stream's last error (the retries may end on the 502 or on the spent time budget).
    assert poll["error"].startswith(("ClinikoServerError: GET /v1/patients: Cliniko answered 502", "ClinikoTimeout"))

    events_back = stack.cli("dlq", "redrive", "--queue", "rule-targets", "--yes")
    assert events_back.code == 0, events_back.err
    assert f"put back on {stack.bus}" in events_back.out
    assert stack.depth(EXAMPLE_QUEUE) == 1  # the example rule matched it again

    jobs_back = stack.cli("dlq", "redrive", "--queue", "poll", "--id", poll["message_id"][:8], "--yes", "--json")
    assert jobs_back.code == 0, jobs_back.err
    assert [(r["queue"], r["redriven"], r["result"]) for r in jobs_back.json] == [
        ("poll", True, "sent back to the poll queue")
    ]
    assert stack.depth("PollQueue") == 1 and stack.depth("PollDeadLetterQueue") == 0
    assert stack.cli("dlq", "redrive", "--yes").out.strip() == "nothing to send back"
