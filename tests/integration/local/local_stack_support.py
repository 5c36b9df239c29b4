"""Helpers of the local-stack tests: a tmp project holding the generated template.yaml and throwaway
handlers under functions/ (the real handlers are not needed to test the local stack itself)."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from cliniko_connector.catalog.actions import Action
from cliniko_tools.devtools.template import (
    DEFAULT_ACTION_REQUEST_SOURCE,
    EXAMPLE_AUTOMATIONS,
    STACKS_DIR,
    build_stacks,
    render_stacks,
)
from cliniko_tools.local.stack import StackState, up

CONTACT = {"ClinikoContactEmail": "tests@example.com"}
# Action rules take requests only from the sources the stack declares (docs/security.md).
REQUEST_SOURCE = DEFAULT_ACTION_REQUEST_SOURCE

ACTION_HANDLER = """
import json, os, pathlib

CALLS = pathlib.Path(__file__).with_name("calls.jsonl")
IMPORTED = {"ACTION_NAME": os.environ.get("ACTION_NAME"), "AWS_ENDPOINT_URL": os.environ.get("AWS_ENDPOINT_URL")}


def lambda_handler(event, context):
    with CALLS.open("a") as calls:
        calls.write(json.dumps({
            "function_name": context.function_name,
            "function_arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "request_id": context.aws_request_id,
            "imported": IMPORTED,
            "env": {k: os.environ.get(k) for k in (
                "ACTION_NAME", "IDEMPOTENCY_TABLE", "CONNECTIONS_TABLE", "STATE_TABLE", "EVENT_BUS_NAME",
                "CLINIKO_CONTACT_EMAIL", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_LOG_LEVEL")},
            "event": event,
        }) + "\\n")
    body = event["detail"] if "detail-type" in event else event
    if body.get("input", {}).get("fail"):
        raise RuntimeError("asked to fail")
    return {"status": "succeeded", "action": os.environ["ACTION_NAME"]}
"""

DISPATCHER_HANDLER = """
import json, os, pathlib, uuid
import boto3

SQS = boto3.client("sqs")  # created at import, from the function's environment
CALLS = pathlib.Path(__file__).with_name("calls.jsonl")


def lambda_handler(event, context):
    with CALLS.open("a") as calls:
        calls.write(json.dumps({"event": event, "queue": os.environ["POLL_QUEUE_URL"]}) + "\\n")
    SQS.send_message(
        QueueUrl=os.environ["POLL_QUEUE_URL"],
        MessageBody=json.dumps({"connection_id": "demo", "resource": "patients"}),
        MessageGroupId="demo#patients",
        MessageDeduplicationId=str(uuid.uuid4()),
    )
    return {"jobs": 1}
"""

WORKER_HANDLER = """
import json, os, pathlib
import boto3

EVENTS = boto3.client("events")
CALLS = pathlib.Path(__file__).with_name("calls.jsonl")


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        with CALLS.open("a") as calls:
            calls.write(json.dumps({"record": record}) + "\\n")
        body = json.loads(record["body"])
        if body.get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        EVENTS.put_events(Entries=[{
            "EventBusName": os.environ["EVENT_BUS_NAME"],
            "Source": "cliniko",  # the trigger source, as the real poll worker publishes
            "DetailType": "Cliniko Action Requested",
            "Detail": json.dumps({
                "action": "medical_alert.create",
                "connection_id": body["connection_id"],
                "input": {"patient_id": "1", "name": "from the worker"},
            }),
        }])
    return {"batchItemFailures": failures}
"""

# A function URL's handler: echoes what Lambda's payload-2.0 event held.
HOOK_HANDLER = """
import json


def lambda_handler(event, context):
    echoed = {k: event.get(k) for k in ("rawPath", "body", "isBase64Encoded")}
    echoed["method"] = event["requestContext"]["http"]["method"]
    echoed["signature"] = event["headers"].get("x-signature")
    return {"statusCode": 201, "headers": {"content-type": "application/json"}, "body": json.dumps(echoed)}
"""

HANDLERS = {
    "action": ACTION_HANDLER,
    "poll_dispatcher": DISPATCHER_HANDLER,
    "poll_worker": WORKER_HANDLER,
    "hook": HOOK_HANDLER,
}


class Project:
    """A tmp project: template.yaml, throwaway handlers, and helpers to bring it up and inspect it."""

    def __init__(self, root: Path, endpoint: str) -> None:
        self.root = root
        self.endpoint = endpoint
        self.write_template()
        for code_dir, source in HANDLERS.items():
            path = root / "functions" / code_dir / "app.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source), encoding="utf-8")

    def write_template(self, actions: Mapping[str, Action] | None = None) -> None:
        """The real template and its nested stacks, or those of a smaller catalog (keeping the examples whose action
        it has); nested templates of a previous catalog are removed."""
        examples = tuple(e for e in EXAMPLE_AUTOMATIONS if actions is None or e.action in actions)
        shutil.rmtree(self.root / STACKS_DIR, ignore_errors=True)
        for path, text in render_stacks(build_stacks(actions, examples)).items():
            (self.root / path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / path).write_text(text, encoding="utf-8")

    @property
    def state_path(self) -> Path:
        return self.root / ".local" / "stack.json"

    def up(self, **parameters: str) -> StackState:
        return up(self.root / "template.yaml", parameters={**CONTACT, **parameters}, state_path=self.state_path)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1")

    def put_event(self, state: StackState, source: str, detail_type: str, detail: dict[str, Any]) -> None:
        response = self.client("events").put_events(
            Entries=[
                {
                    "EventBusName": state.event_buses["EventBus"],
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                }
            ]
        )
        assert response["FailedEntryCount"] == 0, response

    def messages(self, state: StackState, queue: str) -> list[dict[str, Any]]:
        """Every visible message of `queue` (a state key), left in place (visibility 0)."""
        response = self.client("sqs").receive_message(
            QueueUrl=state.queues[queue].url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return [json.loads(m["Body"]) for m in response.get("Messages", [])]

    def depth(self, state: StackState, queue: str) -> tuple[int, int]:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=state.queues[queue].url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def calls(self, code_dir: str) -> list[dict[str, Any]]:
        path = self.root / "functions" / code_dir / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def bus_rules(events: Any, bus: str) -> list[dict[str, Any]]:
    """Every rule on `bus`: ListRules answers a page of 50 at most, and the catalog declares more actions."""
    return [rule for page in events.get_paginator("list_rules").paginate(EventBusName=bus) for rule in page["Rules"]]
