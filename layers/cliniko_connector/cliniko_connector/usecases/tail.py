"""Watching the bus: a temporary rule into a temporary queue, read until told to stop, then removed.

The queue only accepts messages from its own rule. Both are named `cliniko-tail-<random>`; `close` deletes
them (also after Ctrl-C). A tail killed outright leaves them behind: `stale_tails` finds them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

TAIL_PREFIX = "cliniko-tail-"
# SQS's longest wait; the tail's SQS client must allow this long for an answer (`aws.client_config`).
LONG_POLL_SECONDS = 20
EVERY_EVENT: dict[str, Any] = {"source": [{"prefix": ""}]}


@dataclass
class BusTail:
    events: Any  # boto3 EventBridge client
    sqs: Any
    bus_name: str
    pattern: dict[str, Any] = field(default_factory=lambda: dict(EVERY_EVENT))
    name: str = field(default_factory=lambda: TAIL_PREFIX + secrets.token_hex(4))
    queue_url: str | None = None
    left_behind: list[str] = field(default_factory=list)
    _rule: bool = False

    def open(self) -> None:
        self.queue_url = self.sqs.create_queue(
            QueueName=self.name, Attributes={"MessageRetentionPeriod": "3600", "ReceiveMessageWaitTimeSeconds": "0"}
        )["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule_arn = self.events.put_rule(
            Name=self.name,
            EventBusName=self.bus_name,
            EventPattern=json.dumps(self.pattern),
            State="ENABLED",
            Description="cliniko-connector events tail (temporary)",
        )["RuleArn"]
        self._rule = True
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
        self.sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(policy)})
        self.events.put_targets(Rule=self.name, EventBusName=self.bus_name, Targets=[{"Id": "tail", "Arn": queue_arn}])

    def receive(self, wait_seconds: int) -> Iterator[dict[str, Any]]:
        """The events that arrived (waiting up to `wait_seconds` for the first), each once."""
        assert self.queue_url is not None, "open() first"
        wait = max(0, min(LONG_POLL_SECONDS, wait_seconds))
        response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        for message in response.get("Messages", []):
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            try:
                event = json.loads(message["Body"])
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event

    def close(self) -> list[str]:
        """Remove the rule and the queue, each even if the other fails; what could not be removed."""
        left: list[str] = []
        if self._rule:
            try:
                self.events.remove_targets(Rule=self.name, EventBusName=self.bus_name, Ids=["tail"])
                self.events.delete_rule(Name=self.name, EventBusName=self.bus_name)
                self._rule = False
            except Exception as exc:
                left.append(f"rule {self.name} on {self.bus_name} ({type(exc).__name__})")
        if self.queue_url is not None:
            try:
                self.sqs.delete_queue(QueueUrl=self.queue_url)
                self.queue_url = None
            except Exception as exc:
                left.append(f"queue {self.name} ({type(exc).__name__})")
        self.left_behind = left
        return left

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def stale_tails(events: Any, bus_name: str) -> list[str]:
    """Rules of tails that were not cleaned up (the process was killed)."""
    rules = events.list_rules(NamePrefix=TAIL_PREFIX, EventBusName=bus_name).get("Rules", [])
    return [str(r["Name"]) for r in rules]
