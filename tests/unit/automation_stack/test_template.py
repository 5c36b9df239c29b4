"""The automations stack's CloudFormation template: what every target gets, what each kind needs, no secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cliniko_connector.errors import ConfigurationError
from cliniko_tools.automation_stack.cfn import METADATA_KEY, build_template, render, secret_parameter
from cliniko_tools.automation_stack.connector import automations_stack_name
from cliniko_tools.automation_stack.example import example_connector
from cliniko_tools.automation_stack.spec import AutomationSpec, DeploySpec, TargetSpec, from_folder, rule_name
from tests.unit.automation_stack.specs import NO_SHOW, connector, every_kind

ROOT = Path(__file__).resolve().parents[3]
# moto[server] brings cfn-lint into the dev environment: the recipes' template is linted in every `make test`.
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_every_target_retries_and_has_a_dead_letter_queue_with_an_alarm() -> None:
    template = build_template(every_kind(), connector())
    rules = resources(template, "AWS::Events::Rule")
    assert set(rules) == {"NoShowFollowUpRule", "AlertsBySmsRule"}
    for logical_id, rule in rules.items():
        base = logical_id.removesuffix("Rule")
        for target in rule["Properties"]["Targets"]:
            assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [f"{base}DeadLetterQueue", "Arn"]}}
        alarm = template["Resources"][f"{base}DeadLetterQueueAlarm"]["Properties"]
        assert alarm["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{base}DeadLetterQueue", "QueueName"]}}
        ]
        assert alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:alarms"]  # the connector's topic
        policy = template["Resources"][f"{base}DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
        assert policy["Statement"][0]["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [logical_id, "Arn"]}}
        }


def test_rules_sit_on_the_connectors_bus_under_the_connectors_event_source() -> None:
    rule = build_template(every_kind(), connector())["Resources"]["NoShowFollowUpRule"]["Properties"]
    assert rule["Name"] == rule_name("no-show-follow-up") == "automation-no-show-follow-up"
    assert rule["EventBusName"] == "cliniko-connector-dev"
    assert rule["EventPattern"] == {**NO_SHOW, "source": ["cliniko"]}


def test_an_action_target_invokes_the_function_from_the_connectors_outputs_with_a_permission_for_this_rule() -> None:
    template = build_template(every_kind(), connector())
    target = template["Resources"]["NoShowFollowUpRule"]["Properties"]["Targets"][0]
    arn = "arn:aws:lambda:us-east-1:123456789012:function:cliniko-connector-communication-create"
    assert target["Arn"] == arn
    assert target["InputTransformer"]["InputPathsMap"]["connection_id"] == "$.detail.connection_id"
    permission = template["Resources"]["NoShowFollowUpTarget1Permission"]["Properties"]
    assert permission["FunctionName"] == arn
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["NoShowFollowUpRule", "Arn"]}


def test_an_action_the_connector_stack_has_no_function_for_is_refused() -> None:
    spec = DeploySpec(
        automations=[
            AutomationSpec(name="x", pattern=NO_SHOW, targets=[TargetSpec(kind="action", ref="patient.archive")])
        ]
    )
    with pytest.raises(ConfigurationError, match="PatientArchiveActionFunctionArn"):
        build_template(spec, connector())


def test_a_webhook_is_a_connection_and_api_destination_whose_secret_is_a_noecho_parameter() -> None:
    template = build_template(every_kind(), connector())
    parameter = secret_parameter("front-desk")
    assert template["Parameters"][parameter]["NoEcho"] is True
    auth = template["Resources"]["WebhookFrontDeskConnection"]["Properties"]
    assert auth["AuthorizationType"] == "API_KEY"
    assert auth["AuthParameters"]["ApiKeyAuthParameters"] == {
        "ApiKeyName": "X-Api-Key",
        "ApiKeyValue": {"Ref": parameter},
    }
    destination = template["Resources"]["WebhookFrontDeskDestination"]["Properties"]
    assert destination["InvocationEndpoint"] == "https://hooks.example.com/front-desk"
    target = template["Resources"]["NoShowFollowUpRule"]["Properties"]["Targets"][1]
    assert target["Arn"] == {"Fn::GetAtt": ["WebhookFrontDeskDestination", "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": ["TargetRole", "Arn"]}
    role = template["Resources"]["TargetRole"]["Properties"]
    (statement,) = [
        s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if s["Action"] == "events:InvokeApiDestination"
    ]
    assert statement["Resource"] == [{"Fn::GetAtt": ["WebhookFrontDeskDestination", "Arn"]}]


def test_topics_and_queues_named_in_the_files_are_created_once_and_arns_are_used_as_they_are() -> None:
    template = build_template(every_kind(), connector())
    assert template["Resources"]["TopicFrontDeskEmail"]["Properties"]["TopicName"] == "front-desk-email"
    assert template["Resources"]["QueueNoShows"]["Properties"]["QueueName"] == "no-shows"
    sms = template["Resources"]["AlertsBySmsRule"]["Properties"]["Targets"][0]
    assert sms["Arn"] == "arn:aws:sns:us-east-1:123456789012:on-call"
    bus = template["Resources"]["NoShowFollowUpRule"]["Properties"]["Targets"][4]
    assert bus["Arn"] == "arn:aws:events:us-east-1:123456789012:event-bus/clinic-analytics"


def test_the_template_holds_no_secret_and_names_its_stack_after_the_connectors() -> None:
    text = render(build_template(every_kind(), connector()))
    assert "ApiKeyValue" in text and "NoEcho" in text
    assert automations_stack_name("cliniko-connector") == "cliniko-connector-automations"
    metadata = json.loads(text)["Metadata"][METADATA_KEY]
    assert metadata["automations"]["no-show-follow-up"]["rule"] == "automation-no-show-follow-up"


def test_the_recipes_template_passes_cfn_lint() -> None:
    assert CFN_LINT.exists(), "cfn-lint comes with moto[server] in the dev extras: run `make venv`"
    connector = example_connector()
    spec, problems = from_folder(ROOT / "automations" / "recipes", source=connector.event_source)
    assert problems == []
    path = ROOT / ".aws-sam" / "automations-recipes-test.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(render(build_template(spec, connector)), encoding="utf-8")
    try:
        linted = subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, check=False)
    finally:
        path.unlink()
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_topic_the_stack_creates_subscribes_the_files_addresses() -> None:
    spec, problems = from_folder(ROOT / "automations" / "recipes", source="cliniko")
    assert problems == []
    template = build_template(spec, example_connector())
    topics = resources(template, "AWS::SNS::Topic").values()
    subscribed = [s for topic in topics for s in topic["Properties"].get("Subscription", [])]
    assert {"Protocol": "email", "Endpoint": "billing@example.com"} in subscribed


def test_a_waiting_target_is_a_schedule_request_to_the_scheduling_function_and_a_due_rule_to_the_target() -> None:
    spec, problems = from_folder(ROOT / "automations" / "recipes" / "appointment-reminder.yaml", source="cliniko")
    assert problems == []
    connector = example_connector()
    template = build_template(spec, connector)
    rules = {r["Properties"]["Name"]: r["Properties"] for r in resources(template, "AWS::Events::Rule").values()}
    assert set(rules) == {
        "automation-appointment-reminder",
        "automation-appointment-reminder.follow",
        "automation-appointment-reminder.due-1",
    }
    for name in ("automation-appointment-reminder", "automation-appointment-reminder.follow"):
        [target] = rules[name]["Targets"]
        assert target["Arn"] == connector.schedule_function_arn  # not the topic: nothing is sent now
        assert '"event": <aws.events.event.json>' in target["InputTransformer"]["InputTemplate"]
        assert target["RetryPolicy"] and target["DeadLetterConfig"]
    permissions = resources(template, "AWS::Lambda::Permission").values()
    assert sorted(p["Properties"]["FunctionName"] for p in permissions) == [connector.schedule_function_arn] * 2
    due = rules["automation-appointment-reminder.due-1"]
    assert due["EventPattern"]["detail-type"] == ["Scheduled Action Due"]
    assert due["EventPattern"]["detail"] == {"automation": ["appointment-reminder"], "target": [1]}
    [target] = due["Targets"]
    assert target["Arn"] == {"Ref": "TopicAppointmentReminders"}
    assert target["InputTransformer"] == {
        "InputPathsMap": {"message": "$.detail.message"},
        "InputTemplate": "<message>",
    }
    policy = template["Resources"]["TopicAppointmentRemindersPolicy"]["Properties"]["PolicyDocument"]
    # Only the due rule may publish: the automation's own rule never reaches the topic.
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["AppointmentReminderDue1Rule", "Arn"]
    }


def test_a_connector_stack_without_the_scheduling_function_refuses_a_waiting_target_rather_than_running_it() -> None:
    spec, _ = from_folder(ROOT / "automations" / "recipes" / "appointment-reminder.yaml", source="cliniko")
    connector = example_connector().model_copy(update={"schedule_function_arn": ""})
    with pytest.raises(ConfigurationError, match="ScheduleActionsFunctionArn"):
        build_template(spec, connector)
