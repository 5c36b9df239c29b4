"""Fast structural checks of template.yaml (the slow linters run in `make check-template`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from cliniko_connector.catalog.actions import ACTIONS, Action, Create
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.devtools.template import (
    EXAMPLE_AUTOMATIONS,
    WORKER_TIMEOUT_SECONDS,
    build_template,
    estimate_deployed_resources,
)
from cliniko_connector.eventmodels import ACTION_REQUESTED, ActionRequest
from cliniko_connector.settings import ActionSettings, DispatcherSettings, PollerSettings

BUS_ARN = {"Fn::GetAtt": ["EventBus", "Arn"]}
BUS_NAME = {"Fn::GetAtt": ["EventBus", "Name"]}


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def environment(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    props = template["Resources"][logical_id]["Properties"]
    variables.update(props.get("Environment", {}).get("Variables", {}))
    return variables


def statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in roles and in SAM functions' inline policies."""
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, statement
        if resource["Type"] == "AWS::Serverless::Function":
            for policy in props.get("Policies", []):
                if isinstance(policy, dict) and "Statement" in policy:
                    for statement in policy["Statement"]:
                        yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- actions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_has_a_function(template: dict[str, Any], resources: dict[str, Any], name: str) -> None:
    action = ACTIONS[name]
    function_id = f"{action.function_suffix}ActionFunction"
    function = resources[function_id]
    assert function["Type"] == "AWS::Serverless::Function"
    props = function["Properties"]
    assert props["CodeUri"] == "functions/action/"
    assert props["Handler"] == "app.lambda_handler"
    env = environment(template, function_id)
    assert env["ACTION_NAME"] == name
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    invoke = props["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["ActionFailureQueue", "Arn"]},
    }
    assert template["Outputs"][f"{function_id}Arn"]["Value"] == {"Fn::GetAtt": [function_id, "Arn"]}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_has_a_rule_on_the_bus(resources: dict[str, Any], name: str) -> None:
    action = ACTIONS[name]
    rule = resources[f"{action.function_suffix}ActionRule"]
    assert rule["Type"] == "AWS::Events::Rule"
    props = rule["Properties"]
    assert props["EventBusName"] == BUS_NAME
    assert props["EventPattern"] == {"detail-type": [ACTION_REQUESTED], "detail": {"action": [name]}}
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [f"{action.function_suffix}ActionFunction", "Arn"]}


def test_every_rule_target_retries_has_a_dlq_and_permission(resources: dict[str, Any]) -> None:
    rules = {k: v for k, v in of_type(resources, "AWS::Events::Rule").items() if "EventPattern" in v["Properties"]}
    assert rules
    permissions = {
        (p["Properties"]["FunctionName"]["Ref"], p["Properties"]["SourceArn"]["Fn::GetAtt"][0])
        for p in of_type(resources, "AWS::Lambda::Permission").values()
    }
    for rule_id, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            retry = target["RetryPolicy"]
            assert retry["MaximumRetryAttempts"] >= 1 and retry["MaximumEventAgeInSeconds"] >= 60, rule_id
            assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["RuleTargetDeadLetterQueue", "Arn"]}
            function_id = target["Arn"]["Fn::GetAtt"][0]
            assert (function_id, rule_id) in permissions, f"no lambda permission for {rule_id} → {function_id}"
            if "Condition" in rule:
                permissions_of_rule = [
                    p
                    for p in of_type(resources, "AWS::Lambda::Permission").values()
                    if p["Properties"]["SourceArn"]["Fn::GetAtt"][0] == rule_id
                ]
                permission = permissions_of_rule[0]
                assert permission.get("Condition") == rule["Condition"]


