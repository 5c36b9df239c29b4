"""A connection's API key goes only to Cliniko: `https://api.<shard>.cliniko.com/v1`, or, where the stack allows an
override (the local stack, the tests), to an https URL or a loopback http one. Each test is an attempt to send a
key elsewhere (a URL given to `connections add`, a connections-table row edited afterwards) and shows that no
request leaves and, at use, that the refusal is counted for the alarm."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cliniko_connector import observability
from cliniko_connector.adapters import cliniko_http
from cliniko_connector.adapters.cliniko_http import ClinikoClient, base_url_override, check_base_url
from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryRateBudget,
    InMemorySecretStore,
    InMemoryStreamStateStore,
    RecordingPublisher,
)
from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import UntrustedBaseUrl
from cliniko_connector.eventmodels import ActionRequest
from cliniko_connector.models import Connection, StreamCursor, StreamKey
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import PollerSettings
from cliniko_connector.usecases.actions import ActionRunner
from cliniko_connector.usecases.connections import ConnectionAdmin
from cliniko_connector.wiring import PollWorker, Runtime

API_KEY = "MS0xMjM0NTY3ODkwa2V5Z29lc29ubHl0bw-uk2"
ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)

REFUSED_EVERYWHERE = [
    "file:///etc/passwd",
    "ftp://api.au1.cliniko.com/v1",
    "http://api.au1.cliniko.com/v1",  # Cliniko, but the key would cross the internet in the clear
    "http://attacker.example/v1",
    "http://127.0.0.1.attacker.example/v1",
    "gopher://127.0.0.1:70/",
    "https:///v1",
    "https://user:pass@api.au1.cliniko.com/v1",
    "https://api.au1.cliniko.com/v1?steal=1",
    "https://api.au1.cliniko.com/v1#x",
    "https://api.au1.cliniko.com/v1\n",
    "https://api.au1.cliniko.com:notaport/v1",
    "//attacker.example/v1",
    "api.au1.cliniko.com/v1",
]
ACCEPTED_WHERE_ALLOWED = ["https://staging.example.org/v1", "http://127.0.0.1:8123/v1", "http://[::1]:8123/v1"]


class NoSession:
    """A `requests.Session` that fails the test if anything is sent."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.calls.append(url)
        pytest.fail(f"the key was sent to {url}")


class CountingSecrets(InMemorySecretStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, secret_id: str) -> str:
        self.reads += 1
        return super().get(secret_id)


@pytest.mark.parametrize("url", REFUSED_EVERYWHERE)
def test_a_base_url_that_is_not_https_or_loopback_is_refused_in_one_line(url: str) -> None:
    with pytest.raises(UntrustedBaseUrl) as refused:
        check_base_url(url)
    message = str(refused.value)
    assert message.startswith("base URL refused") and "\n" not in message
    assert "pass" not in message  # user info is never echoed


@pytest.mark.parametrize("url", REFUSED_EVERYWHERE)
def test_the_client_itself_never_sends_a_key_to_such_a_url(url: str) -> None:
    with pytest.raises(UntrustedBaseUrl):
        ClinikoClient(API_KEY, user_agent="t (t@example.com)", base_url=url, session=NoSession())  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ACCEPTED_WHERE_ALLOWED)
def test_an_override_is_accepted_only_where_the_stack_allows_it(url: str) -> None:
    assert base_url_override(url, allowed=True) == url
    with pytest.raises(UntrustedBaseUrl, match="sends API keys only to"):
        base_url_override(url, allowed=False)
    assert base_url_override(None, allowed=False) is None


def test_without_an_override_the_key_goes_to_its_shard() -> None:
    assert ClinikoClient(API_KEY, user_agent="t (t@example.com)").base_url == "https://api.uk2.cliniko.com/v1"


# -- the stack's own wiring ---------------------------------------------------------------------------------


def settings(*, allow_override: bool) -> PollerSettings:
    return PollerSettings(
        cliniko_contact_email="ops@example.com",
        connections_table="connections",
        state_table="state",
        event_bus_name="bus",
        cliniko_allow_base_url_override=allow_override,
    )


