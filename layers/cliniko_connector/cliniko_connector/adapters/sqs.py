"""Poll jobs on an SQS FIFO queue: the message group is the stream, so SQS itself keeps one worker per stream.
Also the dead-letter queues as the operator reads them (`ports.DeadLetterQueues`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cliniko_connector.errors import ConnectorError
from cliniko_connector.ports import PollJob, QueuedMessage


class SqsJobQueue:
    """Implements `ports.JobQueue`, `ports.JobRetry` and `ports.JobRequeue`."""

    def __init__(self, queue_url: str, client: Any) -> None:
        self._url = queue_url
        self._client = client

    def enqueue(self, jobs: Sequence[PollJob]) -> None:
        for start in range(0, len(jobs), 10):
            batch = list(jobs[start : start + 10])
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": job.model_dump_json(),
                    "MessageGroupId": job.group,
                    # One job per stream per tick, however often the schedule fires in that tick.
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
            if entries:
                raise ConnectorError(f"{len(entries)} poll jobs could not be queued")

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
