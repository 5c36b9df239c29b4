"""Lambda event payloads: the generated samples under `events/` and the shapes the local runner delivers.

The builders take every variable part (ids, times, ARNs) as arguments so the committed samples are
deterministic and the local runner can fill in real values.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cliniko_connector.catalog.actions import ACTIONS, Action
from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_connector.ports import PollJob
from cliniko_tools.devtools.template import DEFAULT_ACTION_REQUEST_SOURCE

SAMPLE_ACCOUNT = "123456789012"
SAMPLE_REGION = "us-east-1"
SAMPLE_TIME = "2025-01-01T00:00:00Z"
SAMPLE_CONNECTION_ID = "demo"
SAMPLE_ACTION_SOURCE = DEFAULT_ACTION_REQUEST_SOURCE  # what the stack's action rules accept by default
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/cliniko-connector/samples")

# Directories this module owns under `events/`; `events/triggers/` belongs to the trigger sample generator.
OWNED_DIRS = ("events/poll_dispatcher", "events/poll_worker", "events/actions")


def sample_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def scheduled_event(
    *, rule_arn: str, event_id: str, time: str, account: str = SAMPLE_ACCOUNT, region: str = SAMPLE_REGION
) -> dict[str, Any]:
    """What an EventBridge schedule delivers to its Lambda target."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time,
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def eventbridge_event(
    *,
    source: str,
    detail_type: str,
    detail: Mapping[str, Any],
    event_id: str,
    time: str,
    account: str = SAMPLE_ACCOUNT,
    region: str = SAMPLE_REGION,
    resources: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A custom-bus event as a rule target without an InputTransformer receives it."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time,
        "region": region,
        "resources": list(resources),
        "detail": dict(detail),
    }


@dataclass(frozen=True)
class SqsMessage:
    """One received SQS message, as the Lambda SQS event source describes it in `Records`."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_attributes: Mapping[str, Any] = field(default_factory=dict)


def sqs_event(messages: list[SqsMessage], *, queue_arn: str, region: str = SAMPLE_REGION) -> dict[str, Any]:
    """The `{"Records": [...]}` payload of an SQS event source mapping."""
    return {
        "Records": [
            {
                "messageId": message.message_id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": dict(message.attributes),
                "messageAttributes": dict(message.message_attributes),
                "md5OfBody": hashlib.md5(message.body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def action_request_detail(action: Action, *, connection_id: str = SAMPLE_CONNECTION_ID) -> dict[str, Any]:
    return {
        "action": action.name,
        "connection_id": connection_id,
        "input": dict(action.sample_input),
        "idempotency_key": f"sample-{action.name}",
    }


def poll_job_event(job: PollJob, message_id: str) -> dict[str, Any]:
    """The SQS event the poll worker gets for `job`, with the body and FIFO attributes `SqsJobQueue` sends."""
    return sqs_event(
        [
            SqsMessage(
                message_id=message_id,
                receipt_handle="sample-receipt-handle",
                body=job.model_dump_json(),
                attributes={
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1735689600000",
                    "SenderId": "AIDAEXAMPLESENDER",
                    "ApproximateFirstReceiveTimestamp": "1735689600010",
                    "SequenceNumber": "18849496460467696128",
                    "MessageGroupId": job.group,
                    "MessageDeduplicationId": job.dedupe_id,
                },
            )
        ],
        queue_arn=f"arn:aws:sqs:{SAMPLE_REGION}:{SAMPLE_ACCOUNT}:cliniko-connector-PollQueue.fifo",
    )


def render_sample_events(actions: Mapping[str, Action] | None = None) -> dict[str, str]:
    """Relative path → file content of every sample event this module generates."""
    actions = ACTIONS if actions is None else actions
    files: dict[str, Any] = {
        "events/poll_dispatcher/scheduled.json": scheduled_event(
            rule_arn=f"arn:aws:events:{SAMPLE_REGION}:{SAMPLE_ACCOUNT}:rule/cliniko-connector-dev-PollSchedule",
            event_id=sample_id("poll_dispatcher/scheduled"),
            time=SAMPLE_TIME,
        ),
    }
    samples = {
        # One job per connection and tick: its due streams, polled in turn.
        "job": PollJob(connection_id=SAMPLE_CONNECTION_ID, resources=("patients", "medical_alerts"), tick=1735689600),
        "reconcile_job": PollJob(
            connection_id=SAMPLE_CONNECTION_ID,
            resources=("patients", "medical_alerts"),
            reconcile=("patients",),
            tick=1735689600,
        ),
    }
    for name, job in samples.items():
        files[f"events/poll_worker/{name}.json"] = poll_job_event(job, sample_id(f"poll_worker/{name}"))
    for action in actions.values():
        files[f"events/actions/{action.name}.json"] = eventbridge_event(
            source=SAMPLE_ACTION_SOURCE,
            detail_type=ACTION_REQUESTED,
            detail=action_request_detail(action),
            event_id=sample_id(f"actions/{action.name}"),
            time=SAMPLE_TIME,
        )
    return {path: json.dumps(content, indent=2) + "\n" for path, content in files.items()}
