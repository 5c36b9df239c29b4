"""Poll jobs on an SQS FIFO queue: the message group is the stream, so SQS itself keeps one worker per stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cliniko_connector.errors import ConnectorError
from cliniko_connector.ports import PollJob


class SqsJobQueue:
    """Implements `ports.JobQueue` and `ports.JobRetry`."""

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
