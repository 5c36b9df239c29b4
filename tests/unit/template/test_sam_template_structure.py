"""Fast structural checks of template.yaml: what the code relies on being there, and nothing wider than it
needs (the slow linters run in `make check-template`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from cliniko_connector.catalog.actions import ACTIONS, Action, Create
from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE, TRIGGERS
from cliniko_connector.eventmodels import ACTION_REQUESTED, ActionRequest
from cliniko_connector.settings import (
    ActionSettings,
    DispatcherSettings,
    HookSettings,
    PollWorkerSettings,
    ScheduleSettings,
)
from cliniko_tools.devtools.template import (
    DEAD_LETTER_QUEUES,
    EXAMPLE_AUTOMATIONS,
    POWERTOOLS_ENVIRONMENT,
    PYDANTIC_ENVIRONMENT,
    WORKER_MAX_CONCURRENCY,
    WORKER_TIMEOUT_SECONDS,
    build_template,
)

BUS_ARN = {"Fn::GetAtt": ["EventBus", "Arn"]}
BUS_NAME = {"Fn::GetAtt": ["EventBus", "Name"]}
KMS_KEY = {"Fn::If": ["CreateKmsKey", {"Fn::GetAtt": ["KmsKey", "Arn"]}, {"Ref": "KmsKeyArn"}]}
ALARM_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
ROLE_OF_KIND = {
    "PollDispatcherFunction": "PollDispatcherRole",
    "PollWorkerFunction": "PollWorkerRole",
    "ScheduleActionsFunction": "ScheduleActionsRole",
    "HookFunction": "HookFunctionRole",
}
# The only actions AWS lets no role scope to a resource, so the only ones that may say Resource "*".
# (Business metrics go out as EMF log lines, so no role needs cloudwatch:PutMetricData at all.)
STAR_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData"}


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def functions(resources: dict[str, Any]) -> dict[str, Any]:
    return of_type(resources, "AWS::Serverless::Function")


def environment(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    props = template["Resources"][logical_id]["Properties"]
    variables.update(props.get("Environment", {}).get("Variables", {}))
    return variables


def role_of(resources: dict[str, Any], function_id: str) -> str:
    role = resources[function_id]["Properties"]["Role"]
    assert role == {"Fn::GetAtt": [role["Fn::GetAtt"][0], "Arn"]}, function_id
    return str(role["Fn::GetAtt"][0])


def role_statements(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    role = resources[role_id]
    assert role["Type"] == "AWS::IAM::Role"
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in roles and in SAM functions' inline policies."""
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for statement in role_statements(resources, logical_id):
                yield logical_id, statement
        if resource["Type"] == "AWS::Serverless::Function":
            for policy in props.get("Policies", []):
                if isinstance(policy, dict) and "Statement" in policy:
                    for statement in policy["Statement"]:
                        yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allows(resources: dict[str, Any], role_id: str, action: str, resource: Any) -> bool:
    return any(
        action in as_list(s["Action"]) and resource in as_list(s["Resource"])
        for s in role_statements(resources, role_id)
    )


