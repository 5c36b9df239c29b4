"""The Cliniko client against the simulator over real HTTP: paging, errors, retries, rate limits."""

from __future__ import annotations

import logging
import time

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient, q
from cliniko_connector.errors import (
    ClinikoBadResponse,
    ClinikoError,
    ClinikoNotFound,
    ClinikoServerError,
    ClinikoTimeout,
    ClinikoUnauthorized,
    ClinikoValidationError,
)
from cliniko_tools.simulator import Simulator
from tests.integration.conftest import API_KEY, USER_AGENT


def seed_patients(sim: Simulator, n: int) -> None:
    for i in range(n):
        sim.create("patients", {"first_name": f"Pat{i}", "last_name": "Example"})


def test_pagination_follows_links_next_to_the_last_page(simulator: Simulator, client: ClinikoClient) -> None:
    seed_patients(simulator, 250)
    simulator.requests_clear()
    records = list(client.iter_records("/patients", params=[("per_page", "100")]))
    assert len(records) == 250
    assert len({r["id"] for r in records}) == 250
    assert len(simulator.requests) == 3
    assert all(isinstance(r["id"], str) for r in records)


def test_filters_reach_cliniko_and_select_records(simulator: Simulator, client: ClinikoClient) -> None:
    seed_patients(simulator, 3)
    target = simulator.create("patients", {"first_name": "Grace", "last_name": "Hopper", "email": "g@h.io"})
    found = list(client.iter_records("/patients", params=[q("email", "=", "g@h.io")]))
    assert [r["id"] for r in found] == [target["id"]]


def test_a_429_waits_until_x_ratelimit_reset_and_then_succeeds(simulator: Simulator) -> None:
    simulator.set_rate_limit(3, 1.0)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    client = ClinikoClient(API_KEY, user_agent=USER_AGENT, base_url=simulator.base_url, sleep=sleep)
    for _ in range(5):
        client.request("GET", "/patients")
    statuses = [r.status for r in simulator.requests]
    assert 429 in statuses
    assert statuses[-1] == 200
    # X-RateLimit-Reset is whole epoch seconds: a 1 s window rounds up to at most 2 s, plus < 0.25 s jitter.
    assert waits
    assert all(0 <= w <= 2.3 for w in waits)


def test_server_errors_are_retried_and_then_succeed(simulator: Simulator, client: ClinikoClient) -> None:
    simulator.faults.inject("server_error", count=2, status=503)
    assert client.request("GET", "/patients")["total_entries"] == 0
    assert [r.status for r in simulator.requests] == [503, 503, 200]


def test_server_errors_retry_only_within_the_time_budget(simulator: Simulator, client: ClinikoClient) -> None:
    simulator.faults.inject("server_error", count=1000, status=500)
    started = time.monotonic()
    with pytest.raises(ClinikoServerError) as caught:
        client.request("GET", "/patients", deadline=time.monotonic() + 2.0)
    assert time.monotonic() - started < 4.0
    assert 2 <= len(simulator.requests) < 50
    assert caught.value.status == 500


@pytest.mark.parametrize("kind", ["timeout", "reset", "malformed_json"])
def test_transient_transport_faults_are_retried_for_reads(kind: str, simulator: Simulator) -> None:
    client = ClinikoClient(API_KEY, user_agent=USER_AGENT, base_url=simulator.base_url, timeout=0.5, max_backoff=0.1)
    simulator.faults.inject(kind, count=1, delay=2.0)
    assert client.request("GET", "/patients")["total_entries"] == 0


def test_a_create_is_never_sent_twice_after_an_ambiguous_timeout(simulator: Simulator) -> None:
    client = ClinikoClient(API_KEY, user_agent=USER_AGENT, base_url=simulator.base_url, timeout=0.5, max_backoff=0.1)
    simulator.faults.inject("timeout", count=1, delay=2.0)
    with pytest.raises(ClinikoTimeout):
        client.request("POST", "/patients", json={"first_name": "A", "last_name": "B"})
    time.sleep(2.2)  # the simulator logs the slow request once it has answered it
    assert len([r for r in simulator.requests if r.method == "POST"]) == 1


def test_malformed_json_that_persists_is_a_typed_error(simulator: Simulator, client: ClinikoClient) -> None:
    simulator.faults.inject("malformed_json", count=1000)
    with pytest.raises(ClinikoBadResponse):
        client.request("GET", "/patients", deadline=time.monotonic() + 0.5)


def test_validation_errors_carry_cliniko_field_errors(client: ClinikoClient) -> None:
    with pytest.raises(ClinikoValidationError) as caught:
        client.request("POST", "/patients", json={"first_name": "Only"})
    assert caught.value.status == 422
    assert "last_name" in caught.value.field_errors


def test_an_unknown_id_is_not_found_even_with_an_html_body(client: ClinikoClient) -> None:
    with pytest.raises(ClinikoNotFound) as caught:
        client.request("GET", "/patients/999999999999")
    assert caught.value.status == 404


def test_a_wrong_key_is_unauthorized(simulator: Simulator) -> None:
    client = ClinikoClient("wrong-key-au1", user_agent=USER_AGENT, base_url=simulator.base_url)
    with pytest.raises(ClinikoUnauthorized):
        client.request("GET", "/user")


def test_a_next_link_to_another_host_is_refused(client: ClinikoClient) -> None:
    with pytest.raises(ClinikoBadResponse, match="outside"):
        client.list_page("http://evil.example.com/v1/patients?page=2")


def test_the_api_key_never_appears_in_logs_or_errors(
    simulator: Simulator, client: ClinikoClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ClinikoError] = []
    simulator.faults.inject("server_error", count=1000)
    for call in (
        lambda: client.request("GET", "/patients", deadline=time.monotonic() + 0.3),
        lambda: client.request("POST", "/patients", json={}),
    ):
        with pytest.raises(ClinikoError) as caught:
            call()
        errors.append(caught.value)
    simulator.faults.clear()
    with pytest.raises(ClinikoError) as refused:
        ClinikoClient("bad-key-au1", user_agent=USER_AGENT, base_url=simulator.base_url).request("GET", "/user")
    errors.append(refused.value)
    text = caplog.text + " ".join(f"{e!s} {e!r} {e.to_dict()}" for e in errors)
    assert API_KEY not in text
    assert "bad-key" not in text
