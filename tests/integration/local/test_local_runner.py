"""The runner invokes handlers like Lambda would: right module, environment, event and context; deletes
messages on success, keeps them on failure."""

from __future__ import annotations

import json
import os

import pytest

from cliniko_connector.catalog.actions import ACTIONS, Action
from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_tools.cli.main import main
from cliniko_tools.local.runner import HandlerError, LocalRunner
from cliniko_tools.local.stack import local_target_queue_name
from tests.integration.local.local_stack_support import REQUEST_SOURCE, Project

pytestmark = pytest.mark.integration

ACTION_QUEUE = local_target_queue_name("MedicalAlertCreateActionRule", "ActionFunction")
REQUEST = {"action": "medical_alert.create", "connection_id": "demo", "input": {"patient_id": "7", "name": "x"}}


def test_an_action_is_invoked_with_its_env_event_and_context_then_its_message_deleted(project: Project) -> None:
    state = project.up()
    project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, REQUEST)
    summary = LocalRunner(state, project.root).drain()

    assert summary.invocations == {"MedicalAlertCreateActionFunction": 1}
    assert summary.failures == []
    (call,) = project.calls("action")
    function = state.functions["MedicalAlertCreateActionFunction"]
    assert call["imported"] == {"ACTION_NAME": "medical_alert.create", "AWS_ENDPOINT_URL": project.endpoint}
    assert call["env"] == {
        "ACTION_NAME": "medical_alert.create",
        "IDEMPOTENCY_TABLE": state.tables["IdempotencyTable"].name,
        "CONNECTIONS_TABLE": state.tables["ConnectionsTable"].name,
        "STATE_TABLE": state.tables["StateTable"].name,
        "EVENT_BUS_NAME": "cliniko-connector-dev",
        "CLINIKO_CONTACT_EMAIL": "tests@example.com",
        "AWS_ENDPOINT_URL": project.endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
    }
    assert call["function_name"] == function.name and call["function_arn"] == function.arn
    assert call["memory"] == 256 and 0 < call["remaining_ms"] <= function.timeout * 1000
    event = call["event"]
    assert event["detail"] == REQUEST
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["account"] == state.account_id
    assert project.depth(state, ACTION_QUEUE) == (0, 0)
    assert "ACTION_NAME" not in os.environ  # the function's environment was restored


def test_a_failed_action_stays_queued_then_goes_to_the_on_failure_destination(project: Project) -> None:
    state = project.up()
    failing = {**REQUEST, "input": {**REQUEST["input"], "fail": True}}
    project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, failing)

    summary = LocalRunner(state, project.root).drain()
    assert summary.invocations == {"MedicalAlertCreateActionFunction": 1}
    (failure,) = summary.failures
    assert failure.function == "MedicalAlertCreateActionFunction"
    assert failure.error == "RuntimeError: asked to fail"
    assert project.depth(state, ACTION_QUEUE) == (0, 1)  # kept: invisible until its visibility timeout
    assert project.depth(state, "ActionFailureQueue") == (0, 0)

    # With no retry delay, the remaining attempts (MaximumRetryAttempts 2) happen at once, then the event
    # goes to the OnFailure destination as a Lambda destination record.
    project.client("sqs").purge_queue(QueueUrl=state.queues[ACTION_QUEUE].url)
    project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, failing)
    summary = LocalRunner(state, project.root, retry_delay_seconds=0).drain()
    assert summary.invocations == {"MedicalAlertCreateActionFunction": 3}
    assert project.depth(state, ACTION_QUEUE) == (0, 0)
    (record,) = project.messages(state, "ActionFailureQueue")
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail"] == failing
    assert record["responsePayload"] == {"errorType": "RuntimeError", "errorMessage": "asked to fail"}


def test_the_poll_worker_gets_an_sqs_event_and_only_successes_are_deleted(project: Project) -> None:
    state = project.up()
    sqs = project.client("sqs")
    for group, body in (("ok", {"connection_id": "demo", "resource": "patients"}), ("bad", {"fail": True})):
        sqs.send_message(
            QueueUrl=state.queues["PollQueue"].url,
            MessageBody=json.dumps(body),
            MessageGroupId=group,
            MessageDeduplicationId=group,
        )
    summary = LocalRunner(state, project.root).drain()

    # BatchSize 1: one invocation per job; the worker's put_events reached the action through the bus.
    assert summary.invocations == {"PollWorkerFunction": 2, "MedicalAlertCreateActionFunction": 1}
    (failure,) = summary.failures
    assert failure.error == "batchItemFailures"
    records = [c["record"] for c in project.calls("poll_worker")]
    assert len(records) == 2
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == state.queues["PollQueue"].arn
        assert {"MessageGroupId", "MessageDeduplicationId", "ApproximateReceiveCount"} <= set(record["attributes"])
    assert project.depth(state, "PollQueue") == (0, 1)  # the failed job only
    (action_call,) = project.calls("action")
    assert action_call["event"]["source"] == "cliniko"