def test_rule_target_dlq_accepts_only_this_bus_rules(resources: dict[str, Any]) -> None:
    policy = resources["RuleTargetDeadLetterQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "RuleTargetDeadLetterQueue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(":rule/${EventBus.Name}/*")


# -- queues and alarms --------------------------------------------------------------------------------------


def dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    """Queues that receive what failed: redrive targets, OnFailure destinations, rule-target DLQs."""
    found: set[str] = set()
    for resource in resources.values():
        props = resource.get("Properties", {})
        if "RedrivePolicy" in props:
            found.add(props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
        on_failure = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
        if on_failure:
            found.add(on_failure["Destination"]["Fn::GetAtt"][0])
        for target in props.get("Targets", []) if resource["Type"] == "AWS::Events::Rule" else []:
            if "DeadLetterConfig" in target:
                found.add(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    return found


def test_every_dead_letter_queue_has_an_alarm(resources: dict[str, Any]) -> None:
    dlqs = dead_letter_queues(resources)
    assert dlqs == {"PollDeadLetterQueue", "ActionFailureQueue", "RuleTargetDeadLetterQueue"}
    alarmed = {}
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        (dimension,) = props["Dimensions"]
        alarmed[dimension["Value"]["Fn::GetAtt"][0]] = props
    for queue in dlqs:
        props = alarmed[queue]
        assert props["Namespace"] == "AWS/SQS"
        assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert props["Threshold"] == 0 and props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }


def test_poll_queue(resources: dict[str, Any]) -> None:
    props = resources["PollQueue"]["Properties"]
    assert props["FifoQueue"] is True and props["ContentBasedDeduplication"] is False
    assert props["VisibilityTimeout"] >= 6 * WORKER_TIMEOUT_SECONDS
    assert resources["PollWorkerFunction"]["Properties"]["Timeout"] == WORKER_TIMEOUT_SECONDS
    assert props["RedrivePolicy"]["maxReceiveCount"] == 3
    assert resources["PollDeadLetterQueue"]["Properties"]["FifoQueue"] is True
    (source,) = resources["PollWorkerFunction"]["Properties"]["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["BatchSize"] == 1
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_every_sqs_queue_is_encrypted(resources: dict[str, Any]) -> None:
    for logical_id, queue in of_type(resources, "AWS::SQS::Queue").items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id


def test_tables(resources: dict[str, Any]) -> None:
    def keys(logical_id: str) -> list[tuple[str, str]]:
        return [(k["AttributeName"], k["KeyType"]) for k in resources[logical_id]["Properties"]["KeySchema"]]

    assert keys("ConnectionsTable") == [("connection_id", "HASH")]
    assert keys("StateTable") == [("pk", "HASH"), ("sk", "RANGE")]
    assert keys("IdempotencyTable") == [("id", "HASH")]
    assert resources["StateTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    assert resources["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expiration"
    for logical_id, table in of_type(resources, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}, logical_id
    for logical_id in ("ConnectionsTable", "StateTable"):
        assert resources[logical_id]["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]


# -- permissions ----------------------------------------------------------------------------------------


def test_put_events_is_limited_to_the_bus(resources: dict[str, Any]) -> None:
    granted = 0
    for logical_id, statement in statements(resources):
        actions = as_list(statement["Action"])
        if any(a in ("events:PutEvents", "events:*", "*") for a in actions):
            assert as_list(statement["Resource"]) == [BUS_ARN], logical_id
            granted += 1
    for logical_id, function in of_type(resources, "AWS::Serverless::Function").items():
        for policy in function["Properties"].get("Policies", []):
            if isinstance(policy, dict) and "EventBridgePutEventsPolicy" in policy:
                assert policy["EventBridgePutEventsPolicy"] == {"EventBusName": BUS_NAME}, logical_id
                granted += 1
    assert granted >= 2  # the poll worker and the action role


def test_secrets_are_read_only_under_the_prefix(resources: dict[str, Any]) -> None:
    for logical_id, statement in statements(resources):
        actions = as_list(statement["Action"])
        if any(a.startswith("secretsmanager:") for a in actions):
            assert actions == ["secretsmanager:GetSecretValue"], logical_id
            (resource,) = as_list(statement["Resource"])
            assert resource["Fn::Sub"].endswith(":secret:cliniko-connector/*"), logical_id


def test_no_statement_grants_everything(resources: dict[str, Any]) -> None:
    for logical_id, statement in statements(resources):
        assert "*" not in as_list(statement["Resource"]), logical_id
        assert not any(a.endswith(":*") or a == "*" for a in as_list(statement["Action"])), logical_id


def test_action_functions_share_one_role(resources: dict[str, Any]) -> None:
    for action in ACTIONS.values():
        props = resources[f"{action.function_suffix}ActionFunction"]["Properties"]
        assert props["Role"] == {"Fn::GetAtt": ["ActionFunctionRole", "Arn"]}
        assert "Policies" not in props


# -- environment ----------------------------------------------------------------------------------------


def required_variables(settings: type[BaseModel]) -> set[str]:
    return {name.upper() for name, field in settings.model_fields.items() if field.is_required()}


@pytest.mark.parametrize(
    ("function_id", "settings"),
    [
        ("PollWorkerFunction", PollerSettings),
        ("PollDispatcherFunction", DispatcherSettings),
        *((f"{a.function_suffix}ActionFunction", ActionSettings) for a in ACTIONS.values()),
    ],
)
def test_functions_get_every_required_setting(
    template: dict[str, Any], function_id: str, settings: type[BaseModel]
) -> None:
    missing = required_variables(settings) - set(environment(template, function_id))
    assert not missing, f"{function_id} lacks {sorted(missing)}"


def test_dispatcher_gets_the_poll_queue_url(template: dict[str, Any]) -> None:
    assert environment(template, "PollDispatcherFunction")["POLL_QUEUE_URL"] == {"Ref": "PollQueue"}


# -- parameters, examples, scale ------------------------------------------------------------------------


def test_parameters(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert "Default" not in params["ClinikoContactEmail"]
    pattern = params["ClinikoContactEmail"]["AllowedPattern"]
    assert re.fullmatch(pattern, "ops@clinic.example")
    assert not re.fullmatch(pattern, "not an email")
    assert params["Stage"]["Default"] == "dev"
    assert params["EnableExampleAutomations"]["AllowedValues"] == ["false", "true"]
    assert params["EnableExampleAutomations"]["Default"] == "false"
    assert 30 in params["LogRetentionDays"]["AllowedValues"]
    used = json.dumps({k: v for k, v in template.items() if k != "Parameters"})
    for name in params:
        assert f'"Ref": "{name}"' in used or f"${{{name}}}" in used, f"parameter {name} is unused"


def test_example_automation_rule(resources: dict[str, Any]) -> None:
    rule = resources["ExampleNewPatientAlertRule"]
    assert rule["Condition"] == "ExampleAutomationsEnabled"
    props = rule["Properties"]
    assert props["EventPattern"] == {"source": [{"Ref": "EventSource"}], "detail-type": ["Patient Created"]}
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["MedicalAlertCreateActionFunction", "Arn"]}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "connection_id": "$.detail.connection_id",
        "patient_id": "$.detail.id",
        "event_key": "$.detail.event_key",
    }
    assert json.loads(transformer["InputTemplate"]) == {
        "connection_id": "<connection_id>",
        "idempotency_key": "<event_key>",
        "input": {"patient_id": "<patient_id>", "name": "New patient: review intake form"},
    }


@pytest.mark.parametrize("example", EXAMPLE_AUTOMATIONS, ids=lambda e: e.logical_id)
def test_examples_deliver_valid_action_requests(example: Any) -> None:
    assert example.trigger in TRIGGERS and example.action in ACTIONS
    filled = json.dumps(example.input_template)
    for placeholder in example.input_paths:
        filled = filled.replace(f"<{placeholder}>", "1000000000000000001")
    request = ActionRequest.model_validate(json.loads(filled))
    ACTIONS[example.action].input_model.model_validate(request.input)


def synthetic_actions(count: int) -> dict[str, Action]:
    template_action = next(iter(ACTIONS.values()))
    actions = {}
    for index in range(count):
        name = f"resource_{index}.create"
        actions[name] = Action(
            name=name,
            resource=f"resource_{index}s",
            description="synthetic",
            input_model=template_action.input_model,
            operation=Create(f"/resource_{index}s"),
            sample_input=template_action.sample_input,
        )
    return actions


def test_examples_must_name_catalog_entries() -> None:
    with pytest.raises(ValueError, match="ExampleNewPatientAlertRule"):
        build_template(synthetic_actions(1))
    assert "EnableExampleAutomations" not in build_template(synthetic_actions(1), examples=())["Parameters"]


def test_the_template_is_driven_by_the_catalog_and_scales_to_40_actions() -> None:
    small = build_template(synthetic_actions(1), examples=())
    big = build_template(synthetic_actions(40), examples=())
    functions = [r for r in big["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) == 40 + 2
    per_action = (estimate_deployed_resources(big) - estimate_deployed_resources(small)) / 39
    assert per_action <= 5
    assert estimate_deployed_resources(big) < 300  # CloudFormation's limit is 500
    assert len(big["Outputs"]) < 200
    assert len(json.dumps(big)) < 400_000  # well under the 1 MB template limit
