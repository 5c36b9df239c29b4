"""The poll queue on moto: a poll job that failed for a transient reason is visible again after the worker's
retry delay, not after the PollQueue's half-hour visibility timeout."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from cliniko_connector.adapters.sqs import SqsJobQueue
from cliniko_connector.errors import ClinikoServerError, ClinikoUnauthorized
from cliniko_connector.ports import PollJob
from cliniko_connector.wiring import QueuedPollWorker
from cliniko_tools.devtools.template import build_template
from tests.unit.adapters.adapter_support import REGION
from tests.unit.fakes import FakeCliniko
from tests.unit.test_poll_worker import Clock, failing_with, worker

JOB = PollJob(connection_id="c", resource="patients", tick=7)


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queue(sqs: Any) -> SqsJobQueue:
    """A queue with the PollQueue's attributes as the template declares them."""
    declared = build_template()["Resources"]["PollQueue"]["Properties"]
    assert declared["VisibilityTimeout"] == 1800
    url = sqs.create_queue(
        QueueName="poll-jobs.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": str(declared["VisibilityTimeout"])},
    )["QueueUrl"]
    jobs = SqsJobQueue(url, sqs)
    jobs.enqueue([JOB])
    return jobs


def receive(sqs: Any, queue: SqsJobQueue) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=queue._url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def deliver(sqs: Any, queue: SqsJobQueue, error: Exception, delay: int) -> None:
    """One delivery of the queued job to a worker whose Cliniko answers with `error`."""
    (message,) = receive(sqs, queue)
    cliniko = FakeCliniko()
    failing_with(cliniko, error)
    with pytest.raises(type(error)):
        QueuedPollWorker(worker(cliniko, Clock()), queue, retry_delay_seconds=delay).handle(
            PollJob.model_validate_json(message["Body"]), message["ReceiptHandle"]
        )


def test_a_transient_failure_makes_the_job_visible_again_after_the_retry_delay(sqs: Any, queue: SqsJobQueue) -> None:
    deliver(sqs, queue, ClinikoServerError("Cliniko answered 503", status=503), delay=0)

    # A zero delay here stands for the worker's 20 s; the queue's own timeout would hide it for 30 minutes.
    (again,) = receive(sqs, queue)
    assert PollJob.model_validate_json(again["Body"]) == JOB
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_permanent_failure_leaves_the_job_hidden_for_the_visibility_timeout(sqs: Any, queue: SqsJobQueue) -> None:
    deliver(sqs, queue, ClinikoUnauthorized("Cliniko refused the API key", status=401), delay=0)

    assert receive(sqs, queue) == []


def test_a_tick_of_many_connections_is_sent_in_parallel_batches_of_ten_one_group_each(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="fan-out.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sent: list[int] = []
    client = sqs

    class Counting:
        def send_message_batch(self, **kw: Any) -> Any:
            sent.append(len(kw["Entries"]))
            return client.send_message_batch(**kw)

    jobs = [PollJob(connection_id=f"c{i:02d}", resources=("patients", "invoices"), tick=60) for i in range(25)]
    SqsJobQueue(url, Counting(), parallel_batches=4).enqueue(jobs)

    assert sorted(sent) == [5, 10, 10]
    bodies: list[PollJob] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [PollJob.model_validate_json(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(bodies, key=lambda j: j.connection_id) == jobs
