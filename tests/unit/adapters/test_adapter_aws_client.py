"""The shared boto3 client factory: one client per (service, region), bounded timeouts and retries,
and the endpoint taken from boto3's own configuration (`AWS_ENDPOINT_URL`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import ANY

import pytest

from cliniko_connector.adapters.aws import boto3_client


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    boto3_client.cache_clear()
    yield
    boto3_client.cache_clear()


def test_clients_are_reused_per_service_and_region() -> None:
    dynamodb = boto3_client("dynamodb")

    assert boto3_client("dynamodb") is dynamodb
    assert boto3_client("events") is not dynamodb
    assert boto3_client("dynamodb", region="eu-west-2") is not dynamodb
    assert boto3_client("dynamodb", region="eu-west-2") is boto3_client("dynamodb", region="eu-west-2")


def test_region_defaults_to_the_environment_and_can_be_given() -> None:
    assert boto3_client("dynamodb").meta.region_name == "us-east-1"
    assert boto3_client("dynamodb", region="ap-southeast-2").meta.region_name == "ap-southeast-2"


def test_clients_have_bounded_timeouts_and_standard_retries() -> None:
    config = boto3_client("events").meta.config

    assert config.connect_timeout == 3
    assert config.read_timeout == 10
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] == 3


def test_clients_leave_parameter_validation_to_aws() -> None:
    # botocore's client-side check walks every nested value of every request in Python; AWS validates anyway:
    # a request without its required Key is sent (here to a stub answering 200) rather than refused locally.
    from botocore.awsrequest import AWSResponse

    class _Body:
        def stream(self, **_: Any) -> Any:
            yield b"{}"

    sent: list[str] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        return AWSResponse(request.url, 200, {}, _Body())

    client = boto3_client("dynamodb")
    client.meta.events.register("before-send", answer)
    try:
        assert client.get_item(TableName="t") == {"ResponseMetadata": ANY}
    finally:
        client.meta.events.unregister("before-send", answer)
    assert len(sent) == 1


def test_aws_endpoint_url_points_clients_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")

    assert boto3_client("secretsmanager").meta.endpoint_url == "http://127.0.0.1:5999"


def test_without_an_override_the_regional_aws_endpoint_is_used() -> None:
    assert boto3_client("dynamodb").meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
