"""EventBridgePublisher specifics: entry size, entry shape, retry policy, delivery through a rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from cliniko_connector.adapters.eventbridge import (
    MAX_REQUEST_BYTES,
    EventBridgePublisher,
    entry_size,
    split_batches,
)
from cliniko_connector.errors import PublishError
from cliniko_connector.models import BusEvent
from tests.unit.adapters.adapter_support import (
    BUS_NAME,
    REGION,
    FlakyEventsClient,
    accepted_details,
    client_error,
    event_of_size,
    small_event,
)


def publisher(client: Any, sleeps: list[float] | None = None, **kw: Any) -> EventBridgePublisher:
    record = sleeps if sleeps is not None else []
    return EventBridgePublisher(BUS_NAME, client=client, sleep=record.append, jitter=lambda: 1.0, **kw)


# -- entry size --------------------------------------------------------------------------------------


def test_entry_size_counts_utf8_bytes_of_source_detail_type_and_detail() -> None:
    event = BusEvent(source="cliniko", detail_type="Patient Updated", detail={"n": "é"})

    # 7 + 15 + len('{"n":"é"}') where é is two bytes in UTF-8
    assert entry_size(event) == 7 + 15 + 10


def test_entry_size_adds_14_for_time_and_each_resource() -> None:
    bare = BusEvent(source="cliniko", detail_type="X", detail={})
    full = bare.model_copy(update={"time": datetime(2026, 1, 1, tzinfo=UTC), "resources": ("arn:a", "arn:bb")})

    assert entry_size(full) - entry_size(bare) == 14 + 5 + 6


def test_an_entry_of_exactly_256_kb_is_allowed_alone_and_two_halves_share_a_call() -> None:
    limit = event_of_size(1, MAX_REQUEST_BYTES)
    halves = [event_of_size(i, MAX_REQUEST_BYTES // 2) for i in range(2)]

    assert split_batches([limit]) == [[limit]]
    assert split_batches(halves) == [halves]
    assert split_batches([*halves, limit]) == [halves, [limit]]


def test_every_batch_respects_both_limits() -> None:
    events = [event_of_size(i, size) for i, size in enumerate([1000, 90_000, 200, 120_000, 50, 100_000] * 4)]

    batches = split_batches(events)

    assert [e for batch in batches for e in batch] == events
    for batch in batches:
        assert len(batch) <= 10
        assert sum(entry_size(e) for e in batch) <= MAX_REQUEST_BYTES


# -- entry shape -------------------------------------------------------------------------------------


def test_entries_carry_bus_name_compact_detail_time_and_resources(events_client: FlakyEventsClient) -> None:
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    rich = BusEvent(
        source="cliniko",
        detail_type="Appointment Booked",
        detail={"id": "9", "at": when, "fee": Decimal("12.50"), "name": "Zoë"},
        resources=("cliniko:acme:appointment/9",),
        time=when,
    )

    publisher(events_client).publish([rich, small_event(1)])

    first, second = events_client.requests[0]
    assert first == {
        "EventBusName": BUS_NAME,
        "Source": "cliniko",
        "DetailType": "Appointment Booked",
        "Detail": '{"id":"9","at":"2026-03-01 08:00:00+00:00","fee":"12.50","name":"Zoë"}',
        "Time": when,
        "Resources": ["cliniko:acme:appointment/9"],
    }
    assert "Time" not in second
    assert "Resources" not in second


def test_events_reach_a_rule_target_on_the_bus(aws: None) -> None:
    # Given a rule on the bus that forwards cliniko events to a queue
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=BUS_NAME)
    queue_url = sqs.create_queue(QueueName="sink")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": ["cliniko"]}))
    events.put_targets(Rule="all", EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": queue_arn}])

    # When 12 events are published
    EventBridgePublisher(BUS_NAME, client=events).publish([small_event(i) for i in range(12)])

    # Then the queue receives all 12 with their detail-type and detail
    bodies: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        bodies.extend(json.loads(m["Body"]) for m in batch)
    assert sorted(int(b["detail"]["id"]) for b in bodies) == list(range(12))
    assert {b["detail-type"] for b in bodies} == {"Patient Updated"}


# -- retries -----------------------------------------------------------------------------------------


def test_only_the_failed_indexes_are_resent(events_client: FlakyEventsClient) -> None:
    # Given the bus fails entries 1 and 4 of the first call
    events_client.fail_indexes_of_call(1, {1, 4})
    events = [small_event(i) for i in range(6)]

    publisher(events_client).publish(events)

    # Then the second call holds exactly those two, and every event was accepted once
    assert [json.loads(e["Detail"])["id"] for e in events_client.requests[1]] == ["1", "4"]
    assert sorted(d["id"] for d in accepted_details(events_client.accepted)) == [str(i) for i in range(6)]


def test_retries_back_off_exponentially(events_client: FlakyEventsClient) -> None:
    events_client.fail_permanently(True, code="ThrottlingException")
    sleeps: list[float] = []

    with pytest.raises(PublishError):
        publisher(events_client, sleeps, base_delay=0.1).publish([small_event(1)])

    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert len(events_client.calls) == 5


def test_backoff_is_capped_and_jittered(events_client: FlakyEventsClient) -> None:
    events_client.fail_permanently(True)
    sleeps: list[float] = []
    jitters = iter([0.0, 1.0, 0.0, 1.0])

    with pytest.raises(PublishError):
        EventBridgePublisher(
            BUS_NAME,
            client=events_client,
            sleep=sleeps.append,
            base_delay=1.0,
            max_delay=2.0,
            jitter=lambda: next(jitters),
        ).publish([small_event(1)])

    # Ceilings 1, 2, 2, 2; jitter keeps each wait between half the ceiling and the ceiling.
    assert sleeps == pytest.approx([0.5, 2.0, 1.0, 2.0])


def test_max_attempts_bounds_the_calls_per_batch(events_client: FlakyEventsClient) -> None:
    events_client.fail_permanently(True)

    with pytest.raises(PublishError) as raised:
        publisher(events_client, max_attempts=2).publish([small_event(1), small_event(2)])

    assert events_client.calls == [2, 2]
    assert raised.value.failed == 2
    assert "after 2 PutEvents attempts" in str(raised.value)


def test_failures_in_a_later_batch_count_the_unsent_rest(events_client: FlakyEventsClient) -> None:
    # Given the first batch goes through but every call after it fails entirely
    for call in range(2, 7):
        events_client.fail_indexes_of_call(call, set(range(10)), code="InternalFailure")
    events = [small_event(i) for i in range(25)]

    with pytest.raises(PublishError) as raised:
        publisher(events_client).publish(events)

    # Then 10 were accepted and the other 15 are reported (10 retried, 5 never sent)
    assert len(events_client.accepted) == 10
    assert raised.value.failed == 15
    assert events_client.calls == [10, 10, 10, 10, 10, 10]


def test_a_throttled_call_is_retried_whole(events_client: FlakyEventsClient) -> None:
    events_client.throttle_next_calls(2)

    publisher(events_client).publish([small_event(i) for i in range(3)])

    assert events_client.calls == [3, 3, 3]
    assert len(events_client.accepted) == 3


def test_a_call_throttled_every_time_raises_publish_error(events_client: FlakyEventsClient) -> None:
    events_client.throttle_next_calls(99)

    with pytest.raises(PublishError) as raised:
        publisher(events_client).publish([small_event(i) for i in range(3)])

    assert raised.value.failed == 3
    assert raised.value.error_codes == ["ThrottlingException"]


class _ScriptedClient:
    """Raises the scripted exceptions in turn, then accepts everything."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


