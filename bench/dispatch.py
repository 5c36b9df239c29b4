"""The dispatcher's fan-out at scale: 1,000 and 10,000 connections, every trigger on, one tick.

The production code runs as deployed (`Dispatcher`, `DynamoConnectionStore` reading and parsing every
connection item, `SqsJobQueue` batching and sending in parallel); the two services it calls are modelled,
since moto answers neither at a deployed service's speed (its FIFO send re-checks every queued message,
its Scan is an order of magnitude slower than DynamoDB's):

* DynamoDB `Scan`: pages of at most 1 MB of the connection items (their real low-level form), each page
  `SCAN_PAGE_SECONDS` per MB read (a conservative sequential-Scan rate);
* SQS FIFO `SendMessageBatch`: `SEND_BATCH_SECONDS` per call, at most `FIFO_CALLS_PER_SECOND` calls per
  second on the queue (FIFO without high-throughput mode, which the template's PollQueue is), at most ten
  entries and 256 KiB per call, a message group and a deduplication id on each, ids unique per queue.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from bench.cost import item_size
from cliniko_connector.adapters.dynamodb import DynamoConnectionStore, _connection_to_item
from cliniko_connector.adapters.sqs import SqsJobQueue
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.models import Connection
from cliniko_connector.ports import PollJob
from cliniko_connector.usecases.dispatch import Dispatcher

SCAN_PAGE_BYTES = 1024 * 1024
SCAN_PAGE_SECONDS = 0.25  # per MB page
SEND_BATCH_SECONDS = 0.030
FIFO_CALLS_PER_SECOND = 300
MAX_BATCH_BYTES = 256 * 1024


class ModelledDynamoDB:
    """`Scan` over fixed items, paged and timed as DynamoDB pages it (see the module docstring)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.scans = 0

    def scan(self, *, TableName: str, ExclusiveStartKey: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        start = int(ExclusiveStartKey["i"]["N"]) if ExclusiveStartKey else 0
        page: list[dict[str, Any]] = []
        size = 0
        index = start
        while index < len(self.items) and size < SCAN_PAGE_BYTES:
            page.append(self.items[index])
            size += item_size(self.items[index])
            index += 1
        self.scans += 1
        time.sleep(SCAN_PAGE_SECONDS * size / SCAN_PAGE_BYTES)
        response: dict[str, Any] = {"Items": page, "Count": len(page)}
        if index < len(self.items):
            response["LastEvaluatedKey"] = {"i": {"N": str(index)}}
        return response


class ModelledFifoQueue:
    """`SendMessageBatch` to one FIFO queue with SQS's limits and a round trip per call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self.calls = 0
        self.messages: dict[str, dict[str, Any]] = {}  # deduplication id -> entry
        self.groups: set[str] = set()

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if not 1 <= len(Entries) <= 10:
            raise ValueError("SendMessageBatch takes 1 to 10 entries")
        if sum(len(e["MessageBody"].encode()) for e in Entries) > MAX_BATCH_BYTES:
            raise ValueError("a batch over 256 KiB")
        with self._lock:  # the queue's call rate: each call takes the next free slot
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1 / FIFO_CALLS_PER_SECOND
            self.calls += 1
        time.sleep(slot - now + SEND_BATCH_SECONDS)
        with self._lock:
            for entry in Entries:
                if not entry.get("MessageGroupId") or not entry.get("MessageDeduplicationId"):
                    raise ValueError("a FIFO message needs a group and a deduplication id")
                self.messages.setdefault(entry["MessageDeduplicationId"], entry)
                self.groups.add(entry["MessageGroupId"])
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def _connections(n: int) -> list[dict[str, Any]]:
    return [
        _connection_to_item(
            Connection(
                id=f"clinic-{i:05d}",
                name=f"Clinic {i}",
                secret_id=f"arn:aws:secretsmanager:us-east-1:000000000000:secret:bench/clinic-{i:05d}",
                shard="au1",
                triggers=tuple(TRIGGERS),
            )
        )
        for i in range(n)
    ]


def fan_out(connections: int) -> dict[str, Any]:
    """One tick's dispatch of `connections` clinics; its wall time and what reached the queue."""
    ddb, sqs = ModelledDynamoDB(_connections(connections)), ModelledFifoQueue()
    dispatcher = Dispatcher(
        DynamoConnectionStore("bench-connections", client=ddb),
        SqsJobQueue("https://sqs.us-east-1.amazonaws.com/000000000000/bench-poll.fifo", sqs),
    )
    started = time.perf_counter()
    jobs = dispatcher.dispatch(datetime.now(UTC))
    seconds = time.perf_counter() - started
    streams = sum(len(PollJob.model_validate_json(m["MessageBody"]).resources) for m in sqs.messages.values())
    return {
        "seconds": round(seconds, 2),
        "jobs": jobs,
        "queued": len(sqs.messages),
        "groups": len(sqs.groups),
        "streams": streams,
        "send_message_batch_calls": sqs.calls,
        "scan_pages": ddb.scans,
    }


def dispatch() -> dict[str, Any]:
    small, large = fan_out(1000), fan_out(10_000)
    return {
        "dispatch_seconds_1000": small["seconds"],
        "dispatch_seconds_10000": large["seconds"],
        "dispatch_connections": 10_000,
        "dispatch_jobs": large["jobs"],
        "dispatch_jobs_queued": large["queued"],
        "dispatch_message_groups": large["groups"],
        "dispatch_streams_in_jobs": large["streams"],
        "dispatch_send_message_batch_calls": large["send_message_batch_calls"],
        "dispatch_scan_pages": large["scan_pages"],
        "dispatch_model": {
            "scan_seconds_per_mb_page": SCAN_PAGE_SECONDS,
            "send_message_batch_seconds": SEND_BATCH_SECONDS,
            "fifo_calls_per_second": FIFO_CALLS_PER_SECOND,
        },
    }