def test_one_cycle_runs_the_whole_cascade_from_the_schedule(project: Project) -> None:
    state = project.up()
    summary = LocalRunner(state, project.root).run_once()
    assert summary.invocations == {
        "PollDispatcherFunction": 1,
        "PollWorkerFunction": 1,
        "MedicalAlertCreateActionFunction": 1,
    }
    assert summary.failures == []
    (dispatch,) = project.calls("poll_dispatcher")
    assert dispatch["event"]["detail-type"] == "Scheduled Event"
    assert dispatch["event"]["source"] == "aws.events"
    assert dispatch["queue"] == state.queues["PollQueue"].url


def test_functions_sharing_a_handler_file_get_their_own_module_and_environment(project: Project) -> None:
    medical = ACTIONS["medical_alert.create"]
    other = Action(
        name="patient_note.create",
        resource="patient_notes",
        description="test",
        model=medical.input_model,
        operation=medical.operation,
        sample_input=medical.sample_input,
    )
    project.write_template({medical.name: medical, other.name: other})
    state = project.up()
    project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, REQUEST)
    project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, {**REQUEST, "action": other.name})
    runner = LocalRunner(state, project.root)
    assert runner.drain().invocations == {
        "MedicalAlertCreateActionFunction": 1,
        "PatientNoteCreateActionFunction": 1,
    }
    seen = {
        (c["imported"]["ACTION_NAME"], c["env"]["ACTION_NAME"], c["event"]["detail"]["action"])
        for c in project.calls("action")
    }
    assert seen == {(medical.name, medical.name, medical.name), (other.name, other.name, other.name)}
    result = runner.invoke("PatientNoteCreateActionFunction", {"detail-type": ACTION_REQUESTED, "detail": REQUEST})
    assert result == {"status": "succeeded", "action": other.name}


def test_a_missing_handler_is_a_recorded_failure_and_the_message_stays(project: Project) -> None:
    state = project.up()
    (project.root / "functions" / "action" / "app.py").unlink()
    project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, REQUEST)
    summary = LocalRunner(state, project.root).drain()
    (failure,) = summary.failures
    assert "does not exist" in (failure.error or "")
    assert project.depth(state, ACTION_QUEUE) == (0, 1)
    with pytest.raises(HandlerError):
        LocalRunner(state, project.root).invoke("MedicalAlertCreateActionFunction", {})


def test_run_loops_until_told_to_stop(project: Project) -> None:
    state = project.up()
    runner = LocalRunner(state, project.root)
    summary = runner.run(interval_seconds=0.01, until=lambda: len(project.calls("poll_dispatcher")) >= 2)
    assert summary.invocations["PollDispatcherFunction"] == 2
    assert summary.invocations["MedicalAlertCreateActionFunction"] == 2


def test_the_cli_brings_the_stack_up_runs_it_and_reports(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    template = str(project.root / "template.yaml")
    state_file = str(project.state_path)
    assert main(["local", "up", "--template", template, "--stack-state", state_file]) == 0
    assert "cliniko-connector-local" in capsys.readouterr().out  # Stage defaults to `local`
    assert main(["local", "run", "--once", "--stack-state", state_file]) == 0
    out = capsys.readouterr().out
    assert "3 invocations, 0 failures" in out
    assert main(["local", "status", "--stack-state", state_file]) == 0
    out = capsys.readouterr().out
    assert "PollQueue.fifo" in out and "MedicalAlertCreateActionRule" in out
    event = project.root / "event.json"
    event.write_text(json.dumps({"detail-type": ACTION_REQUESTED, "detail": REQUEST}), encoding="utf-8")
    assert (
        main(
            ["local", "invoke", "MedicalAlertCreateActionFunction", "--event", str(event), "--stack-state", state_file]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"status": "succeeded", "action": "medical_alert.create"}
