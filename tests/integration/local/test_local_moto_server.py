"""The moto server helpers: free loopback ports, readiness, clean stop."""

from __future__ import annotations

import boto3
import pytest

from cliniko_tools.local.moto import InProcessMoto, MotoNotReady, MotoSubprocess, is_ready, wait_until_ready

pytestmark = pytest.mark.integration


def test_subprocess_server_on_a_free_loopback_port() -> None:
    with MotoSubprocess() as server:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        assert is_ready(server.endpoint_url)
        sqs = boto3.client("sqs", endpoint_url=server.endpoint_url, region_name="us-east-1")
        assert sqs.create_queue(QueueName="q")["QueueUrl"].endswith("/q")
        endpoint = server.endpoint_url
    assert server.pid is None
    assert not is_ready(endpoint)


def test_two_in_process_servers_get_different_ports() -> None:
    with InProcessMoto() as first, InProcessMoto() as second:
        assert first.endpoint_url != second.endpoint_url
        assert is_ready(first.endpoint_url) and is_ready(second.endpoint_url)


def test_waiting_for_nothing_times_out() -> None:
    from cliniko_tools.local.moto import free_port

    with pytest.raises(MotoNotReady):
        wait_until_ready(f"http://127.0.0.1:{free_port()}", timeout=0.3)
