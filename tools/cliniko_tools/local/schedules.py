"""EventBridge Scheduler's part on the local stack: moto stores one-time schedules (its Scheduler API, also in
server mode) but never runs them, so the runner does, as Scheduler would when their time comes.

For each schedule of the stack's groups whose `at(...)` time has come: its target's event is put on the bus
(Scheduler's EventBridge target: `EventBridgeParameters` give the source and detail-type, `Input` the detail),
then the schedule is deleted (`ActionAfterCompletion` DELETE). One later than its target's
`MaximumEventAgeInSeconds` (the runner wasn't running) goes to its dead-letter queue instead, as Scheduler drops
an event it can't deliver in time: a reminder is never sent late.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from cliniko_connector.adapters.scheduler import parse_at as scheduler_time
from cliniko_tools.local.stack import StackState

DEFAULT_MAX_EVENT_AGE_SECONDS = 86400  # Scheduler's default


@dataclass
class Fired:
    put: list[str] = field(default_factory=list)  # schedule names whose event went on the bus
    late: list[str] = field(default_factory=list)  # too late: to the dead-letter queue, not sent


def parse_at(expression: str) -> datetime | None:
    if not expression.startswith("at(") or not expression.endswith(")"):
        return None  # rate() and cron() schedules are not one-time: not the connector's
    try:
        return scheduler_time(expression)
    except ValueError:
        return None


def due_schedules(scheduler: Any, group: str, now: datetime) -> list[dict[str, Any]]:
    """The enabled one-time schedules of `group` whose time has come (each as `GetSchedule` returns it)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"GroupName": group}
    while True:
        page = scheduler.list_schedules(**kwargs)
        for summary in page.get("Schedules", []):
            try:
                schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
            except ClientError:
                continue  # deleted meanwhile
            due = parse_at(schedule.get("ScheduleExpression", ""))
            if schedule.get("State", "ENABLED") == "ENABLED" and due is not None and due <= now:
                found.append(schedule)
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def pending_schedules(scheduler: Any, state: StackState) -> list[dict[str, Any]]:
    """Every schedule of the stack's groups, as `ListSchedules` summarises it, with its `due_at` (UTC)."""
    pending: list[dict[str, Any]] = []
    for group in state.schedule_groups.values():
        kwargs: dict[str, Any] = {"GroupName": group}
        while True:
            page = scheduler.list_schedules(**kwargs)
            for summary in page.get("Schedules", []):
                with contextlib.suppress(ClientError):
                    schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
                    pending.append({"name": schedule["Name"], "due_at": parse_at(schedule["ScheduleExpression"])})
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return pending


def fire_due(state: StackState, scheduler: Any, events: Any, sqs: Any, now: datetime | None = None) -> Fired:
    """Run every due schedule of the stack's groups once; `now` (default the clock) lets tests look ahead."""
    now = now or datetime.now(UTC)
    fired = Fired()
    queue_by_arn = {q.arn: q.url for q in state.queues.values()}
    for group in state.schedule_groups.values():
        for schedule in due_schedules(scheduler, group, now):
            target = schedule["Target"]
            due = parse_at(schedule["ScheduleExpression"])
            assert due is not None
            max_age = target.get("RetryPolicy", {}).get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS)
            if now - due > timedelta(seconds=max_age):
                dead_letter = queue_by_arn.get(target.get("DeadLetterConfig", {}).get("Arn", ""))
                if dead_letter:
                    sqs.send_message(
                        QueueUrl=dead_letter,
                        MessageBody=target.get("Input", ""),
                        MessageAttributes={
                            "ERROR_CODE": {"DataType": "String", "StringValue": "MaximumEventAgeExceeded"},
                            "SCHEDULE_ARN": {"DataType": "String", "StringValue": schedule.get("Arn", "")},
                        },
                    )
                fired.late.append(schedule["Name"])
            else:
                parameters = target.get("EventBridgeParameters", {})
                entry = {
                    "Source": parameters.get("Source", "aws.scheduler"),
                    "DetailType": parameters.get("DetailType", "Scheduled Event"),
                    "Detail": target.get("Input") or json.dumps({}),
                    "EventBusName": target["Arn"].rsplit("/", 1)[-1],
                }
                result = events.put_events(Entries=[entry])
                if result.get("FailedEntryCount"):
                    continue  # Scheduler retries: it stays and is tried on the next pass
                fired.put.append(schedule["Name"])
            if schedule.get("ActionAfterCompletion") == "DELETE":
                with contextlib.suppress(ClientError):
                    scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
    return fired
