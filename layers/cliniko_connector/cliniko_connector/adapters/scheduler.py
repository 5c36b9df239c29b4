"""EventBridge Scheduler and the scheduling function's ledger rows (in the state table).

Each schedule is one-time (`at(...)` in UTC), in the stack's schedule group, with `ActionAfterCompletion`
DELETE. Its target is the connector's bus through Scheduler's EventBridge target: it puts `Scheduled Action
Due` with the stored detail, as the stack's scheduler role, with a retry policy and a dead-letter queue.
The schedule's input (which may hold patient data: an SMS text) is encrypted with the stack's key when one is
given. Nothing here logs or raises item contents.

Ledger rows: `pk` `SCHEDULE#<name>`, `sk` `SCHEDULE`, in the state table (the scheduling function's role may
touch only keys with that prefix), expiring by the table's TTL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from cliniko_connector.eventmodels import SCHEDULED_ACTION_DUE
from cliniko_connector.ports import OneTimeSchedule, ScheduleRow

SCHEDULE_RETRY_ATTEMPTS = 3
# A reminder more than this late is not sent: it goes to the dead-letter queue instead.
SCHEDULE_MAX_EVENT_AGE_SECONDS = 900
LEDGER_PK_PREFIX = "SCHEDULE#"
LEDGER_SK = "SCHEDULE"
NOT_FOUND = ("ResourceNotFoundException", "NotFoundException")


def at_expression(moment: datetime) -> str:
    return f"at({moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def parse_at(expression: str) -> datetime:
    return datetime.strptime(expression.removeprefix("at(").removesuffix(")"), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


class EventBridgeScheduler:
    def __init__(
        self,
        client: Any,
        *,
        group: str,
        bus_arn: str,
        role_arn: str,
        dead_letter_arn: str,
        source: str,
        kms_key_arn: str | None = None,
    ) -> None:
        self.client = client
        self.group = group
        self.bus_arn = bus_arn
        self.role_arn = role_arn
        self.dead_letter_arn = dead_letter_arn
        self.source = source
        self.kms_key_arn = kms_key_arn

    def _request(self, schedule: OneTimeSchedule) -> dict[str, Any]:
        request: dict[str, Any] = {
            "Name": schedule.name,
            "GroupName": self.group,
            "ScheduleExpression": at_expression(schedule.due_at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Description": schedule.description[:512],
            "Target": {
                "Arn": self.bus_arn,
                "RoleArn": self.role_arn,
                "Input": schedule.detail,
                "EventBridgeParameters": {"DetailType": SCHEDULED_ACTION_DUE, "Source": self.source},
                "RetryPolicy": {
                    "MaximumRetryAttempts": SCHEDULE_RETRY_ATTEMPTS,
                    "MaximumEventAgeInSeconds": SCHEDULE_MAX_EVENT_AGE_SECONDS,
                },
                "DeadLetterConfig": {"Arn": self.dead_letter_arn},
            },
        }
        if self.kms_key_arn:
            request["KmsKeyArn"] = self.kms_key_arn
        return request

    def get(self, name: str) -> OneTimeSchedule | None:
        try:
            found = self.client.get_schedule(Name=name, GroupName=self.group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in NOT_FOUND:
                return None
            raise
        return OneTimeSchedule(
            name=found["Name"],
            due_at=parse_at(found["ScheduleExpression"]),
            detail=found.get("Target", {}).get("Input", ""),
            description=found.get("Description", ""),
        )

    def put(self, schedule: OneTimeSchedule) -> None:
        request = self._request(schedule)
        try:
            self.client.update_schedule(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in NOT_FOUND:
                raise
            try:
                self.client.create_schedule(**request)
            except ClientError as conflict:
                if conflict.response["Error"]["Code"] != "ConflictException":
                    raise
                self.client.update_schedule(**request)  # made meanwhile by another invocation

    def delete(self, name: str) -> None:
        try:
            self.client.delete_schedule(Name=name, GroupName=self.group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in NOT_FOUND:
                raise

    def list(self, prefix: str = "") -> list[OneTimeSchedule]:
        names: list[str] = []
        kwargs: dict[str, Any] = {"GroupName": self.group}
        if prefix:
            kwargs["NamePrefix"] = prefix
        while True:
            page = self.client.list_schedules(**kwargs)
            names.extend(s["Name"] for s in page.get("Schedules", []) if s["Name"].startswith(prefix))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return [s for s in (self.get(n) for n in names) if s is not None]


class DynamoScheduleLedger:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    @staticmethod
    def _key(name: str) -> dict[str, Any]:
        return {"pk": {"S": f"{LEDGER_PK_PREFIX}{name}"}, "sk": {"S": LEDGER_SK}}

    def get(self, name: str) -> ScheduleRow | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(name), ConsistentRead=True).get("Item")
        if not item:
            return None
        return ScheduleRow.model_validate_json(item["row"]["S"])

    def put_if_newer(self, row: ScheduleRow) -> bool:
        item = {
            **self._key(row.name),
            "version": {"S": row.version},
            "state": {"S": row.state},
            "row": {"S": row.model_dump_json()},
            "expires_at": {"N": str(row.expires_at)},
        }
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR version < :v OR (version = :v AND #s = :parked)",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":v": {"S": row.version}, ":parked": {"S": "parked"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def clear_announce(self, name: str, version: str) -> None:
        row = self.get(name)
        if row is None or row.version != version or row.announce is None:
            return
        cleared = row.model_copy(update={"announce": None})
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(name),
                    "version": {"S": version},
                    "state": {"S": cleared.state},
                    "row": {"S": cleared.model_dump_json()},
                    "expires_at": {"N": str(cleared.expires_at)},
                },
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": {"S": version}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
