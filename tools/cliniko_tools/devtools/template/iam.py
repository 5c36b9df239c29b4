"""IAM: one role per function kind, every statement scoped to this stack's resources."""

from __future__ import annotations

from typing import Any

from cliniko_connector.adapters.dynamodb import HOOK_PK_PREFIX as DYNAMO_HOOK_PK_PREFIX
from cliniko_connector.adapters.dynamodb import HOOKS_PK as DYNAMO_HOOKS_PK
from cliniko_tools.devtools.template.intrinsics import ARN_PREFIX, arn_of, get_att, ref, sub
from cliniko_tools.devtools.template.names import (
    HOOK_SECRETS_ARN,
    KMS_KEY_ARN,
    LOG_GROUP_PREFIX,
    SECRET_OWNER_TAG,
    SECRETS_ARN,
)
from cliniko_tools.devtools.template.stack import Stack

HOOKS_PARTITION: str = DYNAMO_HOOKS_PK
HOOK_PARTITION_PREFIX: str = DYNAMO_HOOK_PK_PREFIX


def _allow(sid: str, actions: list[str], resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


# X-Ray's write APIs take no resource: the one place a role says `*` (tests list it explicitly).
XRAY_STATEMENT = _allow("XRayTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*")


def add_roles(stack: Stack) -> None:
    stack.add(
        "PollDispatcherRole",
        _role(
            "Poll dispatcher: reads connections, enqueues poll jobs.",
            [
                _logs([get_att("PollDispatcherFunctionLogGroup", "Arn")]),
                _allow("ListConnections", ["dynamodb:Scan"], arn_of("ConnectionsTable")),
                _allow("EnqueuePollJobs", ["sqs:SendMessage"], get_att("PollQueue", "Arn")),
                _allow("OnFailureDestination", ["sqs:SendMessage"], get_att("PollDispatcherFailureQueue", "Arn")),
                _kms_use("sqs", "dynamodb"),
                XRAY_STATEMENT,
            ],
        ),
    )
    stack.add(
        "PollWorkerRole",
        _role(
            "Poll worker: polls Cliniko with the connection's key, keeps stream state, publishes trigger events.",
            [
                _logs([get_att("PollWorkerFunctionLogGroup", "Arn")]),
                _allow(
                    "ConsumePollJobs",
                    [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                    ],
                    get_att("PollQueue", "Arn"),
                ),
                _allow(
                    "StreamStateAndRateBudget",
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:Query",
                        "dynamodb:BatchGetItem",
                        "dynamodb:BatchWriteItem",
                    ],
                    arn_of("StateTable"),
                ),
                _allow("ReadConnections", ["dynamodb:GetItem"], arn_of("ConnectionsTable")),
                _read_api_keys(),
                NO_HOOK_SECRETS,
                _allow("PublishTriggerEvents", ["events:PutEvents"], get_att("EventBus", "Arn")),
                _kms_use("sqs", "dynamodb", "secretsmanager"),
                XRAY_STATEMENT,
            ],
        ),
    )
    stack.add(
        "ActionFunctionRole",
        _role(
            "Shared by every action function: they all need the same access, and 45 roles would be noise.",
            [
                _logs(
                    [
                        sub(
                            f"{ARN_PREFIX}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:"
                            f"{LOG_GROUP_PREFIX}*ActionFunction:*"
                        )
                    ]
                ),
                _allow(
                    "IdempotencyRecords",
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    arn_of("IdempotencyTable"),
                ),
                _allow("SharedRateBudget", ["dynamodb:GetItem", "dynamodb:UpdateItem"], arn_of("StateTable")),
                _allow("ReadConnections", ["dynamodb:GetItem"], arn_of("ConnectionsTable")),
                _read_api_keys(),
                NO_HOOK_SECRETS,
                _allow("PublishOutcomeEvents", ["events:PutEvents"], get_att("EventBus", "Arn")),
                _allow("OnFailureDestination", ["sqs:SendMessage"], get_att("ActionFailureQueue", "Arn")),
                _kms_use("sqs", "dynamodb", "secretsmanager"),
                XRAY_STATEMENT,
            ],
        ),
    )

    stack.add(
        "HookFunctionRole",
        _role(
            "Inbound hooks: reads hook rows and their secrets, guards replays and rates, puts action requests.",
            [
                _logs([get_att("HookFunctionLogGroup", "Arn")]),
                # Only the hook items of the state table: the definitions' partition and each hook's ledger.
                _allow(
                    "ReadHookDefinitions",
                    ["dynamodb:GetItem"],
                    arn_of("StateTable"),
                    {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [HOOKS_PARTITION]}},
                ),
                _allow(
                    "HookReplayMarksRatesAndLog",
                    ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    arn_of("StateTable"),
                    {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{HOOK_PARTITION_PREFIX}*"]}},
                ),
                _allow("ReadConnections", ["dynamodb:GetItem"], arn_of("ConnectionsTable")),
                _allow(
                    "ReadThisStacksHookSecrets",
                    ["secretsmanager:GetSecretValue"],
                    HOOK_SECRETS_ARN,
                    {"StringEquals": {f"secretsmanager:ResourceTag/{SECRET_OWNER_TAG}": ref("AWS::StackName")}},
                ),
                _allow("PutActionRequests", ["events:PutEvents"], get_att("EventBus", "Arn")),
                _kms_use("dynamodb", "secretsmanager"),
                XRAY_STATEMENT,
            ],
        ),
    )


