"""`local up` against an in-process moto server: everything the template declares, idempotently."""

from __future__ import annotations

import json

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_tools.local.endpoint import NotLocalEndpoint
from cliniko_tools.local.stack import StackState, local_target_queue_name
from cliniko_tools.local.template import TemplateError
from tests.integration.local.local_stack_support import REQUEST_SOURCE, Project, bus_rules

pytestmark = pytest.mark.integration


def action_queue(name: str) -> str:
    return local_target_queue_name(f"{ACTIONS[name].function_suffix}ActionRule", "ActionFunction")


def test_up_creates_what_the_template_declares(project: Project) -> None:
    state = project.up()
    dynamodb = project.client("dynamodb")
    assert set(state.tables) == {"ConnectionsTable", "StateTable", "IdempotencyTable"}
    state_table = dynamodb.describe_table(TableName=state.tables["StateTable"].name)["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in state_table["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")]
    ttl = dynamodb.describe_time_to_live(TableName=state.tables["StateTable"].name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    sqs = project.client("sqs")
    poll = sqs.get_queue_attributes(QueueUrl=state.queues["PollQueue"].url, AttributeNames=["All"])["Attributes"]
    assert poll["FifoQueue"] == "true" and poll["ContentBasedDeduplication"] == "false"
    assert poll["VisibilityTimeout"] == "1800"
    redrive = json.loads(poll["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == state.queues["PollDeadLetterQueue"].arn
    assert int(redrive["maxReceiveCount"]) == 3
    assert {"ActionFailureQueue", "RuleTargetDeadLetterQueue", "PollDeadLetterQueue"} <= set(state.queues)

    events = project.client("events")
    assert state.event_buses == {"EventBus": "cliniko-connector-dev"}
    rules = {r["Name"]: r for r in bus_rules(events, "cliniko-connector-dev")}
    for name, action in ACTIONS.items():
        rule = rules[f"{action.function_suffix}ActionRule"]
        assert json.loads(rule["EventPattern"]) == {
            "source": ["cliniko", REQUEST_SOURCE],
            "detail-type": [ACTION_REQUESTED],
            "detail": {"action": [name]},
        }
        (target,) = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="cliniko-connector-dev")["Targets"]
        assert target["Arn"] == state.queues[action_queue(name)].arn
    assert "ExampleNewPatientAlertRule" not in rules

    assert set(state.functions) == {
        "PollDispatcherFunction",
        "PollWorkerFunction",
        "ScheduleActionsFunction",
        "HookFunction",
        *(f"{a.function_suffix}ActionFunction" for a in ACTIONS.values()),
    }
    # The scheduled actions' group exists on moto, named as on AWS (the runner fires its due schedules).
    assert state.schedule_groups == {"ScheduleGroup": f"{state.stack_name}-actions"}
    groups = project.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    assert f"{state.stack_name}-actions" in {g["Name"] for g in groups}
    dispatcher = state.functions["PollDispatcherFunction"]
    assert dispatcher.schedules == ["Schedule"]
    assert dispatcher.environment["POLL_QUEUE_URL"] == state.queues["PollQueue"].url
    assert dispatcher.environment["CONNECTIONS_TABLE"] == state.tables["ConnectionsTable"].name
    assert dispatcher.environment["EVENT_BUS_NAME"] == "cliniko-connector-dev"
    assert dispatcher.environment["CLINIKO_CONTACT_EMAIL"] == "tests@example.com"
    assert dispatcher.environment["AWS_ENDPOINT_URL"] == project.endpoint
    assert dispatcher.environment["AWS_LAMBDA_LOG_LEVEL"] == "INFO"
    assert dispatcher.timeout == 60
    worker = state.functions["PollWorkerFunction"]
    (source,) = worker.sqs_sources
    assert (source.queue, source.batch_size, source.report_batch_item_failures) == ("PollQueue", 1, True)
    action = state.functions["MedicalAlertCreateActionFunction"]
    assert action.environment["ACTION_NAME"] == "medical_alert.create"
    assert action.environment["IDEMPOTENCY_TABLE"] == state.tables["IdempotencyTable"].name
    assert (action.max_retry_attempts, action.on_failure_queue) == (2, "ActionFailureQueue")

    assert StackState.load(project.state_path) == state


def test_up_is_idempotent(project: Project) -> None:
    first = project.up()
    second = project.up()
    assert first == second
    queues = project.client("sqs").list_queues()["QueueUrls"]
    assert len(queues) == len(set(queues)) == len(second.queues)
    rules = bus_rules(project.client("events"), "cliniko-connector-dev")
    assert len(rules) == len(ACTIONS)


def test_a_matching_event_lands_in_its_target_queue_as_eventbridge_would_deliver_it(project: Project) -> None:
    state = project.up()
    detail = {"action": "medical_alert.create", "connection_id": "demo", "input": {"patient_id": "1", "name": "x"}}
    project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, detail)
    (body,) = project.messages(state, action_queue("medical_alert.create"))
    assert body["detail"] == detail
    assert body["detail-type"] == ACTION_REQUESTED and body["source"] == REQUEST_SOURCE


def test_an_event_that_matches_no_rule_lands_nowhere(project: Project) -> None:
    state = project.up()
    project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, {"action": "no_such.action", "connection_id": "demo"})
    project.put_event(state, "tests", "Something Else", {"action": "medical_alert.create"})
    for key in state.queues:
        assert project.depth(state, key) == (0, 0), key


def test_the_example_rule_exists_only_when_enabled_and_transforms_its_input(project: Project) -> None:
    example_queue = local_target_queue_name("ExampleNewPatientAlertRule", "ActionFunction")
    state = project.up(EnableExampleAutomations="true")
    assert state.conditions["ExampleAutomationsEnabled"] is True
    assert "ExampleNewPatientAlertRule" in state.rules
    detail = {"connection_id": "demo", "id": "1000000000000000042", "event_key": "demo:patients:42:created"}
    project.put_event(state, "cliniko", "Patient Created", detail)
    assert project.messages(state, example_queue) == [
        {
            "connection_id": "demo",
            "idempotency_key": "demo:patients:42:created",
            "input": {"patient_id": "1000000000000000042", "name": "New patient: review intake form"},
        }
    ]
    project.client("sqs").purge_queue(QueueUrl=state.queues[example_queue].url)
    project.put_event(state, "somewhere.else", "Patient Created", detail)  # source must be EventSource
    assert project.messages(state, example_queue) == []

    disabled = project.up()
    assert "ExampleNewPatientAlertRule" not in disabled.rules
    names = [r["Name"] for r in bus_rules(project.client("events"), "cliniko-connector-dev")]
    assert "ExampleNewPatientAlertRule" not in names
    queue_names = [u.rsplit("/", 1)[-1] for u in project.client("sqs").list_queues()["QueueUrls"]]
    assert example_queue not in queue_names


@pytest.mark.parametrize(
    "value", [None, "https://sqs.us-east-1.amazonaws.com", "http://10.0.0.8:5000", "http://0.0.0.0:5000"]
)
def test_up_refuses_anything_but_a_loopback_endpoint(
    project: Project, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL")
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", value)
    with pytest.raises(NotLocalEndpoint):
        project.up()
    assert not project.state_path.exists()


def test_up_needs_the_contact_email(project: Project) -> None:
    from cliniko_tools.local.stack import up

    with pytest.raises(TemplateError, match="ClinikoContactEmail"):
        up(project.root / "template.yaml", parameters={}, state_path=project.state_path)
