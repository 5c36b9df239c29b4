"""Fixtures for the adapter tests: moto in-process, tables with the template's exact schemas, a fake
clock, and contract fixtures that yield the real adapter and then its in-memory fake."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cliniko_connector.adapters.dynamodb import DynamoConnectionStore, DynamoRateBudget, DynamoStreamStateStore
from cliniko_connector.adapters.eventbridge import EventBridgePublisher
from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryRateBudget,
    InMemorySecretStore,
    InMemoryStreamStateStore,
    RecordingPublisher,
)
from cliniko_connector.adapters.secrets import SecretsManagerStore
from tests.unit.adapters.adapter_support import (
    BUS_NAME,
    CONNECTIONS_TABLE,
    REGION,
    STATE_TABLE,
    ClientProxy,
    FakeClock,
    FlakyEventsClient,
    PublisherHarness,
    RateBudgetFactory,
    create_connections_table,
    create_state_table,
)

# -- AWS in-process ---------------------------------------------------------------------------------


@pytest.fixture
def ddb(aws: None) -> ClientProxy:
    return ClientProxy(boto3.client("dynamodb", region_name=REGION))


@pytest.fixture
def state_table(ddb: ClientProxy) -> str:
    create_state_table(ddb)
    ddb.calls.clear()
    return STATE_TABLE


@pytest.fixture
def connections_table(ddb: ClientProxy) -> str:
    create_connections_table(ddb)
    ddb.calls.clear()
    return CONNECTIONS_TABLE


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def events_client(aws: None) -> FlakyEventsClient:
    client = boto3.client("events", region_name=REGION)
    client.create_event_bus(Name=BUS_NAME)
    return FlakyEventsClient(client)


@pytest.fixture
def secrets_client(aws: None) -> ClientProxy:
    return ClientProxy(boto3.client("secretsmanager", region_name=REGION))


# -- contract fixtures: each yields the real adapter, then the fake ---------------------------------

BOTH = ["dynamodb", "memory"]


@pytest.fixture(params=BOTH)
def state_store(request: pytest.FixtureRequest, clock: FakeClock) -> Any:
    if request.param == "memory":
        return InMemoryStreamStateStore(now=clock.now)
    table = request.getfixturevalue("state_table")
    return DynamoStreamStateStore(table, client=request.getfixturevalue("ddb"), now=clock.now, sleep=clock.sleep)


@pytest.fixture(params=BOTH)
def connection_store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryConnectionStore()
    table = request.getfixturevalue("connections_table")
    return DynamoConnectionStore(table, client=request.getfixturevalue("ddb"))


@pytest.fixture(params=["secretsmanager", "memory"])
def secret_store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemorySecretStore()
    return SecretsManagerStore(client=request.getfixturevalue("secrets_client"))


@pytest.fixture(params=BOTH)
def make_rate_budget(request: pytest.FixtureRequest, clock: FakeClock) -> RateBudgetFactory:
    """Builds a rate budget on the fake clock with no jitter; keyword arguments go to the constructor."""

    def make(**kwargs: Any) -> Any:
        common: dict[str, Any] = {
            "sleep": clock.sleep,
            "now": clock.now,
            "monotonic": clock.monotonic,
            "jitter": lambda: 0.0,
            **kwargs,
        }
        if request.param == "memory":
            return InMemoryRateBudget(**common)
        table = request.getfixturevalue("state_table")
        return DynamoRateBudget(table, client=request.getfixturevalue("ddb"), **common)

    return make


@pytest.fixture(params=["eventbridge", "memory"])
def publisher_harness(request: pytest.FixtureRequest) -> PublisherHarness:
    if request.param == "memory":
        fake = RecordingPublisher()
        return PublisherHarness(
            fake,
            accepted=lambda: [(e.detail_type, e.detail) for e in fake.events],
            calls=lambda: fake.calls,
            fail_next=fake.fail_next,
            fail_permanently=fake.fail_permanently,
        )
    flaky: FlakyEventsClient = request.getfixturevalue("events_client")
    publisher = EventBridgePublisher(BUS_NAME, client=flaky, sleep=lambda _s: None)
    return PublisherHarness(
        publisher,
        accepted=lambda: [(e["DetailType"], json.loads(e["Detail"])) for e in flaky.accepted],
        calls=lambda: flaky.calls,
        fail_next=flaky.fail_next,
        fail_permanently=flaky.fail_permanently,
    )
