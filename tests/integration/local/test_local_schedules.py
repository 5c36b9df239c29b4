"""The local stack runs EventBridge Scheduler's one-time schedules (moto keeps them, never runs them): a due one
puts its event on the bus once and is deleted, a future one waits, one past its retry window is not sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cliniko_tools.local.runner import LocalRunner
from tests.integration.local.local_stack_support import Project


def _at(moment: datetime) -> str:
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def test_due_schedules_are_put_on_the_bus_once_future_ones_wait_and_late_ones_go_to_the_dead_letter_queue(
    project: Project,
) -> None:
    state = project.up()
    scheduler, sqs, events = project.client("scheduler"), project.client("sqs"), project.client("events")
    group = state.schedule_groups["ScheduleGroup"]
    bus = state.event_buses["EventBus"]
    seen = sqs.create_queue(QueueName="seen-due")["QueueUrl"]
    seen_arn = sqs.get_queue_attributes(QueueUrl=seen, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="seen-due", EventBusName=bus, EventPattern=json.dumps({"detail-type": ["Scheduled Action Due"]})
    )
    events.put_targets(Rule="seen-due", EventBusName=bus, Targets=[{"Id": "q", "Arn": seen_arn}])
    now = datetime.now(UTC).replace(microsecond=0)
    dead_letter = state.queues["ScheduledActionDeadLetterQueue"]

    def schedule(name: str, when: datetime) -> None:
        scheduler.create_schedule(
            Name=name,
            GroupName=group,
            ScheduleExpression=_at(when),
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": f"arn:aws:events:us-east-1:{state.account_id}:event-bus/{bus}",
                "RoleArn": f"arn:aws:iam::{state.account_id}:role/scheduler",
                "Input": json.dumps({"schedule": name}),
                "EventBridgeParameters": {"DetailType": "Scheduled Action Due", "Source": "cliniko"},
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 900},
                "DeadLetterConfig": {"Arn": dead_letter.arn},
            },
        )

    schedule("due", now - timedelta(seconds=30))
    schedule("later", now + timedelta(hours=1))
    schedule("late", now - timedelta(hours=2))
    runner = LocalRunner(state, project.root, state_path=project.state_path)
    fired = runner.fire_due_schedules(now)
    assert (fired.put, fired.late) == (["due"], ["late"])
    assert runner.fire_due_schedules(now).put == []  # deleted after it ran: once
    left = {s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]}
    assert left == {"later"}
    received: list[dict[str, Any]] = sqs.receive_message(QueueUrl=seen, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["detail"] for m in received] == [{"schedule": "due"}]
    dead = sqs.receive_message(QueueUrl=dead_letter.url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    [message] = dead["Messages"]
    assert json.loads(message["Body"]) == {"schedule": "late"}
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "MaximumEventAgeExceeded"
