"""The event bus, its archive, and the bus policy that says who may put what on it."""

from __future__ import annotations

from typing import Any

from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_tools.devtools.template.intrinsics import get_att, if_, ref, sub
from cliniko_tools.devtools.template.names import BUS_NAME, KMS_KEY_ARN
from cliniko_tools.devtools.template.stack import Stack

# The stack's own roles that put events on the bus (trigger events, action outcomes, hooks' action requests,
# scheduled actions: the scheduling function's Moved/Dropped and, as the scheduler's role, the due actions).
STACK_PUBLISHER_ROLES = [
    get_att("PollWorkerRole", "Arn"),
    get_att("ActionFunctionRole", "Arn"),
    get_att("HookFunctionRole", "Arn"),
    get_att("ScheduleActionsRole", "Arn"),
    get_att("SchedulerTargetRole", "Arn"),
]


def add_bus(stack: Stack) -> None:
    stack.add(
        "EventBus",
        {
            "Type": "AWS::Events::EventBus",
            "Properties": {
                "Name": sub(BUS_NAME),
                "Description": "Cliniko trigger events, action requests and action outcomes.",
                "KmsKeyIdentifier": KMS_KEY_ARN,
                # Events the bus can't encrypt or decrypt (key disabled, policy changed) land here.
                "DeadLetterConfig": {"Arn": get_att("EventBusDeadLetterQueue", "Arn")},
            },
        },
    )
    stack.add(
        "EventArchive",
        {
            "Type": "AWS::Events::Archive",
            "Properties": {
                "Description": "Every event on the bus, for replay after a consumer outage.",
                "SourceArn": get_att("EventBus", "Arn"),
                "RetentionDays": ref("ArchiveRetentionDays"),
                "KmsKeyIdentifier": KMS_KEY_ARN,
            },
        },
    )


def add_bus_policy(stack: Stack) -> None:
    """Who may put what on the bus. An explicit Deny wins over any Allow in the account, so another
    workload with `events:PutEvents` on `*` still can't put action requests, or events under the sources
    the action rules accept, unless it is one of the stack's roles or in ActionRequestPrincipals."""
    publishers = if_(
        "HasActionRequestPrincipals",
        {
            "Fn::Split": [
                ",",
                {"Fn::Join": [",", [*STACK_PUBLISHER_ROLES, {"Fn::Join": [",", ref("ActionRequestPrincipals")]}]]},
            ]
        },
        STACK_PUBLISHER_ROLES,
    )
    denials: dict[str, dict[str, Any]] = {
        "OnlyTrustedPrincipalsRequestActions": {"StringEquals": {"events:detail-type": ACTION_REQUESTED}},
        "OnlyTrustedPrincipalsUseTheConnectorSources": {
            "StringEquals": {"events:source": [ref("EventSource"), ref("ActionRequestSource")]}
        },
    }
    previous: str | None = None
    for sid, condition in denials.items():
        # One after the other: each statement is a read-modify-write of the one bus policy.
        after = {"DependsOn": previous} if previous else {}
        previous = f"EventBusPolicy{sid}"
        stack.add(
            previous,
            {
                "Type": "AWS::Events::EventBusPolicy",
                **after,
                "Properties": {
                    "EventBusName": ref("EventBus"),
                    "StatementId": sid,
                    "Statement": {
                        "Sid": sid,
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "events:PutEvents",
                        "Resource": get_att("EventBus", "Arn"),
                        "Condition": {**condition, "ArnNotLike": {"aws:PrincipalArn": publishers}},
                    },
                },
            },
        )