def runtime_with(base_url: str | None, *, allow_override: bool) -> tuple[Runtime, CountingSecrets]:
    secrets = CountingSecrets()
    secret_id = secrets.put("northside", API_KEY)
    row = Connection(
        id="northside",
        name="Northside",
        secret_id=secret_id,
        shard="uk2",
        base_url=base_url,
        hash_salt="s",
        allowed_actions=("patient.find",),
    )
    state = InMemoryStreamStateStore()
    state.put_cursor(
        StreamKey(connection_id="northside", resource="patients"),
        StreamCursor(position=ORIGIN, origin=ORIGIN),
        expected_version=None,
    )
    runtime = Runtime(
        settings=settings(allow_override=allow_override),
        connections=InMemoryConnectionStore([row]),
        state=state,
        publisher=RecordingPublisher(),
        secrets=secrets,
        rate_budget=InMemoryRateBudget(),
    )
    return runtime, secrets


EDITED_ROWS = [
    ("https://api.au1.cliniko.com.attacker.example/v1", False),  # a deployed stack: no override at all
    ("http://127.0.0.1:8123/v1", False),  # even loopback, where the stack doesn't allow it
    ("http://attacker.example/v1", True),  # allowed overrides are still https or loopback
    ("file:///tmp/key", True),
]


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    observability.flush_metrics()  # what `contained` does when the handler returns
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def no_cliniko(monkeypatch: pytest.MonkeyPatch) -> NoSession:
    """Metrics on (EMF on stdout) and an HTTP session that fails the test if anything is sent."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    session = NoSession()
    monkeypatch.setattr(cliniko_http, "shared_session", lambda: session)
    return session


@pytest.mark.parametrize(("base_url", "allowed"), EDITED_ROWS)
def test_an_action_on_an_edited_row_fails_before_its_key_is_read_and_is_counted(
    no_cliniko: NoSession, capsys: pytest.CaptureFixture[str], base_url: str, allowed: bool
) -> None:
    runtime, secrets = runtime_with(base_url, allow_override=allowed)
    bus = RecordingPublisher()
    runner = ActionRunner(
        action=ACTIONS["patient.find"],
        connections=runtime.connections,
        api_for=lambda c: runtime.api_for(c, "action"),
        publisher=bus,
        event_source="cliniko",
    )
    outcome = runner.run(ActionRequest(connection_id="northside", input={"email": "a@example.com"}))
    assert outcome["status"] == "failed" and outcome["error"]["type"] == "UntrustedBaseUrl"
    assert [e.detail_type for e in bus.events] == ["Cliniko Action Failed"]
    assert secrets.reads == 0 and no_cliniko.calls == []
    (refused,) = [m for m in emitted_metrics(capsys) if "ConnectionBaseUrlRefused" in m]
    # One metric for the stack (the alarm's); which connection is in the line, for Logs Insights.
    assert refused["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert refused["connection"] == "northside"


@pytest.mark.parametrize(("base_url", "allowed"), EDITED_ROWS)
def test_a_poll_of_an_edited_row_fails_before_its_key_is_read_and_says_why(
    no_cliniko: NoSession, capsys: pytest.CaptureFixture[str], base_url: str, allowed: bool
) -> None:
    runtime, secrets = runtime_with(base_url, allow_override=allowed)
    worker = PollWorker(runtime, settings(allow_override=allowed))
    with pytest.raises(UntrustedBaseUrl):
        worker.handle(PollJob(connection_id="northside", resource="patients"))
    assert secrets.reads == 0 and no_cliniko.calls == []
    cursor = runtime.state.get_cursor(StreamKey(connection_id="northside", resource="patients"))
    assert cursor is not None and cursor.last_error is not None and "UntrustedBaseUrl" in cursor.last_error
    assert any("ConnectionBaseUrlRefused" in m for m in emitted_metrics(capsys))


def test_the_same_row_runs_where_the_stack_allows_its_override() -> None:
    runtime, secrets = runtime_with("http://127.0.0.1:8123/v1", allow_override=True)
    row = runtime.connections.get("northside")
    assert getattr(runtime.api_for(row, "action"), "base_url", None) == "http://127.0.0.1:8123/v1"
    assert secrets.reads == 1


@pytest.mark.parametrize(("base_url", "allowed"), [("file:///etc/passwd", True), ("http://127.0.0.1:1/v1", False)])
def test_connections_add_refuses_a_url_before_the_key_is_checked_or_stored(
    no_cliniko: NoSession, base_url: str, allowed: bool
) -> None:
    runtime, _ = runtime_with(None, allow_override=allowed)
    runtime.connections.delete("northside")
    secrets = InMemorySecretStore()
    admin = ConnectionAdmin(runtime.connections, secrets, runtime.state, runtime.api_for_key)
    with pytest.raises(UntrustedBaseUrl):
        admin.add("Elsewhere", API_KEY, base_url=base_url)
    assert no_cliniko.calls == [] and runtime.connections.list() == [] and repr(secrets).endswith("secrets=0)")
