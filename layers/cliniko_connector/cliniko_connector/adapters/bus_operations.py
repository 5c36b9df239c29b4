"""The operator's view of the bus on EventBridge and SQS: `events tail`'s temporary rule and queue
(`ports.TailChannel`) and the archive that `replay` starts replays from (`ports.EventArchive`).

Only the CLI uses these; the Lambda functions never import this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.ports import BusRule, ReplayState

TAIL_TARGET_ID = "tail"


@dataclass
class _Tail:
    queue_url: str | None = None
    rule: bool = False


@dataclass
class EventBridgeTail:
    """Implements `ports.TailChannel` on one bus. `sqs` must allow a long poll's wait for its answers
    (`aws.client_config(long_poll_seconds=...)`)."""

    events: Any  # boto3 EventBridge client
    sqs: Any  # boto3 SQS client
    bus_name: str
    _tails: dict[str, _Tail] = field(default_factory=dict, repr=False)

    def create(self, name: str, pattern: Mapping[str, Any]) -> None:
        tail = self._tails.setdefault(name, _Tail())
        tail.queue_url = self.sqs.create_queue(
            QueueName=name, Attributes={"MessageRetentionPeriod": "3600", "ReceiveMessageWaitTimeSeconds": "0"}
        )["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=tail.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule_arn = self.events.put_rule(
            Name=name,
            EventBusName=self.bus_name,
            EventPattern=json.dumps(pattern),
            State="ENABLED",
            Description="cliniko-connector events tail (temporary)",
        )["RuleArn"]
        tail.rule = True
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        self.sqs.set_queue_attributes(QueueUrl=tail.queue_url, Attributes={"Policy": json.dumps(policy)})
        self.events.put_targets(
            Rule=name, EventBusName=self.bus_name, Targets=[{"Id": TAIL_TARGET_ID, "Arn": queue_arn}]
        )

    def receive(self, name: str, wait_seconds: int) -> list[str]:
        url = self._tails[name].queue_url
        response = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        bodies: list[str] = []
        for message in response.get("Messages", []):
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            bodies.append(str(message.get("Body", "")))
        return bodies

    def remove(self, name: str) -> list[str]:
        tail = self._tails.get(name, _Tail())
        left: list[str] = []
        if tail.rule:
            try:
                self.events.remove_targets(Rule=name, EventBusName=self.bus_name, Ids=[TAIL_TARGET_ID])
                self.events.delete_rule(Name=name, EventBusName=self.bus_name)
                tail.rule = False
            except Exception as exc:
                left.append(f"rule {name} on {self.bus_name} ({type(exc).__name__})")
        if tail.queue_url is not None:
            try:
                self.sqs.delete_queue(QueueUrl=tail.queue_url)
                tail.queue_url = None
            except Exception as exc:
                left.append(f"queue {name} ({type(exc).__name__})")
        if not left:
            self._tails.pop(name, None)
        return left

    def names(self, prefix: str) -> list[str]:
        rules = self.events.list_rules(NamePrefix=prefix, EventBusName=self.bus_name).get("Rules", [])
        return [str(r["Name"]) for r in rules]


@dataclass
class EventBridgeArchive:
    """Implements `ports.EventArchive`: `StartReplay` from an archive of the bus `bus_arn`, back onto it."""

    events: Any  # boto3 EventBridge client
    archive_arn: str
    bus_arn: str

    @classmethod
    def of_bus(
        cls, events: Any, bus_name: str, *, bus_arn: str | None = None, archive_arn: str | None = None
    ) -> EventBridgeArchive:
        """The archive of the bus `bus_name`: `archive_arn` if given, else the bus's only archive."""
        bus_arn = bus_arn or str(events.describe_event_bus(Name=bus_name)["Arn"])
        if not archive_arn:
            archives = events.list_archives(EventSourceArn=bus_arn).get("Archives", [])
            if len(archives) != 1:
                raise ConfigurationError(
                    f"found {len(archives)} archives of {bus_name}: set EVENT_ARCHIVE_ARN "
                    "(the stack's output EventArchiveArn)"
                )
            name = str(archives[0]["ArchiveName"])
            archive_arn = str(events.describe_archive(ArchiveName=name)["ArchiveArn"])
        return cls(events, archive_arn, bus_arn)

    @property
    def bus_name(self) -> str:
        return self.bus_arn.rsplit("/", 1)[-1]

    def rules(self) -> list[BusRule]:
        kwargs: dict[str, Any] = {"EventBusName": self.bus_name}
        found: list[BusRule] = []
        while True:
            page = self.events.list_rules(**kwargs)
            for rule in page.get("Rules", []):
                found.append(
                    BusRule(
                        name=str(rule["Name"]),
                        arn=str(rule["Arn"]),
                        event_pattern=rule.get("EventPattern"),
                        managed=bool(rule.get("ManagedBy")),
                    )
                )
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]

    def rule_arn(self, name: str) -> str:
        try:
            return str(self.events.describe_rule(Name=name, EventBusName=self.bus_name)["Arn"])
        except Exception as exc:
            raise ConfigurationError(f"no rule {name!r} on the bus {self.bus_name}") from exc

    def start_replay(self, name: str, since: datetime, until: datetime, rule_arns: Sequence[str]) -> ReplayState:
        destination: dict[str, Any] = {"Arn": self.bus_arn}
        if rule_arns:
            destination["FilterArns"] = list(rule_arns)
        response = self.events.start_replay(
            ReplayName=name,
            Description="cliniko-connector replay",
            EventSourceArn=self.archive_arn,
            EventStartTime=since,
            EventEndTime=until,
            Destination=destination,
        )
        return ReplayState(state=str(response.get("State", "STARTING")))

    def describe_replay(self, name: str) -> ReplayState:
        r = self.events.describe_replay(ReplayName=name)
        last = r.get("EventLastReplayedTime")
        return ReplayState(
            state=str(r.get("State", "UNKNOWN")),
            last_replayed=_aware(last) if isinstance(last, datetime) else None,
            reason=r.get("StateReason"),
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
