"""SQS: the poll queue, and the dead-letter queues that keep whatever failed."""

from __future__ import annotations

from typing import Any

from cliniko_tools.devtools.template.functions import WORKER_TIMEOUT_SECONDS
from cliniko_tools.devtools.template.intrinsics import ARN_PREFIX, DISPOSABLE, get_att, ref, sub
from cliniko_tools.devtools.template.names import KMS_KEY_ARN, SCHEDULE_RULE_NAME
from cliniko_tools.devtools.template.stack import Stack

POLL_QUEUE_MAX_RECEIVE_COUNT = 3
# AWS's guidance for SQS event sources: visibility timeout at least six times the function timeout.
POLL_QUEUE_VISIBILITY_SECONDS = 6 * WORKER_TIMEOUT_SECONDS
POLL_QUEUE_RETENTION_SECONDS = 86_400
DLQ_RETENTION_SECONDS = 1_209_600

# Queues that receive what failed, what lands in each, and so what its alarm means.
DEAD_LETTER_QUEUES: dict[str, str] = {
    "PollDeadLetterQueue": "poll jobs that failed 3 times",
    "PollDispatcherFailureQueue": "poll ticks the dispatcher failed to fan out",
    "ActionFailureQueue": "action invocations that failed after their retries",
    "RuleTargetDeadLetterQueue": "events EventBridge could not deliver to a function (rules and the poll schedule)",
    "EventBusDeadLetterQueue": "events the bus could not encrypt or decrypt with the KMS key",
    "ScheduleActionsFailureQueue": "schedule requests the scheduling function failed after its retries",
    "ScheduledActionDeadLetterQueue": "due scheduled actions EventBridge Scheduler could not put on the bus",
}


def add_queues(stack: Stack) -> None:
    stack.add("PollDeadLetterQueue", _queue(FifoQueue=True, MessageRetentionPeriod=DLQ_RETENTION_SECONDS))
    stack.add(
        "PollQueue",
        _queue(
            FifoQueue=True,
            ContentBasedDeduplication=False,
            VisibilityTimeout=POLL_QUEUE_VISIBILITY_SECONDS,
            MessageRetentionPeriod=POLL_QUEUE_RETENTION_SECONDS,
            RedrivePolicy={
                "deadLetterTargetArn": get_att("PollDeadLetterQueue", "Arn"),
                "maxReceiveCount": POLL_QUEUE_MAX_RECEIVE_COUNT,
            },
        ),
    )
    # Lambda destinations don't take FIFO queues: the dispatcher's failures get a standard queue.
    stack.add("PollDispatcherFailureQueue", _queue(MessageRetentionPeriod=DLQ_RETENTION_SECONDS))
    stack.add("ActionFailureQueue", _queue(MessageRetentionPeriod=DLQ_RETENTION_SECONDS))
    stack.add("RuleTargetDeadLetterQueue", _queue(MessageRetentionPeriod=DLQ_RETENTION_SECONDS))
    stack.add("EventBusDeadLetterQueue", _queue(MessageRetentionPeriod=DLQ_RETENTION_SECONDS))
    stack.add("ScheduleActionsFailureQueue", _queue(MessageRetentionPeriod=DLQ_RETENTION_SECONDS))
    stack.add("ScheduledActionDeadLetterQueue", _queue(MessageRetentionPeriod=DLQ_RETENTION_SECONDS))
    stack.add(
        "RuleTargetDeadLetterQueuePolicy",
        _events_queue_policy(
            "RuleTargetDeadLetterQueue",
            "EventBridgeRulesOfThisStack",
            {
                "ArnLike": {
                    "aws:SourceArn": [
                        sub(f"{ARN_PREFIX}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/${{EventBus.Name}}/*"),
                        sub(f"{ARN_PREFIX}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{SCHEDULE_RULE_NAME}"),
                    ]
                }
            },
        ),
    )
    stack.add(
        "EventBusDeadLetterQueuePolicy",
        _events_queue_policy(
            "EventBusDeadLetterQueue",
            "TheEventBusOfThisStack",
            {"ArnEquals": {"aws:SourceArn": get_att("EventBus", "Arn")}},
        ),
    )


def _queue(**properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::Queue",
        **DISPOSABLE,
        "Properties": {**properties, "KmsMasterKeyId": KMS_KEY_ARN},
    }


def _events_queue_policy(queue_id: str, sid: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [ref(queue_id)],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": sid,
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": get_att(queue_id, "Arn"),
                        "Condition": condition,
                    }
                ],
            },
        },
    }
