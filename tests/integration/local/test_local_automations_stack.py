"""The automations stack on the local stack: each target kind delivered for real, plan/deploy/remove, secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cliniko_connector.errors import ConfigurationError
from cliniko_tools.automation_stack.delivery import read_metrics
from cliniko_tools.automation_stack.local import LocalAutomationsStack, metrics_path_for, state_path_for
from cliniko_tools.automation_stack.spec import AutomationSpec, DeploySpec, InputTransformer, TargetSpec, WebhookSpec
from cliniko_tools.local.receiver import Receiver
from cliniko_tools.local.runner import LocalRunner
from tests.integration.local.local_stack_support import Project, bus_rules

SECRET = "s3cr3t-front-desk-key"
NO_SHOW = "Individual Appointment Did Not Arrive"
MEMO = InputTransformer(
    input_paths_map={"connection_id": "$.detail.connection_id", "key": "$.detail.event_key", "id": "$.detail.id"},
    input_template='{"connection_id": "<connection_id>", "idempotency_key": "<key>", '
    '"input": {"patient_id": "<id>", "name": "Did not arrive"}}',
)
TEXT = InputTransformer(input_paths_map={"id": "$.detail.id"}, input_template='{"text": "No-show: appointment <id>"}')


def no_show(endpoint: str = "http://127.0.0.1:9/hook", extra: list[TargetSpec] | None = None) -> DeploySpec:
    return DeploySpec(
        automations=[
            AutomationSpec(
                name="no-show",
                trigger="individual_appointment.did_not_arrive",
                pattern={"detail-type": [NO_SHOW], "detail": {"connection_id": ["northside"]}},
                targets=[
                    TargetSpec(kind="action", ref="medical_alert.create", transformer=MEMO),
                    TargetSpec(kind="webhook", ref="front-desk", transformer=TEXT),
                    *(extra or []),
                ],
            )
        ],
        webhooks={"front-desk": WebhookSpec(name="front-desk", endpoint=endpoint, header="X-Api-Key")},
    )


def publish(project: Project, state: Any, connection: str = "northside", detail_type: str = NO_SHOW) -> None:
    detail = {"connection_id": connection, "id": "777", "event_key": f"{connection}:777", "resource": "x"}
    project.put_event(state, "cliniko", detail_type, detail)


def test_a_deployed_automation_calls_its_action_and_its_webhook_with_the_connections_auth_header(
    project: Project,
) -> None:
    state = project.up()
    with Receiver() as receiver:
        stack = LocalAutomationsStack(state, project.state_path)
        plan = stack.deploy(no_show(receiver.url), {"front-desk": SECRET})
        assert plan.add == ["no-show", "webhook front-desk"]
        publish(project, state)
        publish(project, state, connection="elsewhere")  # the pattern names one connection
        runner = LocalRunner(state, project.root, state_path=project.state_path)
        runner.drain()
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
        assert request.headers["X-Api-Key"] == SECRET
        assert request.json() == {"text": "No-show: appointment 777"}
    calls = project.calls("action")
    assert [c["event"] for c in calls] == [
        {
            "connection_id": "northside",
            "idempotency_key": "northside:777",
            "input": {"patient_id": "777", "name": "Did not arrive"},
        }
    ]
    counts = read_metrics(metrics_path_for(project.state_path))["automation-no-show"]
    assert counts == {"MatchedEvents": 1, "Invocations": 2}


def test_the_webhook_secret_is_in_no_file_the_local_stack_writes(project: Project) -> None:
    state = project.up()
    with Receiver() as receiver:
        LocalAutomationsStack(state, project.state_path).deploy(no_show(receiver.url), {"front-desk": SECRET})
        publish(project, state)
        LocalRunner(state, project.root, state_path=project.state_path).drain()
        assert receiver.requests
    for path in (project.root / ".local").iterdir():
        assert SECRET not in path.read_text(encoding="utf-8"), path


def test_a_webhook_that_refuses_the_call_sends_the_event_to_the_automations_dead_letter_queue(
    project: Project,
) -> None:
    state = project.up()
    with Receiver(status=400) as receiver:
        stack = LocalAutomationsStack(state, project.state_path)
        stack.deploy(no_show(receiver.url), {"front-desk": SECRET})
        publish(project, state)
        LocalRunner(state, project.root, state_path=project.state_path).drain()
        assert len(receiver.requests) == 1  # a 4xx other than 429 is not retried
    recorded = stack.recorded().automations["no-show"]
    dead = project.client("sqs").receive_message(
        QueueUrl=recorded.dlq_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(dead) == 1
    assert json.loads(dead[0]["Body"])["detail"]["id"] == "777"
    assert dead[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "400"
    assert SECRET not in json.dumps(dead)
    counts = read_metrics(metrics_path_for(project.state_path))["automation-no-show"]
    assert counts["FailedInvocations"] == 1


def test_email_queue_and_bus_targets_reach_sns_sqs_and_the_other_bus(project: Project) -> None:
    state = project.up()
    sqs, events, sns = project.client("sqs"), project.client("events"), project.client("sns")
    events.create_event_bus(Name="analytics")
    seen_url = sqs.create_queue(QueueName="seen-on-analytics")["QueueUrl"]
    events.put_rule(Name="all", EventBusName="analytics", EventPattern=json.dumps({"source": ["cliniko"]}))
    events.put_targets(
        Rule="all",
        EventBusName="analytics",
        Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:seen-on-analytics"}],
    )
    spec = DeploySpec(
        automations=[
            AutomationSpec(
                name="fan-out",
                pattern={"detail-type": [NO_SHOW]},
                targets=[
                    TargetSpec(
                        kind="email", ref="front-desk-email", transformer=TEXT, subscriptions=["desk@example.com"]
                    ),
                    TargetSpec(kind="queue", ref="no-shows", transformer=TEXT),
                    TargetSpec(kind="bus", ref="analytics"),
                ],
            )
        ]
    )
    stack = LocalAutomationsStack(state, project.state_path)
    stack.deploy(spec, {})
    topic = next(t for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":front-desk-email"))["TopicArn"]
    mail_url = sqs.create_queue(QueueName="mail-copy")["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:123456789012:mail-copy")
    publish(project, state)
    LocalRunner(state, project.root, state_path=project.state_path).drain()
    mail = sqs.receive_message(QueueUrl=mail_url)["Messages"]
    assert json.loads(json.loads(mail[0]["Body"])["Message"]) == {"text": "No-show: appointment 777"}
    queued = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName="no-shows")["QueueUrl"])["Messages"]
    assert json.loads(queued[0]["Body"]) == {"text": "No-show: appointment 777"}
    forwarded = sqs.receive_message(QueueUrl=seen_url)["Messages"]
    assert json.loads(forwarded[0]["Body"])["detail"]["id"] == "777"


def test_plan_diffs_against_what_was_deployed_and_remove_takes_the_rule_away(project: Project) -> None:
    state = project.up()
    stack = LocalAutomationsStack(state, project.state_path)
    first = no_show()
    assert stack.plan(first).add == ["no-show", "webhook front-desk"]
    stack.deploy(first, {"front-desk": SECRET})
    assert stack.plan(first).empty
    changed = no_show(extra=[TargetSpec(kind="queue", ref="no-shows")])
    plan = stack.plan(changed)
    assert (plan.add, plan.change, plan.remove) == ([], ["no-show"], [])
    assert plan.details["no-show"] == ["+ target queue no-shows"]
    assert stack.plan(DeploySpec()).remove == ["no-show", "webhook front-desk"]
    assert stack.remove("no-show")
    rules = bus_rules(project.client("events"), state.event_buses["EventBus"])
    assert "automation-no-show" not in {r["Name"] for r in rules}
    assert stack.recorded().webhooks == {}


def test_a_new_webhook_needs_its_secret_and_a_remote_endpoint_is_refused_locally(project: Project) -> None:
    state = project.up()
    stack = LocalAutomationsStack(state, project.state_path)
    with pytest.raises(ConfigurationError, match="need a secret"):
        stack.deploy(no_show(), {})
    with pytest.raises(ConfigurationError, match="only loopback"):
        stack.deploy(no_show("https://hooks.example.com/x"), {"front-desk": SECRET})
    assert not state_path_for(project.state_path).exists()


def test_local_up_again_keeps_the_automation_rules(project: Project) -> None:
    state = project.up()
    LocalAutomationsStack(state, project.state_path).deploy(no_show(), {"front-desk": SECRET})
    state = project.up()
    rules = bus_rules(project.client("events"), state.event_buses["EventBus"])
    assert "automation-no-show" in {r["Name"] for r in rules}


def test_the_state_file_lives_next_to_the_stacks(project: Project) -> None:
    assert state_path_for(project.state_path) == Path(project.state_path).parent / "automations.json"


def test_what_a_restarted_moto_server_no_longer_holds_is_planned_again(project: Project) -> None:
    state = project.up()
    stack = LocalAutomationsStack(state, project.state_path)
    stack.deploy(no_show(), {"front-desk": SECRET})
    events = project.client("events")
    events.remove_targets(
        Rule="automation-no-show", EventBusName=state.event_buses["EventBus"], Ids=["action1", "webhook2"]
    )
    events.delete_rule(Name="automation-no-show", EventBusName=state.event_buses["EventBus"])
    events.delete_connection(Name="automation-front-desk")
    assert stack.plan(no_show()).add == ["no-show", "webhook front-desk"]
