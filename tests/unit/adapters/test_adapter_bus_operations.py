"""The operator adapters on moto: `events tail`'s rule and queue, the archive replays start from, the
dead-letter queues as `dlq` reads them, and a poll job sent again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from cliniko_connector.adapters.bus_operations import EventBridgeArchive, EventBridgeTail
from cliniko_connector.adapters.sqs import SqsDeadLetterQueues, SqsJobQueue
from cliniko_connector.errors import ConfigurationError
from cliniko_connector.ports import PollJob
from tests.unit.adapters.adapter_support import REGION

BUS = "operator-bus"


@pytest.fixture
def events(aws: None) -> Any:
    client = boto3.client("events", region_name=REGION)
    client.create_event_bus(Name=BUS)
    return client


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


def put(events: Any, detail_type: str) -> None:
    entry = {"EventBusName": BUS, "Source": "cliniko", "DetailType": detail_type, "Detail": '{"id": "1"}'}
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0


def test_a_tail_receives_what_its_pattern_matches_once_and_leaves_nothing_behind(events: Any, sqs: Any) -> None:
    tail = EventBridgeTail(events, sqs, BUS)
    tail.create("cliniko-tail-test", {"detail-type": ["Patient Created"]})
    assert tail.names("cliniko-tail-") == ["cliniko-tail-test"]
    put(events, "Patient Updated")
    put(events, "Patient Created")
    (body,) = tail.receive("cliniko-tail-test", 0)
    assert json.loads(body)["detail-type"] == "Patient Created"
    assert tail.receive("cliniko-tail-test", 0) == []
    assert tail.remove("cliniko-tail-test") == []
    assert tail.names("cliniko-tail-") == []
    assert sqs.list_queues(QueueNamePrefix="cliniko-tail-").get("QueueUrls", []) == []


def test_the_archive_is_found_from_the_bus_and_replays_to_the_rules_chosen(events: Any) -> None:
    bus_arn = events.describe_event_bus(Name=BUS)["Arn"]
    events.create_archive(ArchiveName="operator-archive", EventSourceArn=bus_arn)
    events.put_rule(Name="Alert", EventBusName=BUS, EventPattern=json.dumps({"source": ["cliniko"]}))
    archive = EventBridgeArchive.of_bus(events, BUS)
    assert archive.archive_arn.endswith(":archive/operator-archive") and archive.bus_arn == bus_arn
    rules = {r.name: r for r in archive.rules()}
    assert rules["Alert"].event_pattern == json.dumps({"source": ["cliniko"]}) and not rules["Alert"].managed
    alert = archive.rule_arn("Alert")
    assert alert == rules["Alert"].arn
    with pytest.raises(ConfigurationError, match="no rule 'Missing' on the bus operator-bus"):
        archive.rule_arn("Missing")
    since = datetime.now(UTC) - timedelta(hours=1)
    started = archive.start_replay("r-1", since, since + timedelta(minutes=30), [alert])
    assert started.state in ("STARTING", "RUNNING", "COMPLETED")
    assert archive.describe_replay("r-1").state in ("STARTING", "RUNNING", "COMPLETED")


def test_a_bus_without_exactly_one_archive_asks_for_its_arn(events: Any) -> None:
    with pytest.raises(ConfigurationError, match="found 0 archives of operator-bus: set EVENT_ARCHIVE_ARN"):
        EventBridgeArchive.of_bus(events, BUS)
    given = EventBridgeArchive.of_bus(events, BUS, archive_arn="arn:given")
    assert given.archive_arn == "arn:given"


def test_dead_letters_are_read_with_their_attributes_hidden_released_and_deleted(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"x": 1}',
        MessageAttributes={"ERROR_CODE": {"DataType": "String", "StringValue": "NO_PERMISSIONS"}},
    )
    dlq = SqsDeadLetterQueues(sqs)
    (message,) = dlq.receive(url, 10, hide_seconds=60)
    assert message.body == '{"x": 1}' and message.attributes == {"ERROR_CODE": "NO_PERMISSIONS"}
    assert message.receive_count == 1 and message.sent_at is not None
    assert abs((datetime.now(UTC) - message.sent_at).total_seconds()) < 600
    assert dlq.receive(url, 10, hide_seconds=60) == []  # hidden
    dlq.release(url, message.receipt_handle)
    (again,) = dlq.receive(url, 10, hide_seconds=60)
    assert again.receive_count == 2
    dlq.delete(url, again.receipt_handle)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")


def test_a_requeued_job_is_taken_even_right_after_the_same_job_was_queued(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="poll.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue, job = SqsJobQueue(url, sqs), PollJob(connection_id="c", resource="patients", tick=7)
    queue.enqueue([job])
    queue.enqueue([job])  # the same tick again: deduplicated
    queue.requeue(job)  # sent on purpose: not
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "2"
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [PollJob.model_validate_json(m["Body"]) for m in messages] == [job, job]
