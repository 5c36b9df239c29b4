"""Dead letters as a use-case: listed without being consumed, sent back where they came from, then deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cliniko_connector.adapters.memory import InMemoryDeadLetterQueues, InMemoryJobRequeue, RecordingPublisher
from cliniko_connector.errors import ConfigurationError, ConnectorError
from cliniko_connector.ports import PollJob, QueuedMessage
from cliniko_connector.usecases.dlq import DeadLetters, QueueKind, RedriveTargets

URLS: dict[QueueKind, str] = {"actions": "q/actions", "rule-targets": "q/rules", "poll": "q/poll"}
ARN = "arn:aws:lambda:us-east-1:1:function:stack-MedicalAlertCreateActionFunction-X"
EVENT = {"source": "cliniko", "detail-type": "Patient Created", "detail": {"connection_id": "c", "event_key": "k"}}


def queues(*messages: tuple[QueueKind, Any]) -> InMemoryDeadLetterQueues:
    fake = InMemoryDeadLetterQueues()
    for n, (kind, body) in enumerate(messages):
        fake.add(URLS[kind], QueuedMessage(message_id=f"m-{n}", body=json.dumps(body)))
    return fake


class Targets:
    def __init__(self, poll_queue: bool = True) -> None:
        self.bus = RecordingPublisher()
        self.jobs = InMemoryJobRequeue()
        self.invoked: list[tuple[str, Any]] = []
        self.to = RedriveTargets(
            bus=self.bus,
            bus_name="bus",
            poll_queue=self.jobs if poll_queue else None,
            invoke_function=lambda arn, payload: self.invoked.append((arn, payload)),
        )


def test_listing_then_releasing_leaves_every_message_in_its_queue() -> None:
    fake = queues(("actions", {"requestContext": {}}), ("poll", {"connection_id": "c", "resource": "patients"}))
    letters = DeadLetters(fake, URLS)
    listed = letters.receive(URLS, limit=10)
    assert sorted(m.queue for m in listed) == ["actions", "poll"] and fake.hidden
    letters.release(listed)
    assert not fake.hidden and len(letters.receive(URLS)) == 2


def test_a_limit_caps_the_messages_read_per_queue() -> None:
    fake = queues(*[("rule-targets", EVENT)] * 25)
    assert len(DeadLetters(fake, URLS).receive(["rule-targets"], limit=12)) == 12


def test_each_kind_goes_back_where_it_came_from_and_leaves_its_queue() -> None:
    record = {"requestContext": {"functionArn": ARN}, "requestPayload": {"connection_id": "c", "input": {}}}
    job = {"connection_id": "c", "resource": "patients", "tick": 3}
    fake = queues(("actions", record), ("rule-targets", EVENT), ("poll", job))
    letters, targets = DeadLetters(fake, URLS), Targets()
    done = sorted(letters.redrive(m, targets.to) for m in letters.receive(URLS))
    assert done == [
        "invoked stack-MedicalAlertCreateActionFunction-X again",
        "put back on bus",
        "sent back to the poll queue",
    ]
    assert targets.invoked == [(ARN, {"connection_id": "c", "input": {}})]
    (event,) = targets.bus.events
    assert (event.source, event.detail_type, event.detail) == ("cliniko", "Patient Created", EVENT["detail"])
    assert targets.jobs.jobs == [PollJob.model_validate(job)]
    assert all(not kept for kept in fake.messages.values())


def test_a_refused_put_back_keeps_the_message_and_says_why() -> None:
    fake = queues(("rule-targets", EVENT))
    letters, targets = DeadLetters(fake, URLS), Targets()
    targets.bus.fail_permanently(code="AccessDeniedException")
    (message,) = letters.receive(URLS)
    with pytest.raises(ConnectorError, match=r"the bus refused the event \(AccessDeniedException\)"):
        letters.redrive(message, targets.to)
    assert len(fake.messages[URLS["rule-targets"]]) == 1


def test_a_poll_job_without_a_known_poll_queue_is_not_sent_anywhere() -> None:
    fake = queues(("poll", {"connection_id": "c", "resource": "patients"}))
    letters = DeadLetters(fake, URLS)
    (message,) = letters.receive(URLS)
    with pytest.raises(ConfigurationError, match="POLL_QUEUE_URL"):
        letters.redrive(message, Targets(poll_queue=False).to)
    assert len(fake.messages[URLS["poll"]]) == 1


def test_an_unreadable_message_is_listed_but_never_sent_back() -> None:
    fake = InMemoryDeadLetterQueues()
    fake.add(URLS["actions"], QueuedMessage(message_id="m", body="not json"))
    letters = DeadLetters(fake, URLS)
    (message,) = letters.receive(URLS)
    with pytest.raises(ConnectorError, match="can't be sent back"):
        letters.redrive(message, Targets().to)
