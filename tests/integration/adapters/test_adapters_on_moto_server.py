"""The adapters over real HTTP against a moto server on loopback, as the local stack runs them: clients come
from `boto3_client` and reach the server only through `AWS_ENDPOINT_URL`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.adapters.dynamodb import DynamoConnectionStore, DynamoRateBudget, DynamoStreamStateStore
from cliniko_connector.adapters.eventbridge import EventBridgePublisher
from cliniko_connector.adapters.secrets import SecretsManagerStore
from cliniko_connector.errors import CursorConflict, RateBudgetExhausted
from cliniko_connector.models import BusEvent, Connection, RecordSnapshot, RecordState, StreamCursor, StreamKey
from cliniko_tools.local.stack import create_declared_table
from tests.leases import take_lease

pytestmark = pytest.mark.integration

STATE_TABLE = "it-state"
CONNECTIONS_TABLE = "it-connections"
BUS = "it-bus"
STREAM = StreamKey(connection_id="acme", resource="appointments")
T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def local_stack(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    boto3_client.cache_clear()
    ddb = boto3_client("dynamodb")
    create_declared_table(ddb, "StateTable", STATE_TABLE)
    create_declared_table(ddb, "ConnectionsTable", CONNECTIONS_TABLE)
    yield moto_server
    boto3_client.cache_clear()


def test_clients_reach_the_local_stack_through_aws_endpoint_url(local_stack: str) -> None:
    assert boto3_client("dynamodb").meta.endpoint_url == local_stack
    assert STATE_TABLE in boto3_client("dynamodb").list_tables()["TableNames"]


def test_stream_state_over_http(local_stack: str) -> None:
    store = DynamoStreamStateStore(STATE_TABLE)
    store.delete_stream(STREAM)

    v1 = store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=None)
    v2 = store.put_cursor(STREAM, StreamCursor(position=T0 + timedelta(minutes=1), origin=T0), expected_version=1)
    with pytest.raises(CursorConflict):
        store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=2)
    assert v1.version == 1
    assert store.get_cursor(STREAM) == v2

    assert take_lease(store, STREAM, "a", 60) is True
    assert take_lease(store, STREAM, "b", 60) is False

    states = [
        RecordState(
            id=str(i), settled=RecordSnapshot(id=str(i), updated_at="2026-02-01T12:00:00Z", fingerprint=f"f{i}")
        )
        for i in range(130)
    ]
    store.put_records(STREAM, states)
    assert store.get_records(STREAM, [s.id for s in states]) == {s.id: s for s in states}

    store.delete_stream(STREAM)
    assert store.get_cursor(STREAM) is None


def test_connections_over_http(local_stack: str) -> None:
    store = DynamoConnectionStore(CONNECTIONS_TABLE)
    acme = Connection(id="acme", name="Acme", secret_id="arn:x", shard="au1", triggers=("patient.created",))

    store.put(acme)

    assert store.get("acme") == acme
    assert acme in store.list()
    store.delete("acme")


def test_secrets_over_http(local_stack: str) -> None:
    store = SecretsManagerStore(prefix="it/")

    secret_id = store.put("acme", "key-au1")

    assert store.get(secret_id) == "key-au1"
    store.delete(secret_id)


def test_rate_budget_learns_a_penalty_over_http(local_stack: str) -> None:
    # The penalty comes back inside the ConditionalCheckFailed error: this checks botocore hands it over.
    key = f"k-{time.time_ns()}"
    worker_a = DynamoRateBudget(STATE_TABLE, limit_per_minute=100)
    slept: list[float] = []
    worker_b = DynamoRateBudget(STATE_TABLE, limit_per_minute=100, sleep=slept.append)
    worker_a.penalize(key, time.time() + 3600)

    # Worker B would wait an hour, far past its deadline, so it gives up at once; had it missed the
    # penalty it would have taken the refusal for a full window and slept until the next one.
    with pytest.raises(RateBudgetExhausted):
        worker_b.acquire(key, purpose="action", deadline=time.monotonic() + 120)

    assert slept == []
    assert worker_b.usage(key, purpose="poll") == (0, 80)


def test_publisher_over_http(local_stack: str) -> None:
    events = boto3_client("events")
    sqs = boto3_client("sqs")
    if BUS not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]:
        events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName=f"it-sink-{time.time_ns()}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"r{time.time_ns()}"
    events.put_rule(Name=rule, EventBusName=BUS, EventPattern=json.dumps({"source": ["it"]}))
    events.put_targets(Rule=rule, EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])

    EventBridgePublisher(BUS).publish(
        [BusEvent(source="it", detail_type="Patient Created", detail={"id": str(i)}, time=T0) for i in range(3)]
    )

    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        received.extend(json.loads(m["Body"]) for m in batch)
    assert sorted(r["detail"]["id"] for r in received) == ["0", "1", "2"]
    assert {r["time"] for r in received} == {"2026-02-01T12:00:00Z"}