def test_a_refused_request_raises_at_once_with_its_code() -> None:
    client = _ScriptedClient(client_error("AccessDeniedException", "PutEvents", "not authorized on bus x"))

    with pytest.raises(PublishError) as raised:
        publisher(client).publish([small_event(1), small_event(2)])

    assert client.calls == 1
    assert raised.value.failed == 2
    assert raised.value.error_codes == ["AccessDeniedException"]


def test_a_connection_error_is_retried() -> None:
    client = _ScriptedClient(EndpointConnectionError(endpoint_url="https://events.invalid"))

    publisher(client).publish([small_event(1)])

    assert client.calls == 2


def test_a_response_without_per_entry_results_is_resent_whole_when_it_reports_failures() -> None:
    class Garbled(_ScriptedClient):
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.calls += 1
            if self.calls == 1:
                return {"FailedEntryCount": 1, "Entries": []}
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}

    client = Garbled()

    publisher(client).publish([small_event(1), small_event(2)])

    assert client.calls == 2


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        EventBridgePublisher(BUS_NAME, client=object(), max_attempts=0)


def test_logs_hold_counts_not_event_contents(
    events_client: FlakyEventsClient, capsys: pytest.CaptureFixture[str]
) -> None:
    events_client.fail_next(1)
    events_client.throttle_next_calls(1)
    secret = BusEvent(source="cliniko", detail_type="Patient Updated", detail={"email": "jane.doe@example.com"})

    publisher(events_client).publish([secret])
    events_client.fail_permanently(True)
    with pytest.raises(PublishError) as raised:
        publisher(events_client).publish([secret])

    captured = capsys.readouterr()
    assert "jane.doe" not in captured.out + captured.err
    assert "jane.doe" not in str(raised.value)