# -- triggers: every stream the catalog names can be polled -----------------------------------------------


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_every_trigger_stream_is_pollable(template: dict[str, Any], resources: dict[str, Any], name: str) -> None:
    stream = STREAMS_BY_RESOURCE[TRIGGERS[name].resource]  # the worker polls any stream of the catalog
    assert name in {t.name for t in stream.triggers}
    worker = resources["PollWorkerFunction"]["Properties"]
    assert worker["CodeUri"] == "functions/poll_worker/"
    env = environment(template, "PollWorkerFunction")
    assert env["STATE_TABLE"] == {"Ref": "StateTable"}
    assert env["CONNECTIONS_TABLE"] == {"Ref": "ConnectionsTable"}
    assert env["EVENT_BUS_NAME"] == BUS_NAME
    role = role_of(resources, "PollWorkerFunction")
    assert allows(resources, role, "events:PutEvents", BUS_ARN)
    assert allows(resources, role, "dynamodb:Query", {"Fn::GetAtt": ["StateTable", "Arn"]})
    assert allows(resources, role, "sqs:ReceiveMessage", {"Fn::GetAtt": ["PollQueue", "Arn"]})
    (source,) = worker["Events"].values()
    assert source["Properties"]["Queue"] == {"Fn::GetAtt": ["PollQueue", "Arn"]}
    assert environment(template, "PollDispatcherFunction")["POLL_QUEUE_URL"] == {"Ref": "PollQueue"}


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
    assert props["EventPattern"] == {
        "source": [{"Ref": "EventSource"}, {"Ref": "ActionRequestSource"}],
        "detail-type": [ACTION_REQUESTED],
        "detail": {"action": [name]},
    }
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [f"{action.function_suffix}ActionFunction", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleTargetDeadLetterQueue", "Arn"]}}


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


def test_the_poll_schedule_retries_and_has_a_dlq(resources: dict[str, Any]) -> None:
    (event,) = resources["PollDispatcherFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "Schedule"
    props = event["Properties"]
    assert props["Name"] == {"Fn::Sub": "cliniko-connector-${Stage}-poll-tick"}
    assert props["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert props["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleTargetDeadLetterQueue", "Arn"]}}


def test_rule_target_dlq_accepts_only_this_stacks_rules(resources: dict[str, Any]) -> None:
    policy = resources["RuleTargetDeadLetterQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "RuleTargetDeadLetterQueue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    sources = [arn["Fn::Sub"] for arn in statement["Condition"]["ArnLike"]["aws:SourceArn"]]
    assert [s.rsplit(":", 1)[-1] for s in sources] == [
        "rule/${EventBus.Name}/*",
        "rule/cliniko-connector-${Stage}-poll-tick",
    ]


def test_the_bus_dlq_accepts_only_this_bus(resources: dict[str, Any]) -> None:
    bus = resources["EventBus"]["Properties"]
    assert bus["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EventBusDeadLetterQueue", "Arn"]}}
    (statement,) = resources["EventBusDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": BUS_ARN}}


# -- queues and alarms --------------------------------------------------------------------------------------


def dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    """Queues that receive what failed: redrive targets, OnFailure destinations, rule-target and bus DLQs."""
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
        for event in props.get("Events", {}).values() if resource["Type"] == "AWS::Serverless::Function" else []:
            if "DeadLetterConfig" in event.get("Properties", {}):
                found.add(event["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
        if resource["Type"] == "AWS::Events::EventBus" and "DeadLetterConfig" in props:
            found.add(props["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
        # The DLQ of the one-time schedules the scheduling function makes (their target's DeadLetterConfig).
        variables = props.get("Environment", {}).get("Variables", {})
        if "SCHEDULE_DEAD_LETTER_ARN" in variables:
            found.add(variables["SCHEDULE_DEAD_LETTER_ARN"]["Fn::GetAtt"][0])
    return found


def test_every_dead_letter_queue_has_an_alarm(resources: dict[str, Any]) -> None:
    dlqs = dead_letter_queues(resources)
    assert dlqs == set(DEAD_LETTER_QUEUES)
    alarmed = {}
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == "AWS/SQS" and props["MetricName"] == "ApproximateNumberOfMessagesVisible":
            (dimension,) = props["Dimensions"]
            alarmed[dimension["Value"]["Fn::GetAtt"][0]] = props
    for queue in dlqs:
        props = alarmed[queue]
        assert props["Threshold"] == 0 and props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["AlarmActions"] == ALARM_ACTIONS


def test_every_async_hop_declares_retries_and_keeps_failures(resources: dict[str, Any]) -> None:
    for function_id, function in functions(resources).items():
        props = function["Properties"]
        if function_id == "PollWorkerFunction":  # synchronous from SQS: redrive after 3 receives
            assert resources["PollQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 3
            continue
        if function_id == "HookFunction":  # synchronous from its URL: the caller gets the error and resends
            assert props["FunctionUrlConfig"]["AuthType"] == "NONE" and "Events" not in props
            continue
        invoke = props["EventInvokeConfig"]
        assert "MaximumRetryAttempts" in invoke and "MaximumEventAgeInSeconds" in invoke, function_id
        assert invoke["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] in DEAD_LETTER_QUEUES


def test_every_alarm_notifies_the_optional_topic(resources: dict[str, Any]) -> None:
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= len(DEAD_LETTER_QUEUES) + 5
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == ALARM_ACTIONS == props["OKActions"], logical_id
        assert props["TreatMissingData"] == "notBreaching", logical_id
        assert props["AlarmDescription"]["Fn::Sub"].startswith("cliniko-connector ${Stage}: "), logical_id


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
    # Bounds concurrent pollers; the request rate per key is the rate budget's job (docs/security.md).
    assert source["Properties"]["ScalingConfig"] == {"MaximumConcurrency": WORKER_MAX_CONCURRENCY}
    assert 2 <= WORKER_MAX_CONCURRENCY <= 10


# -- encryption ---------------------------------------------------------------------------------------------


def test_the_stack_key(template: dict[str, Any], resources: dict[str, Any]) -> None:
    key = resources["KmsKey"]
    assert key["Condition"] == "CreateKmsKey"
    assert template["Conditions"]["CreateKmsKey"] == {"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}
    assert key["DeletionPolicy"] == "Retain"  # the retained tables would be unreadable without it
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True
    policy = {s["Sid"]: s for s in props["KeyPolicy"]["Statement"]}
    logs = policy["CloudWatchLogsEncryptsThisStacksLogGroups"]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"].endswith(
        ":log-group:/aws/lambda/${AWS::StackName}/*"
    )
    bus = policy["EventBridgeEncryptsTheBusAndItsArchive"]
    context = bus["Condition"]["StringEquals"]["kms:EncryptionContext:aws:events:event-bus:arn"]["Fn::Sub"]
    assert context.endswith(":event-bus/cliniko-connector-${Stage}")
    assert resources["EventBus"]["Properties"]["Name"] == {"Fn::Sub": "cliniko-connector-${Stage}"}
    for statement in props["KeyPolicy"]["Statement"]:
        assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}
    assert template["Outputs"]["KmsKeyArn"]["Value"] == KMS_KEY


def test_every_store_is_encrypted_with_the_stack_key(resources: dict[str, Any]) -> None:
    for logical_id, table in of_type(resources, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": KMS_KEY,
        }, logical_id
    for logical_id, queue in of_type(resources, "AWS::SQS::Queue").items():
        assert queue["Properties"]["KmsMasterKeyId"] == KMS_KEY, logical_id
    for logical_id, group in of_type(resources, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["KmsKeyId"] == KMS_KEY, logical_id
    assert resources["EventBus"]["Properties"]["KmsKeyIdentifier"] == KMS_KEY
    assert resources["EventArchive"]["Properties"]["KmsKeyIdentifier"] == KMS_KEY


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
    for logical_id in ("ConnectionsTable", "StateTable"):
        assert resources[logical_id]["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert resources[logical_id]["DeletionPolicy"] == "Retain"


# -- permissions ----------------------------------------------------------------------------------------


def test_every_function_has_its_own_kind_of_role_and_no_sam_policies(resources: dict[str, Any]) -> None:
    for function_id, function in functions(resources).items():
        expected = ROLE_OF_KIND.get(function_id, "ActionFunctionRole")
        assert role_of(resources, function_id) == expected, function_id
        assert "Policies" not in function["Properties"], function_id
    for role_id in {*ROLE_OF_KIND.values(), "ActionFunctionRole"}:
        assert "ManagedPolicyArns" not in resources[role_id]["Properties"], role_id


def test_put_events_is_limited_to_the_bus(resources: dict[str, Any]) -> None:
    granted = set()
    for logical_id, statement in statements(resources):
        actions = as_list(statement["Action"])
        if any(a in ("events:PutEvents", "events:*", "*") for a in actions):
            assert as_list(statement["Resource"]) == [BUS_ARN], logical_id
            granted.add(logical_id)
    # The dispatcher publishes nothing; the scheduler's role puts only due scheduled actions.
    assert granted == {
        "PollWorkerRole",
        "ActionFunctionRole",
        "HookFunctionRole",
        "ScheduleActionsRole",
        "SchedulerTargetRole",
    }


def test_secrets_are_read_only_under_the_prefix(resources: dict[str, Any]) -> None:
    readers = set()
    for logical_id, statement in statements(resources):
        actions = as_list(statement["Action"])
        if any(a.startswith("secretsmanager:") for a in actions):
            assert actions == ["secretsmanager:GetSecretValue"], logical_id
            (resource,) = as_list(statement["Resource"])
            hooks_only = statement["Effect"] == "Deny" or logical_id == "HookFunctionRole"
            folder = "hooks/*" if hooks_only else "*"
            assert resource["Fn::Sub"].endswith(f":secret:cliniko-connector/${{AWS::StackName}}/{folder}"), logical_id
            if statement["Effect"] == "Allow":
                readers.add(logical_id)
    assert readers == {"PollWorkerRole", "ActionFunctionRole", "HookFunctionRole"}


def test_no_statement_grants_everything(resources: dict[str, Any]) -> None:
    starred = set()
    for logical_id, statement in statements(resources):
        actions = as_list(statement["Action"])
        assert not any(a.endswith(":*") or a == "*" for a in actions), logical_id
        # The one Deny keeps hooks' secrets from the API-key readers (test_secrets_are_read_only_under_the_prefix).
        assert statement["Effect"] == "Allow" or statement["Sid"] == "NoHookSecrets"
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= STAR_RESOURCE_ACTIONS, f"{logical_id}: {actions} on *"
            starred.update(actions)
    assert starred == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_queues_and_tables_are_only_reached_by_their_own_arns(resources: dict[str, Any]) -> None:
    owned = {*of_type(resources, "AWS::SQS::Queue"), *of_type(resources, "AWS::DynamoDB::Table")}
    for logical_id, statement in statements(resources):
        actions = as_list(statement["Action"])
        if any(a.startswith(("sqs:", "dynamodb:")) for a in actions):
            for resource in as_list(statement["Resource"]):
                assert resource["Fn::GetAtt"][0] in owned and resource["Fn::GetAtt"][1] == "Arn", logical_id


def test_logs_go_only_to_the_functions_own_groups(resources: dict[str, Any]) -> None:
    for logical_id, statement in statements(resources):
        if any(a.startswith("logs:") for a in as_list(statement["Action"])):
            assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
            for resource in as_list(statement["Resource"]):
                text = json.dumps(resource)
                assert "LogGroup" in text or ":log-group:/aws/lambda/${AWS::StackName}/" in text, logical_id


def test_the_key_is_used_only_through_the_services_that_store_data(resources: dict[str, Any]) -> None:
    for role_id in ("PollDispatcherRole", "PollWorkerRole", "ActionFunctionRole"):
        (statement,) = [s for s in role_statements(resources, role_id) if s["Action"][0].startswith("kms:")]
        assert statement["Resource"] == KMS_KEY
        assert "kms:Decrypt" in statement["Action"] and "kms:GenerateDataKey" in statement["Action"]
        via = [v["Fn::Sub"].split(".")[0] for v in statement["Condition"]["StringEquals"]["kms:ViaService"]]
        assert set(via) <= {"sqs", "dynamodb", "secretsmanager"}, role_id
        assert "sqs" in via and "dynamodb" in via, role_id


# -- logs -----------------------------------------------------------------------------------------------


def test_every_function_has_a_log_group_with_retention(resources: dict[str, Any]) -> None:
    for function_id, function in functions(resources).items():
        group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        group = resources[group_id]
        assert group["Type"] == "AWS::Logs::LogGroup", function_id
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        # Named after the root stack (the roles and the key policy say so), a nested stack's under its family.
        name = group["Properties"]["LogGroupName"]["Fn::Sub"]
        assert re.fullmatch(rf"/aws/lambda/\$\{{AWS::StackName\}}/([a-z0-9_]+/)?{function_id}", name), name
        assert ("/" in name.removeprefix("/aws/lambda/${AWS::StackName}/")) == (function_id.endswith("ActionFunction"))


# -- environment ----------------------------------------------------------------------------------------


def required_variables(settings: type[BaseModel]) -> set[str]:
    return {name.upper() for name, field in settings.model_fields.items() if field.is_required()}


@pytest.mark.parametrize(
    ("function_id", "settings"),
    [
        ("PollWorkerFunction", PollWorkerSettings),
        ("PollDispatcherFunction", DispatcherSettings),
        ("ScheduleActionsFunction", ScheduleSettings),
        *((f"{a.function_suffix}ActionFunction", ActionSettings) for a in ACTIONS.values()),
    ],
)
def test_functions_get_every_required_setting(
    template: dict[str, Any], function_id: str, settings: type[BaseModel]
) -> None:
    missing = required_variables(settings) - set(environment(template, function_id))
    assert not missing, f"{function_id} lacks {sorted(missing)}"


def test_every_variable_a_function_gets_is_a_setting_it_reads(template: dict[str, Any]) -> None:
    known = {
        name.upper()
        for s in (PollWorkerSettings, DispatcherSettings, ActionSettings, ScheduleSettings, HookSettings)
        for name in s.model_fields
    }
    for function_id in functions(template["Resources"]):
        read_by_libraries = {"POWERTOOLS_SERVICE_NAME", *POWERTOOLS_ENVIRONMENT, *PYDANTIC_ENVIRONMENT}
        unknown = set(environment(template, function_id)) - known - read_by_libraries
        assert not unknown, f"{function_id}: {sorted(unknown)} is read by nothing"


def test_the_worker_gets_the_default_payload_mode(template: dict[str, Any]) -> None:
    assert environment(template, "PollWorkerFunction")["DEFAULT_PAYLOAD_MODE"] == {"Ref": "DefaultPayloadMode"}
    assert template["Parameters"]["DefaultPayloadMode"]["AllowedValues"] == ["full", "minimal"]


def test_metrics_carry_the_stage_in_their_service_dimension(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Fn::Sub": "cliniko-connector-${Stage}"}


# -- parameters, outputs, examples, scale ---------------------------------------------------------------


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
    assert params["LogLevel"]["Default"] == "INFO"
    for name in ("KmsKeyArn", "AlarmTopicArn"):
        assert params[name]["Default"] == ""
        assert re.fullmatch(params[name]["AllowedPattern"], "")
    assert re.fullmatch(params["KmsKeyArn"]["AllowedPattern"], "arn:aws:kms:eu-west-1:123456789012:key/1a-2b")
    assert re.fullmatch(params["AlarmTopicArn"]["AllowedPattern"], "arn:aws:sns:eu-west-1:123456789012:ops")
    assert not re.fullmatch(params["AlarmTopicArn"]["AllowedPattern"], "ops@clinic.example")
    used = json.dumps({k: v for k, v in template.items() if k != "Parameters"})
    for name in params:
        assert f'"Ref": "{name}"' in used or f"${{{name}}}" in used, f"parameter {name} is unused"


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for name in (
        "EventBusName",
        "EventBusArn",
        "EventArchiveArn",
        "ConnectionsTableName",
        "StateTableName",
        "IdempotencyTableName",
        "KmsKeyArn",
        "DashboardName",
        "SchemaRegistryName",
        "CliEnvironment",
        *(f"{queue}Url" for queue in DEAD_LETTER_QUEUES),
    ):
        assert name in outputs, name
    text, variables = outputs["CliEnvironment"]["Value"]["Fn::Sub"]
    words = dict(word.split("=", 1) for word in text.split(" "))
    assert {"CONNECTIONS_TABLE", "STATE_TABLE", "EVENT_BUS_NAME", "IDEMPOTENCY_TABLE", "CLINIKO_CONTACT_EMAIL"} <= set(
        words
    )
    assert words["SECRETS_KMS_KEY_ID"] == "${KeyArn}" and variables == {"KeyArn": KMS_KEY}
    # What `dlq` and `replay` read on AWS.
    assert words["POLL_DLQ_URL"] == "${PollDeadLetterQueue}"
    assert words["ACTION_FAILURE_QUEUE_URL"] == "${ActionFailureQueue}"
    assert words["RULE_TARGET_DLQ_URL"] == "${RuleTargetDeadLetterQueue}"
    assert words["EVENT_ARCHIVE_ARN"] == "${EventArchive.Arn}"


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
            model=template_action.input_model,
            operation=Create(f"/resource_{index}s"),
            sample_input=template_action.sample_input,
        )
    return actions


def test_examples_must_name_catalog_entries() -> None:
    with pytest.raises(ValueError, match="ExampleNewPatientAlertRule"):
        build_template(synthetic_actions(1))
    assert "EnableExampleAutomations" not in build_template(synthetic_actions(1), examples=())["Parameters"]
