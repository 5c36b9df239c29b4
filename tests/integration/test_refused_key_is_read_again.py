"""A key Cliniko refuses is read from Secrets Manager again: a longer secret cache never keeps a rotated-out key."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryRateBudget,
    InMemoryStreamStateStore,
    RecordingPublisher,
)
from cliniko_connector.adapters.secrets import DEFAULT_CACHE_TTL_SECONDS, SecretsManagerStore
from cliniko_connector.errors import ClinikoUnauthorized
from cliniko_connector.models import Connection
from cliniko_connector.settings import AwsResourceSettings
from cliniko_connector.wiring import Runtime
from cliniko_tools.simulator import Simulator
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration

NEW_KEY = "MS0xMjM0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcQ-au1"
SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:cliniko-connector/clinic-AbCdEf"


class SecretsManager:
    """A Secrets Manager client holding one secret, counting its reads."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:  # boto3 names the argument so
        assert SecretId == SECRET
        self.reads += 1
        return {"SecretString": self.value}


def test_a_refused_key_is_read_again_and_the_next_request_uses_the_rotated_one(simulator: Simulator) -> None:
    aws = SecretsManager(API_KEY)
    connection = Connection.model_validate(
        {"id": "clinic", "name": "Clinic", "secret_id": SECRET, "shard": "au1", "base_url": simulator.base_url}
    )
    settings = AwsResourceSettings(
        cliniko_contact_email="ops@example.com",
        connections_table="c",
        state_table="s",
        event_bus_name="b",
        cliniko_allow_base_url_override=True,
    )
    runtime = Runtime(
        settings=settings,
        connections=InMemoryConnectionStore([connection]),
        state=InMemoryStreamStateStore(),
        publisher=RecordingPublisher(),
        secrets=SecretsManagerStore(client=aws),
        rate_budget=InMemoryRateBudget(),
    )
    runtime.api_for(connection).request("GET", "/user")
    runtime.api_for(connection).request("GET", "/user")
    assert aws.reads == 1  # cached

    # `connections rotate-key`, then the old key revoked in Cliniko well within the cache's TTL.
    aws.value = NEW_KEY
    simulator.keys.add(NEW_KEY)
    simulator.keys.revoke(API_KEY)
    assert DEFAULT_CACHE_TTL_SECONDS > 60

    with pytest.raises(ClinikoUnauthorized):
        runtime.api_for(connection).request("GET", "/user")  # the cached key, refused once
    runtime.api_for(connection).request("GET", "/user")  # read again: the new key
    assert aws.reads == 2
