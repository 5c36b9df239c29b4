"""Poll jobs on an SQS FIFO queue: the message group is the connection, so SQS itself keeps one worker per
connection (and so per stream). Also the dead-letter queues as the operator reads them (`ports.DeadLetterQueues`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from cliniko_connector.errors import ConnectorError
from cliniko_connector.ports import PollJob, QueuedMessage

# SendMessageBatch takes at most ten messages.
BATCH = 10
# Batches sent at once: a tick of thousands of connections is a thousand batches, each a round trip.
PARALLEL_BATCHES = 16


class SqsJobQueue:
    """Implements `ports.JobQueue`, `ports.JobRetry` and `ports.JobRequeue`."""

    def __init__(self, queue_url: str, client: Any, *, parallel_batches: int = PARALLEL_BATCHES) -> None:
        self._url = queue_url
        self._client = client
        self._parallel = max(1, parallel_batches)

    def enqueue(self, jobs: Sequence[PollJob]) -> None:
        batches = [list(jobs[start : start + BATCH]) for start in range(0, len(jobs), BATCH)]
        if len(batches) <= 1 or self._parallel == 1:
            unsent = sum(self._send(batch) for batch in batches)
        else:
            # Jobs of one connection are one message, so batches carry no order between them.
            with ThreadPoolExecutor(max_workers=min(self._parallel, len(batches))) as pool:
                unsent = sum(pool.map(self._send, batches))
        if unsent:
            raise ConnectorError(f"{unsent} poll jobs could not be queued")

    def _send(self, batch: list[PollJob]) -> int:
        """Send one batch, resending what SQS refused; the number of jobs still not queued."""
        entries = [
            {
                "Id": str(i),
                "MessageBody": job.model_dump_json(),
                "MessageGroupId": job.group,
                # One job per connection per tick, however often the schedule fires in that tick.
                "MessageDeduplicationId": job.dedupe_id,
            }
            for i, job in enumerate(batch)
        ]
        for _attempt in range(3):
            response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            failed = {f["Id"] for f in response.get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        return len(entries)

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        self._client.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def requeue(self, job: PollJob) -> None:
        self._client.send_message(
            QueueUrl=self._url,
            MessageBody=job.model_dump_json(),
            MessageGroupId=job.group,
            MessageDeduplicationId=f"redrive-{uuid.uuid4().hex}",
        )


class SqsDeadLetterQueues:
    """Implements `ports.DeadLetterQueues`."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def receive(self, queue_url: str, max_messages: int, *, hide_seconds: int) -> list[QueuedMessage]:
        response = self._client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=hide_seconds,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [_queued(m) for m in response.get("Messages", [])]

    def release(self, queue_url: str, receipt_handle: str) -> None:
        self._client.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)

    def delete(self, queue_url: str, receipt_handle: str) -> None:
        self._client.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)


def _queued(message: dict[str, Any]) -> QueuedMessage:
    system = message.get("Attributes", {})
    sent = system.get("SentTimestamp")
    return QueuedMessage(
        message_id=message["MessageId"],
        receipt_handle=message.get("ReceiptHandle", ""),
        body=message.get("Body", ""),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
        attributes={k: str(v.get("StringValue", "")) for k, v in message.get("MessageAttributes", {}).items()},
    )
