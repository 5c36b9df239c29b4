"""The local stack never runs against anything but loopback."""

from __future__ import annotations

import pytest

from cliniko_tools.cli.main import main
from cliniko_tools.local.endpoint import (
    NotLocalEndpoint,
    ensure_local_aws_environment,
    is_loopback_url,
    require_loopback_endpoint,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5000", "http://localhost:4566/", "http://[::1]:5000", "http://127.8.9.10:1"]
)
def test_loopback_urls(url: str) -> None:
    assert is_loopback_url(url)
    assert require_loopback_endpoint(url, {}) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "https://dynamodb.us-east-1.amazonaws.com",
        "http://0.0.0.0:5000",
        "http://192.168.1.2:5000",
        "http://127.0.0.1.nip.io:5000",
        "ftp://127.0.0.1",
        "127.0.0.1:5000",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    assert not is_loopback_url(url)
    with pytest.raises(NotLocalEndpoint):
        require_loopback_endpoint(url, {})


def test_unset_endpoint_is_refused_with_a_hint() -> None:
    with pytest.raises(NotLocalEndpoint, match="cliniko-connector local moto"):
        require_loopback_endpoint(environ={})


def test_service_specific_overrides_and_ignore_flag_are_refused() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_SQS": "https://sqs.amazonaws.com"}
    with pytest.raises(NotLocalEndpoint, match="AWS_ENDPOINT_URL_SQS"):
        require_loopback_endpoint(environ=env)
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    with pytest.raises(NotLocalEndpoint, match="IGNORE"):
        require_loopback_endpoint(environ=env)


def test_dummy_credentials_only_when_unset() -> None:
    env: dict[str, str] = {}
    ensure_local_aws_environment(env)
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_DEFAULT_REGION"] == "us-east-1"
    env = {"AWS_ACCESS_KEY_ID": "mine", "AWS_REGION": "eu-west-1"}
    ensure_local_aws_environment(env)
    assert env == {"AWS_ACCESS_KEY_ID": "mine", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}


@pytest.mark.parametrize("command", [["up"], ["run", "--once"], ["status"], ["invoke", "X"]])
def test_cli_commands_refuse_without_a_loopback_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://events.us-east-1.amazonaws.com")
    assert main(["local", *command]) == 1
    assert "not a loopback address" in capsys.readouterr().err
