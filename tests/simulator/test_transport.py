"""Auth, User-Agent, rate limiting, fault injection, request log, lifecycle and the control surface."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from cliniko_tools.simulator import Simulator
from tests.simulator.conftest import API_KEY, USER_AGENT, session_for


def test_unknown_api_key_is_refused_with_rails_plain_text_401(sim: Simulator) -> None:
    with session_for("nope-au1") as session:
        response = session.get(sim.base_url + "/patients")
    assert response.status_code == 401
    assert response.text == "HTTP Basic: Access denied.\n"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "Basic" in response.headers["WWW-Authenticate"]


def test_missing_credentials_are_refused(sim: Simulator) -> None:
    response = requests.get(sim.base_url + "/patients", headers={"User-Agent": USER_AGENT})
    assert response.status_code == 401


@pytest.mark.parametrize("agent", [None, "", "python-requests/2.32", "My App", "My App (not-an-email)"])
def test_user_agent_without_contact_email_is_403_json(sim: Simulator, agent: str | None) -> None:
    headers = {"User-Agent": agent} if agent is not None else {}
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    try:
        token = __import__("base64").b64encode(f"{API_KEY}:".encode()).decode()
        conn.putrequest("GET", "/v1/patients", skip_accept_encoding=True)
        conn.putheader("Authorization", f"Basic {token}")
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 403
    assert "message" in __import__("json").loads(body)


def test_user_agent_with_name_and_email_is_accepted(sim: Simulator) -> None:
    with session_for(user_agent="Acme Sync (dev@acme.example)") as session:
        assert session.get(sim.base_url + "/patients").status_code == 200


def test_rate_limit_answers_429_with_reset_header_then_recovers() -> None:
    with Simulator(api_keys=[API_KEY], rate_limit=3, rate_window_seconds=1.0) as sim, session_for() as session:
        sim.start()
        statuses = [session.get(sim.base_url + "/patients").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = session.get(sim.base_url + "/patients")
        reset = int(limited.headers["X-RateLimit-Reset"])
        assert time.time() - 1 <= reset <= time.time() + 2
        assert limited.json()["message"]
        time.sleep(max(0.0, reset - time.time()) + 0.05)
        assert session.get(sim.base_url + "/patients").status_code == 200


def test_rate_limit_is_per_api_key() -> None:
    with Simulator(api_keys=["a-au1", "b-au1"], rate_limit=1, rate_window_seconds=30) as sim:
        sim.start()
        with session_for("a-au1") as a, session_for("b-au1") as b:
            assert a.get(sim.base_url + "/patients").status_code == 200
            assert a.get(sim.base_url + "/patients").status_code == 429
            assert b.get(sim.base_url + "/patients").status_code == 200


def test_set_rate_limit_and_control_surface_are_not_limited(sim: Simulator, http: requests.Session) -> None:
    sim.set_rate_limit(1, 30)
    assert http.get(sim.base_url + "/patients").status_code == 200
    assert http.get(sim.base_url + "/patients").status_code == 429
    control = sim.base_url.removesuffix("/v1") + "/__sim/health"
    assert all(requests.get(control).status_code == 200 for _ in range(3))


def test_server_error_fault_applies_to_the_next_count_requests(sim: Simulator, http: requests.Session) -> None:
    sim.faults.inject("server_error", count=2, status=503)
    statuses = [http.get(sim.base_url + "/patients").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_fault_path_filter(sim: Simulator, http: requests.Session) -> None:
    sim.faults.inject("server_error", count=1, paths=["/medical_alerts"])
    assert http.get(sim.base_url + "/patients").status_code == 200
    assert http.get(sim.base_url + "/medical_alerts").status_code == 500
    assert http.get(sim.base_url + "/medical_alerts").status_code == 200


def test_fault_fraction_is_seeded_and_partial(sim: Simulator, http: requests.Session) -> None:
    sim.faults.inject("server_error", fraction=0.5)
    statuses = [http.get(sim.base_url + "/user").status_code for _ in range(40)]
    assert 5 < statuses.count(500) < 35
    assert set(statuses) == {200, 500}
    sim.faults.clear()
    assert http.get(sim.base_url + "/user").status_code == 200


def test_latency_fault_delays_the_answer(sim: Simulator, http: requests.Session) -> None:
    sim.faults.inject("latency", count=1, delay=0.3)
    started = time.monotonic()
    assert http.get(sim.base_url + "/patients").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_timeout_fault_makes_the_client_time_out(sim: Simulator, http: requests.Session) -> None:
    sim.faults.inject("timeout", count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(sim.base_url + "/patients", timeout=0.3)
    assert http.get(sim.base_url + "/patients", timeout=5).status_code == 200


def test_stop_does_not_wait_for_a_stalled_timeout_fault() -> None:
    sim = Simulator(api_keys=[API_KEY])
    sim.start()
    sim.faults.inject("timeout", count=1, delay=60)
    session = session_for()
    worker = threading.Thread(target=lambda: _swallow(lambda: session.get(sim.base_url + "/patients", timeout=30)))
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    sim.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 5
    assert not worker.is_alive()
    session.close()


def _swallow(call: Callable[[], object]) -> None:
    with contextlib.suppress(requests.RequestException):
        call()


def test_reset_fault_drops_the_connection(sim: Simulator, http: requests.Session) -> None:
    sim.faults.inject("reset", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(sim.base_url + "/patients")
    assert http.get(sim.base_url + "/patients").status_code == 200
    assert sim.requests[0].status == 0


def test_malformed_json_fault_sends_a_truncated_200(sim: Simulator, http: requests.Session) -> None:
    sim.create("patients", {"first_name": "Ada", "last_name": "Lovelace"})
    sim.faults.inject("malformed_json", count=1)
    response = http.get(sim.base_url + "/patients")
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_rate_limit_fault_answers_429_with_reset(sim: Simulator, http: requests.Session) -> None:
    sim.faults.inject("rate_limit", count=1)
    response = http.get(sim.base_url + "/patients")
    assert response.status_code == 429
    assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())


def test_unknown_fault_kind_is_rejected(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.faults.inject("gremlins")


def test_request_log_records_every_api_request_without_the_key(sim: Simulator, http: requests.Session) -> None:
    http.get(sim.base_url + "/patients", params=[("q[]", "first_name:=Ada"), ("page", "2")])
    http.post(sim.base_url + "/patients", json={"first_name": "Ada"})
    with session_for("wrong") as other:
        other.get(sim.base_url + "/user")
    log = sim.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/v1/patients", 200),
        ("POST", "/v1/patients", 422),
        ("GET", "/v1/user", 401),
    ]
    assert log[0].query == [("q[]", "first_name:=Ada"), ("page", "2")]
    assert log[0].api_key_hash == hashlib.sha256(API_KEY.encode()).hexdigest()[:16]
    assert all(API_KEY not in repr(r) for r in log)
    assert isinstance(log[0].at, datetime) and log[0].at.tzinfo is not None
    sim.requests_clear()
    assert sim.requests == []


def test_stop_is_idempotent_and_leaks_no_threads() -> None:
    before = set(threading.enumerate())
    sim = Simulator(api_keys=[API_KEY])
    base = sim.start()
    with session_for() as session:  # a keep-alive connection left open on purpose
        assert session.get(base + "/patients").status_code == 200
        sim.stop()
        sim.stop()
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leaked == []
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(base + "/patients", timeout=1)


def test_start_binds_loopback_on_a_free_port() -> None:
    with Simulator(api_keys=[API_KEY]) as one, Simulator(api_keys=[API_KEY]) as two:
        assert one.start(port=0).startswith("http://127.0.0.1:")
        two.start(port=0)
        assert one.base_url != two.base_url
        assert one.base_url.endswith("/v1")


def test_control_surface_creates_updates_and_archives(sim: Simulator) -> None:
    control = sim.base_url.removesuffix("/v1") + "/__sim"
    created = requests.post(control + "/records/patients", json={"first_name": "Ada", "last_name": "L"})
    assert created.status_code == 201
    pid = created.json()["id"]
    assert requests.patch(f"{control}/records/patients/{pid}", json={"email": "a@b.co"}).json()["email"] == "a@b.co"
    archived = requests.post(f"{control}/records/patients/{pid}/archive")
    assert archived.json()["archived_at"] is not None
    assert requests.post(f"{control}/records/patients/{pid}/unarchive").json()["archived_at"] is None
    bad = requests.post(control + "/records/patients", json={"first_name": "No surname"})
    assert bad.status_code == 422 and bad.json()["errors"] == {"last_name": "can't be blank"}
    assert requests.get(control + "/records/patients").json()["patients"][0]["id"] == pid
    assert requests.post(control + "/records/nonsense", json={}).status_code == 404
    assert sim.requests == []  # control traffic isn't API traffic


def test_control_surface_cancel_and_invoice_payment(demo: Simulator) -> None:
    control = demo.base_url.removesuffix("/v1") + "/__sim"
    appointment = demo.list("individual_appointments")[0]
    cancelled = requests.post(
        f"{control}/records/individual_appointments/{appointment['id']}/cancel", json={"reason": 20}
    )
    assert cancelled.json()["cancellation_reason"] == 20
    invoice = requests.post(
        control + "/records/invoices",
        json={
            "patient_id": appointment["patient"]["links"]["self"].rsplit("/", 1)[1],
            "business_id": demo.list("businesses")[0]["id"],
        },
    ).json()
    assert invoice["status"] == 10
    assert requests.post(f"{control}/records/invoices/{invoice['id']}/pay").json()["status"] == 20
    closed = requests.post(f"{control}/records/invoices/{invoice['id']}/close").json()
    assert closed["status"] == 30 and closed["closed_at"] is not None


def test_control_surface_clock_faults_requests_and_health(sim: Simulator, http: requests.Session) -> None:
    control = sim.base_url.removesuffix("/v1") + "/__sim"
    assert (
        requests.post(control + "/clock", json={"set": "2025-01-01T00:00:00Z"}).json()["now"] == "2025-01-01T00:00:00Z"
    )
    assert requests.post(control + "/clock", json={"advance": 90}).json()["now"] == "2025-01-01T00:01:30Z"
    assert requests.post(control + "/faults", json={"kind": "server_error", "count": 1}).status_code == 200
    assert http.get(sim.base_url + "/patients").status_code == 500
    requests.post(control + "/faults", json={"kind": "server_error"})
    assert requests.delete(control + "/faults").status_code == 204
    assert http.get(sim.base_url + "/patients").status_code == 200
    log = requests.get(control + "/requests").json()["requests"]
    assert [r["status"] for r in log] == [500, 200]
    assert requests.delete(control + "/requests").status_code == 204
    health = requests.get(control + "/health").json()
    assert health["status"] == "ok" and health["records"]["users"] == 1
    assert requests.post(control + "/faults", json={"kind": "bogus"}).status_code == 400


def test_clock_defaults_to_real_time_and_can_be_set_and_advanced(sim: Simulator) -> None:
    assert abs(sim.clock.now().timestamp() - time.time()) < 2
    sim.clock.set(datetime(2024, 2, 29, 12, 0, tzinfo=UTC))
    first = sim.create("patients", {"first_name": "A", "last_name": "B"})
    assert first["created_at"] == "2024-02-29T12:00:00Z"
    sim.clock.advance(86400)
    assert sim.update("patients", first["id"], {"notes": "x"})["updated_at"] == "2024-03-01T12:00:00Z"
    sim.clock.resume()
    assert not sim.clock.frozen


def test_writes_in_the_same_second_keep_the_same_updated_at(sim: Simulator, http: requests.Session) -> None:
    sim.clock.set("2024-05-05T05:05:05Z")
    pid = http.post(sim.base_url + "/patients", json={"first_name": "A", "last_name": "B"}).json()["id"]
    stamps = {
        http.patch(f"{sim.base_url}/patients/{pid}", json={"notes": str(i)}).json()["updated_at"] for i in range(3)
    }
    assert stamps == {"2024-05-05T05:05:05Z"}
    sim.clock.advance(1)
    assert (
        http.patch(f"{sim.base_url}/patients/{pid}", json={"notes": "later"}).json()["updated_at"]
        == "2024-05-05T05:05:06Z"
    )


def test_an_unchanged_update_does_not_touch_updated_at(sim: Simulator) -> None:
    sim.clock.set("2024-05-05T05:05:05Z")
    patient = sim.create("patients", {"first_name": "A", "last_name": "B", "notes": "same"})
    sim.clock.advance(100)
    assert sim.update("patients", patient["id"], {"notes": "same"})["updated_at"] == patient["updated_at"]


def test_concurrent_clients_get_unique_ids_and_consistent_counts(sim: Simulator) -> None:
    created: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)
    in_flight = most_in_flight = 0

    def worker(index: int) -> None:
        nonlocal in_flight, most_in_flight
        with session_for() as session:
            start.wait(10)
            for n in range(15):
                with lock:
                    in_flight += 1
                    most_in_flight = max(most_in_flight, in_flight)
                response = session.post(
                    sim.base_url + "/patients", json={"first_name": f"T{index}", "last_name": f"N{n}"}
                )
                listed = session.get(sim.base_url + "/patients", params={"sort": "updated_at:desc"})
                with lock:
                    in_flight -= 1
                    statuses.extend([response.status_code, listed.status_code])
                    if response.status_code == 201:
                        created.append(response.json()["id"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Checked here, not in the threads: an assertion failing in a thread would not fail the test.
    assert statuses.count(201) == 90 and statuses.count(200) == 90
    assert most_in_flight > 1, "the clients never had requests in flight at the same time"
    assert len(set(created)) == 90
    with session_for() as session:
        assert session.get(sim.base_url + "/patients").json()["total_entries"] == 90


def test_module_entry_point_serves_until_sigterm(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"{API_KEY}\n", encoding="utf-8")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cliniko_tools.simulator",
            "--port",
            str(port),
            "--api-key-file",
            str(key_file),
            "--seed",
            "demo",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1" in line
        with session_for() as session:
            assert session.get(f"http://127.0.0.1:{port}/v1/patients").json()["total_entries"] == 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
