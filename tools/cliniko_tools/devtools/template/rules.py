"""EventBridge rules and their targets: one rule per action, and the example automations (trigger → action)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cliniko_connector.catalog.actions import Action
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_tools.devtools.template.functions import action_function_id
from cliniko_tools.devtools.template.intrinsics import get_att, ref
from cliniko_tools.devtools.template.stack import Stack

RULE_TARGET_MAX_RETRIES = 8
RULE_TARGET_MAX_EVENT_AGE_SECONDS = 3_600


@dataclass(frozen=True)
class ExampleAutomation:
    """A rule wiring a trigger event to an action, deployed only with EnableExampleAutomations=true.

    `input_template` is JSON whose string values may be `<placeholders>` named in `input_paths`."""

    logical_id: str
    description: str
    trigger: str
    action: str
    input_paths: Mapping[str, str]
    input_template: Mapping[str, Any]


EXAMPLE_AUTOMATIONS: tuple[ExampleAutomation, ...] = (
    ExampleAutomation(
        logical_id="ExampleNewPatientAlertRule",
        description="Example: add a 'review intake form' medical alert to every new patient.",
        trigger="patient.created",
        action="medical_alert.create",
        input_paths={
            "connection_id": "$.detail.connection_id",
            "patient_id": "$.detail.id",
            "event_key": "$.detail.event_key",
        },
        input_template={
            "connection_id": "<connection_id>",
            "idempotency_key": "<event_key>",
            "input": {"patient_id": "<patient_id>", "name": "New patient: review intake form"},
        },
    ),
    ExampleAutomation(
        logical_id="ExampleCancellationMemoRule",
        description="Example: record a memo on the patient's file when an appointment is cancelled.",
        trigger="individual_appointment.cancelled",
        action="communication.create",
        # The patient's API URL is accepted as an id. Needs the full payload mode (minimal events carry no data).
        input_paths={
            "connection_id": "$.detail.connection_id",
            "patient": "$.detail.data.patient.links.self",
            "event_key": "$.detail.event_key",
        },
        input_template={
            "connection_id": "<connection_id>",
            "idempotency_key": "<event_key>",
            "input": {
                "patient_id": "<patient>",
                "content": "Appointment cancelled. Offer the next available time.",
                "type_code": 4,
                "direction_code": 1,
                "from": "cliniko-connector",
                "to": "Front desk",
                "confidential": False,
            },
        },
    ),
)


def action_rule_id(action: Action) -> str:
    return f"{action.function_suffix}ActionRule"


def action_pattern(action: Action) -> dict[str, Any]:
    """Only the sources the stack declares for action requests: an event from any other source runs nothing."""
    return {
        "source": [ref("EventSource"), ref("ActionRequestSource")],
        "detail-type": [ACTION_REQUESTED],
        "detail": {"action": [action.name]},
    }


def add_action_rule(stack: Stack, action: Action) -> None:
    """The rule that routes `action`'s requests to its function, and the permission to invoke it."""
    function_id = action_function_id(action)
    rule_id = action_rule_id(action)
    stack.add(
        rule_id,
        _rule(f"Route '{action.name}' action requests to its function.", action_pattern(action), function_id),
    )
    stack.add(f"{rule_id}Permission", _permission(function_id, rule_id))


def check_examples(actions: Mapping[str, Action], examples: Sequence[ExampleAutomation]) -> None:
    for example in examples:
        if example.action not in actions or example.trigger not in TRIGGERS:
            raise ValueError(f"example {example.logical_id} names an action or trigger not in the catalog")


def add_example_rules(stack: Stack, actions: Mapping[str, Action], examples: Sequence[ExampleAutomation]) -> None:
    """Each example's rule and permission, deployed only with EnableExampleAutomations=true."""
    check_examples(actions, examples)
    for example in examples:
        function_id = action_function_id(actions[example.action])
        pattern = {"source": [ref("EventSource")], "detail-type": [TRIGGERS[example.trigger].detail_type]}
        transformer = {
            "InputPathsMap": dict(example.input_paths),
            "InputTemplate": json.dumps(example.input_template),
        }
        rule = _rule(example.description, pattern, function_id, transformer)
        rule["Condition"] = "ExampleAutomationsEnabled"
        stack.add(example.logical_id, rule)
        permission = _permission(function_id, example.logical_id)
        permission["Condition"] = "ExampleAutomationsEnabled"
        stack.add(f"{example.logical_id}Permission", permission)


def _rule(
    description: str, pattern: dict[str, Any], function_id: str, transformer: dict[str, Any] | None = None
) -> dict[str, Any]:
    target: dict[str, Any] = {
        "Id": "ActionFunction",
        "Arn": get_att(function_id, "Arn"),
        "RetryPolicy": {
            "MaximumRetryAttempts": RULE_TARGET_MAX_RETRIES,
            "MaximumEventAgeInSeconds": RULE_TARGET_MAX_EVENT_AGE_SECONDS,
        },
        "DeadLetterConfig": {"Arn": get_att("RuleTargetDeadLetterQueue", "Arn")},
    }
    if transformer:
        target["InputTransformer"] = transformer
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": description,
            "EventBusName": get_att("EventBus", "Name"),
            "State": "ENABLED",
            "EventPattern": pattern,
            "Targets": [target],
        },
    }


def _permission(function_id: str, rule_id: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": ref(function_id),
            "Principal": "events.amazonaws.com",
            "SourceArn": get_att(rule_id, "Arn"),
        },
    }
