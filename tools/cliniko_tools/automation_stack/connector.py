"""What the automations stack reads from the connector's stack: the contract between the two stacks.

On AWS the CLI reads the connector stack's **Outputs** (`EventBusName`, `EventBusArn`), its nested stacks'
(one `<Action>ActionFunctionArn` per catalog action, in the stack of the action's resource family; a root
holding them itself, as before nesting, is read too) and two of its **Parameters** (`EventSource`, `AlarmTopicArn`)
with `DescribeStacks` at plan/deploy time and writes the values into the automations template. Not exports:
an export in use can't change, so importing them would block the connector's own updates (a replaced function,
an action renamed); not SSM parameters: the CLI deploys both stacks, so a second copy of the outputs would only
drift. A connector update that changes a function's ARN shows in the next `automations plan`.
On the local stack the same values come from its state file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import ConfigurationError

OUTPUT_BUS_NAME = "EventBusName"
OUTPUT_BUS_ARN = "EventBusArn"
PARAMETER_EVENT_SOURCE = "EventSource"
PARAMETER_ALARM_TOPIC = "AlarmTopicArn"
AUTOMATIONS_STACK_SUFFIX = "-automations"
OUTPUT_SCHEDULE_FUNCTION = "ScheduleActionsFunctionArn"
OUTPUT_SCHEDULE_GROUP = "ScheduleGroupName"


def function_output(action: str) -> str:
    """The connector stack's output holding `action`'s function ARN."""
    return f"{ACTIONS[action].function_suffix}ActionFunctionArn"


def function_logical_id(action: str) -> str:
    return f"{ACTIONS[action].function_suffix}ActionFunction"


def automations_stack_name(connector_stack: str) -> str:
    return f"{connector_stack}{AUTOMATIONS_STACK_SUFFIX}"


class ConnectorOutputs(BaseModel):
    stack_name: str
    region: str
    account_id: str
    bus_name: str
    bus_arn: str
    event_source: str = "cliniko"
    alarm_topic_arn: str = ""
    function_arns: dict[str, str] = Field(default_factory=dict, description="action name → function ARN")
    schedule_function_arn: str = Field(default="", description="the scheduling function (waiting targets)")
    schedule_group: str = Field(default="", description="the group of the scheduled actions' schedules")

    def scheduling_function_arn(self) -> str:
        if not self.schedule_function_arn:
            raise ConfigurationError(
                f"the connector stack {self.stack_name} has no output {OUTPUT_SCHEDULE_FUNCTION}: deploy the "
                "connector's current template first (targets that wait need its scheduling function)"
            )
        return self.schedule_function_arn

    def function_arn(self, action: str) -> str:
        if action not in ACTIONS:
            raise ConfigurationError(f"{action} is not an action of the catalog")
        arn = self.function_arns.get(action)
        if arn is None:
            raise ConfigurationError(
                f"the connector stack {self.stack_name} has no output {function_output(action)}: deploy the "
                "connector's current template first"
            )
        return arn

    @classmethod
    def from_stack(cls, description: dict[str, Any], nested: Sequence[dict[str, Any]] = ()) -> ConnectorOutputs:
        """From the `DescribeStacks` entry of the connector stack and those of its nested stacks."""
        outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
        below = {o["OutputKey"]: o["OutputValue"] for stack in nested for o in stack.get("Outputs", [])}
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters", [])}
        missing = [name for name in (OUTPUT_BUS_NAME, OUTPUT_BUS_ARN) if name not in outputs]
        if missing:
            raise ConfigurationError(
                f"{description.get('StackName')} lacks the output(s) {', '.join(missing)}: is it the connector's stack?"
            )
        arn_parts = description["StackId"].split(":")
        every = {**below, **outputs}
        functions = {name: every[function_output(name)] for name in ACTIONS if function_output(name) in every}
        return cls(
            stack_name=description["StackName"],
            region=arn_parts[3],
            account_id=arn_parts[4],
            bus_name=outputs[OUTPUT_BUS_NAME],
            bus_arn=outputs[OUTPUT_BUS_ARN],
            event_source=parameters.get(PARAMETER_EVENT_SOURCE) or "cliniko",
            alarm_topic_arn=parameters.get(PARAMETER_ALARM_TOPIC, ""),
            function_arns=functions,
            schedule_function_arn=outputs.get(OUTPUT_SCHEDULE_FUNCTION, ""),
            schedule_group=outputs.get(OUTPUT_SCHEDULE_GROUP, ""),
        )


def pending_schedules(scheduler: Any, group: str) -> dict[str, list[str]]:
    """Automation → the due times (UTC, soonest first) of its pending scheduled actions in `group` (the
    schedules' names start with the automation's: `usecases.schedules.schedule_name`)."""
    from cliniko_connector.adapters.scheduler import EventBridgeScheduler

    if not group:
        return {}
    adapter = EventBridgeScheduler(scheduler, group=group, bus_arn="", role_arn="", dead_letter_arn="", source="")
    pending: dict[str, list[str]] = {}
    for schedule in sorted(adapter.list(), key=lambda s: s.due_at):
        automation = schedule.name.split(".", 1)[0]
        pending.setdefault(automation, []).append(schedule.due_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return pending
