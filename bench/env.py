"""The benchmarks' world: a moto server subprocess on loopback with the stack's resources, the simulator,
and the production adapters wired to them the way `wiring.build_runtime` wires them in Lambda.

Resources (created directly, not from template.yaml, so the benchmark doesn't depend on the template):

* state table (`pk`, `sk`) and connections table (`connection_id`), as the adapters expect;
* one event bus with two rules, each to its own SQS queue, so published events are really delivered:
  `delivered` takes every event of source `cliniko`; `sampled` takes only `Medical Alert Created` events of
  source `cliniko-backfill`. moto delivers an event to SQS in ~5-10 ms (it parses a JSON path per event
  and scans the queue), so large backfills publish under the second source: every event is still accepted
  by PutEvents, and a sample is delivered and counted. The rate-limited runs, which measure Cliniko
  requests only, publish under a third source no rule matches (moto's delivery cost grows with the queue's
  depth and would otherwise slow them down);
* a FIFO poll-job queue for the dispatcher.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cliniko_tools.local.endpoint import DEFAULT_REGION, DUMMY_CREDENTIALS, require_loopback_endpoint
from cliniko_tools.local.moto import MotoSubprocess

STATE_TABLE = "bench-state"
CONNECTIONS_TABLE = "bench-connections"
BUS = "bench-bus"
DELIVERED_SOURCE = "cliniko"
SAMPLED_SOURCE = "cliniko-backfill"
SAMPLED_DETAIL_TYPE = "Medical Alert Created"
UNROUTED_SOURCE = "cliniko-unrouted"  # accepted by PutEvents, matched by no rule (rate-limited runs)
POLL_QUEUE = "bench-poll-jobs.fifo"
API_KEY = "MS0xMjM0NTY3ODkwYmVuY2htYXJr-au1"
CONTACT_EMAIL = "bench@example.com"


def quiet_and_local() -> None:
    """Before anything builds a boto3 client: dummy credentials, a region, no metrics or info logs on stdout."""
    os.environ.update(DUMMY_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = DEFAULT_REGION
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cliniko-connector-bench")


@dataclass
class CallCounter:
    """Counts AWS API calls made through the shared boto3 clients (`before-call` events)."""

    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event_name: str, **_: Any) -> None:
        # event_name: "before-call.<service>.<Operation>"
        with self._lock:
            self.counts[event_name.split(".", 1)[1]] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


class LocalAws:
    """A moto server subprocess with the benchmark's resources; `AWS_ENDPOINT_URL` points at it."""

    def __init__(self) -> None:
        self.server = MotoSubprocess()
        self.calls = CallCounter()
        self.queue_urls: dict[str, str] = {}

    def __enter__(self) -> LocalAws:
        endpoint = self.server.start()
        os.environ["AWS_ENDPOINT_URL"] = require_loopback_endpoint(endpoint)
        from cliniko_connector.adapters.aws import boto3_client

        boto3_client.cache_clear()
        for service in ("dynamodb", "events", "sqs", "secretsmanager"):
            boto3_client(service).meta.events.register("before-call", self.calls)
        self._create()
        return self

    def __exit__(self, *exc: object) -> None:
        from cliniko_connector.adapters.aws import boto3_client

        boto3_client.cache_clear()
        os.environ.pop("AWS_ENDPOINT_URL", None)
        self.server.stop()

    def client(self, service: str) -> Any:
        from cliniko_connector.adapters.aws import boto3_client

        return boto3_client(service)

    def _create(self) -> None:
        from cliniko_tools.local.stack import create_declared_table

        ddb = self.client("dynamodb")
        create_declared_table(ddb, "StateTable", STATE_TABLE)
        create_declared_table(ddb, "ConnectionsTable", CONNECTIONS_TABLE)
        sqs, events = self.client("sqs"), self.client("events")
        events.create_event_bus(Name=BUS)
        rules = {
            "delivered": {"source": [DELIVERED_SOURCE]},
            "sampled": {"source": [SAMPLED_SOURCE], "detail-type": [SAMPLED_DETAIL_TYPE]},
        }
        for name, pattern in rules.items():
            url = sqs.create_queue(QueueName=f"bench-{name}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=f"bench-{name}", EventBusName=BUS, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=f"bench-{name}", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
            self.queue_urls[name] = url
        self.queue_urls["poll"] = sqs.create_queue(
            QueueName=POLL_QUEUE, Attributes={"FifoQueue": "true", "VisibilityTimeout": "900"}
        )["QueueUrl"]

    def queue_depth(self, name: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_urls[name],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def drain(self, name: str, *, expected: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Receive and delete messages of a queue until `expected` came or the queue stays empty."""
        import time

        sqs = self.client("sqs")
        url = self.queue_urls[name]
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        empty = 0
        while len(out) < expected and time.monotonic() < deadline and empty < 3:
            response = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"]
            )
            messages = response.get("Messages", [])
            if not messages:
                empty += 1
                continue
            empty = 0
            out.extend(messages)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return out