# The API-key readers never read a hook's secret: the prefix they read holds both.
NO_HOOK_SECRETS: dict[str, Any] = {
    "Sid": "NoHookSecrets",
    "Effect": "Deny",
    "Action": ["secretsmanager:GetSecretValue"],
    "Resource": HOOK_SECRETS_ARN,
}


SCHEDULE_GROUP_NAME = "${AWS::StackName}-actions"
SCHEDULES_ARN = sub(f"{ARN_PREFIX}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/{SCHEDULE_GROUP_NAME}/*")
LEDGER_KEYS = "SCHEDULE#*"  # the scheduling function's rows in the state table (adapters/scheduler.py)


def add_schedule_roles(stack: Stack) -> None:
    """The scheduling function may make, change and delete schedules of the stack's group only, pass only the
    scheduler's role, and touch only its own rows of the state table; the scheduler's role may only put events
    on the stack's bus and send what it couldn't to its dead-letter queue."""
    stack.add(
        "ScheduleActionsRole",
        _role(
            "Scheduling function: one-time schedules of the stack's group, its ledger rows, Moved/Dropped events.",
            [
                _logs([get_att("ScheduleActionsFunctionLogGroup", "Arn")]),
                _allow(
                    "SchedulesOfThisStacksGroup",
                    [
                        "scheduler:GetSchedule",
                        "scheduler:CreateSchedule",
                        "scheduler:UpdateSchedule",
                        "scheduler:DeleteSchedule",
                    ],
                    SCHEDULES_ARN,
                ),
                _allow(
                    "PassOnlyTheSchedulerRole",
                    ["iam:PassRole"],
                    get_att("SchedulerTargetRole", "Arn"),
                    {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
                ),
                _allow(
                    "OwnLedgerRowsOnly",
                    ["dynamodb:GetItem", "dynamodb:PutItem"],
                    arn_of("StateTable"),
                    {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [LEDGER_KEYS]}},
                ),
                _allow("PublishScheduleEvents", ["events:PutEvents"], get_att("EventBus", "Arn")),
                _allow("OnFailureDestination", ["sqs:SendMessage"], get_att("ScheduleActionsFailureQueue", "Arn")),
                _kms_use("sqs", "dynamodb", "scheduler"),
                XRAY_STATEMENT,
            ],
        ),
    )
    role = _role(
        "EventBridge Scheduler: puts due scheduled actions on the stack's bus.",
        [
            _allow("PutDueActionsOnTheBus", ["events:PutEvents"], get_att("EventBus", "Arn")),
            _allow("DeadLetters", ["sqs:SendMessage"], get_att("ScheduledActionDeadLetterQueue", "Arn")),
            _kms_use("sqs", "scheduler", "events"),
        ],
    )
    role["Properties"]["AssumeRolePolicyDocument"]["Statement"] = [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")},
                "ArnLike": {"aws:SourceArn": SCHEDULES_ARN},
            },
        }
    ]
    stack.add("SchedulerTargetRole", role)


def _read_api_keys() -> dict[str, Any]:
    """This stack's API-key secrets only: named under its prefix and tagged as its own by `connections add`."""
    return _allow(
        "ReadThisStacksClinikoApiKeys",
        ["secretsmanager:GetSecretValue"],
        SECRETS_ARN,
        {"StringEquals": {f"secretsmanager:ResourceTag/{SECRET_OWNER_TAG}": ref("AWS::StackName")}},
    )


def _logs(log_group_arns: list[Any]) -> dict[str, Any]:
    return _allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], log_group_arns)


def _kms_use(*services: str) -> dict[str, Any]:
    """The stack key, only as used by the services that store this function's data on its behalf."""
    return _allow(
        "UseTheStackKeyThroughItsServices",
        ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
        KMS_KEY_ARN,
        {"StringEquals": {"kms:ViaService": [sub(f"{s}.${{AWS::Region}}.amazonaws.com") for s in services]}},
    )


def _role(description: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": description,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            },
            "Policies": [
                {"PolicyName": "least-privilege", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}
            ],
        },
    }
