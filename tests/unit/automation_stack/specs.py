"""Compiled automations for the stack tests: one of each target kind."""

from __future__ import annotations

from cliniko_tools.automation_stack.connector import ConnectorOutputs, function_output
from cliniko_tools.automation_stack.spec import AutomationSpec, DeploySpec, InputTransformer, TargetSpec, WebhookSpec

ACCOUNT = "123456789012"


def connector(stack: str = "cliniko-connector") -> ConnectorOutputs:
    description = {
        "StackName": stack,
        "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack}/abc",
        "Outputs": [
            {"OutputKey": "EventBusName", "OutputValue": "cliniko-connector-dev"},
            {
                "OutputKey": "EventBusArn",
                "OutputValue": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/cliniko-connector-dev",
            },
            *(
                {
                    "OutputKey": function_output(action),
                    "OutputValue": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{stack}-{action.replace('.', '-')}",
                }
                for action in ("communication.create", "medical_alert.create")
            ),
        ],
        "Parameters": [
            {"ParameterKey": "EventSource", "ParameterValue": "cliniko"},
            {"ParameterKey": "AlarmTopicArn", "ParameterValue": f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms"},
        ],
    }
    return ConnectorOutputs.from_stack(description)


MEMO = InputTransformer(
    input_paths_map={
        "connection_id": "$.detail.connection_id",
        "key": "$.detail.event_key",
        "patient": "$.detail.data.patient_id",
    },
    input_template='{"connection_id": "<connection_id>", "idempotency_key": "<key>", '
    '"input": {"patient_id": "<patient>"}}',
)
SLACK = InputTransformer(input_paths_map={"id": "$.detail.id"}, input_template='{"text": "No-show: appointment <id>"}')
NO_SHOW = {"detail-type": ["Individual Appointment Did Not Arrive"]}


def every_kind() -> DeploySpec:
    return DeploySpec(
        automations=[
            AutomationSpec(
                name="no-show-follow-up",
                description="Memo and front desk",
                trigger="individual_appointment.did_not_arrive",
                pattern=NO_SHOW,
                targets=[
                    TargetSpec(kind="action", ref="communication.create", transformer=MEMO),
                    TargetSpec(kind="webhook", ref="front-desk", transformer=SLACK),
                    TargetSpec(
                        kind="email", ref="front-desk-email", subscriptions=["desk@example.com"], transformer=SLACK
                    ),
                    TargetSpec(kind="queue", ref="no-shows"),
                    TargetSpec(kind="bus", ref="clinic-analytics"),
                ],
            ),
            AutomationSpec(
                name="alerts-by-sms",
                trigger="patient.created",
                pattern={"detail-type": ["Patient Created"]},
                targets=[TargetSpec(kind="sms", ref="arn:aws:sns:us-east-1:123456789012:on-call", transformer=SLACK)],
            ),
        ],
        webhooks={
            "front-desk": WebhookSpec(
                name="front-desk", endpoint="https://hooks.example.com/front-desk", header="X-Api-Key"
            )
        },
    )
