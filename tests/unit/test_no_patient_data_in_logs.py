"""No API key and no patient data in logs, metrics, exception messages or error dicts.

Every test here runs a representative scenario under the `leak_watch` fixture, which works like a small
pytest plugin: it turns logging up to DEBUG (the Powertools logger and every standard logger), turns EMF
metrics on (they print to stdout), and after the test scans everything that was written, plus whatever the
test handed it with `leak_watch.scan(...)` (exceptions, their `to_dict()`, stored state), for the API key
and for every distinctive value of the test patient. Any hit fails the test with where it was found.

Patient data is *meant* to travel on the bus in `full` payload mode and in action results, so bus events and
results are not scanned unless the test says so (minimal mode must carry none).
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cliniko_connector import observability
from cliniko_connector.adapters import cliniko_http
from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryRateBudget,
    InMemorySecretStore,
    InMemoryStreamStateStore,
    RecordingPublisher,
)
from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE, TRIGGERS
from cliniko_connector.errors import (
    ClinikoBadResponse,
    ClinikoError,
    ClinikoValidationError,
    ConnectorError,
    InputValidationError,
    PublishError,
)
from cliniko_connector.eventmodels import ActionRequest, parse_action_event
from cliniko_connector.models import Connection, PayloadMode, StreamCursor, StreamKey
from cliniko_connector.ports import Page, PollJob
from cliniko_connector.settings import PollerSettings
from cliniko_connector.usecases.actions import ActionRunner
from cliniko_connector.usecases.connections import ConnectionAdmin
from cliniko_connector.usecases.poll import StreamPoller
from cliniko_connector.wiring import PollWorker, Runtime
from cliniko_tools.devtools.template import build_template
from cliniko_tools.local.runner import LambdaContext

# A key in Cliniko's format (the shard after the last `-`) that appears nowhere else.
API_KEY = "MS0xODQ3NTYyOTM4NDc1NjItTGVha1Rlc3RLZXlRdWlsbGZlYXRoZXI-au4"
ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
USER_AGENT = "leak-test (ops@example.com)"

PATIENT: dict[str, Any] = {
    "id": "1000000000000004242",
    "first_name": "Zebulonia",
    "last_name": "Quillfeather",
    "preferred_first_name": "Zebbie-Q",
    "email": "zebulonia.quillfeather@leaktest.example",
    "date_of_birth": "1937-02-11",
    "patient_phone_numbers": [{"phone_type": "Mobile", "number": "+61 491 570 777"}],
    "address_1": "17 Wandering Wombat Way",
    "city": "Bungendore-Upon-Tweed",
    "occupation": "Lighthouse keeper of Xanadu",
    "emergency_contact": "Mortimer Quillfeather 0491 570 888",
    "notes": "Allergic to xylophone polish; fears marmosets.",
    "appointment_notes": "Prefers the teal waiting room.",
    "medicare": "2953710481",
    "archived_at": None,
    "created_at": "2026-01-01T00:00:10Z",
    "updated_at": "2026-01-01T00:00:10Z",
}
# Every value that must never be written anywhere but the bus (and action results).
NEEDLES: tuple[str, ...] = (
    API_KEY,
    API_KEY[:24],  # a truncated key is still a key
    "Zebulonia",
    "Quillfeather",
    "Zebbie-Q",
    "zebulonia.quillfeather@leaktest.example",
    "1937-02-11",
    "491 570 777",
    "491570777",
    "Wandering Wombat",
    "Bungendore-Upon-Tweed",
    "Xanadu",
    "Mortimer",
    "xylophone polish",
    "marmosets",
    "teal waiting room",
    "2953710481",
)


# -- the plugin ------------------------------------------------------------------------------------------


@dataclass
class LeakWatch:
    """What a scenario wrote, and what the test handed over; `assert_clean` lists every hit."""

    handler_stream: io.StringIO
    capsys: pytest.CaptureFixture[str]
    caplog: pytest.LogCaptureFixture
    scanned: list[tuple[str, str]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    def scan(self, what: str, obj: Any) -> None:
        """Add an object to the scan: an exception (message, repr, `to_dict()`), a mapping, anything."""
        if isinstance(obj, BaseException):
            self.scanned.append((f"{what}: str", str(obj)))
            self.scanned.append((f"{what}: repr", repr(obj)))
            if isinstance(obj, ConnectorError):
                self.scanned.append((f"{what}: to_dict", json.dumps(obj.to_dict(), default=str)))
            for name, value in vars(obj).items():
                self.scanned.append((f"{what}: .{name}", json.dumps(value, default=str)))
            return
        self.scanned.append((what, obj if isinstance(obj, str) else json.dumps(obj, default=repr)))

    def outputs(self) -> list[tuple[str, str]]:
        captured = self.capsys.readouterr()
        self.stdout += captured.out
        self.stderr += captured.err
        records = [
            json.dumps({k: v for k, v in r.__dict__.items() if k not in ("exc_info",)}, default=repr)
            for r in self.caplog.records
        ]
        return [
            ("Powertools logs", self.handler_stream.getvalue()),
            ("stdout (EMF metrics)", self.stdout),
            ("stderr", self.stderr),
            ("standard logging", self.caplog.text + "\n".join(records)),
            *self.scanned,
        ]

    def hits(self) -> list[str]:
        found = []
        for where, text in self.outputs():
            lowered = text.lower()
            for needle in NEEDLES:
                if needle.lower() in lowered:
                    at = lowered.index(needle.lower())
                    found.append(f"{needle!r} in {where}: …{text[max(0, at - 80) : at + 80]}…")
        return found

    def assert_clean(self) -> None:
        hits = self.hits()
        assert not hits, "patient data or API key leaked:\n" + "\n".join(hits)


@pytest.fixture
def leak_watch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[LeakWatch]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cliniko-connector-leaktest")
    caplog.set_level(logging.DEBUG)
    logger = observability.logger
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    underlying = logging.getLogger(logger.name)
    previous_level = underlying.level
    underlying.addHandler(handler)
    logger.setLevel("DEBUG")
    watch = LeakWatch(stream, capsys, caplog)
    try:
        yield watch
        observability.flush_metrics()
        watch.assert_clean()
    finally:
        underlying.removeHandler(handler)
        underlying.setLevel(previous_level)


def assert_scenario_was_observed(watch: LeakWatch, *, metrics: bool = True) -> None:
    """The scan means something only if the scenario did log (and emit metrics)."""
    observability.flush_metrics()  # as the handler's end would: metrics are written once per invocation
    outputs = dict(watch.outputs())
    assert outputs["Powertools logs"].strip(), "the scenario logged nothing"
    if metrics:
        assert '"_aws"' in outputs["stdout (EMF metrics)"], "no EMF metrics were captured"


# -- fakes ---------------------------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status
        self._body = body
        self.content = b"" if body is None else json.dumps(body).encode()
        self.headers = dict(headers or {})

    def json(self) -> Any:
        if self._body is None:
            raise ValueError("no body")
        return self._body


class FakeSession:
    """`requests.Session` stand-in for `ClinikoClient`: answers from a script, records what was asked."""

    def __init__(self, answers: list[FakeResponse]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append({"method": method, "url": url, **kwargs})
        assert kwargs["auth"] == (API_KEY, "")
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def patients_page(*records: Mapping[str, Any]) -> FakeResponse:
    return FakeResponse(200, {"patients": [dict(r) for r in records], "total_entries": len(records), "links": {}})


def validation_failed(errors: Mapping[str, str] | None = None, message: str = "Validation Failed") -> FakeResponse:
    """A 422 in Cliniko's documented shape: `{"message": …, "errors": {field: text}}`."""
    return FakeResponse(422, {"message": message, **({"errors": dict(errors)} if errors else {})})


class StaticCliniko:
    """A `ports.ClinikoApi` that lists fixed records and answers every write with `error` (or echoes it)."""

    def __init__(self, records: list[dict[str, Any]], error: ClinikoError | None = None) -> None:
        self.records = records
        self.error = error
        self.requests_sent = 0

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.requests_sent += 1
        if self.error is not None:
            raise self.error
        return {**kwargs.get("json", {}), "id": PATIENT["id"]}

    def list_page(self, path_or_url: str, *, params: Any = (), deadline: float | None = None) -> Page:
        self.requests_sent += 1
        return Page(records=[dict(r) for r in self.records], total_entries=len(self.records), next_url=None)

    def iter_records(self, path: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from (dict(r) for r in self.records)


def connection(mode: PayloadMode = PayloadMode.FULL, secret_id: str = "s") -> Connection:
    return Connection(
        id="northside",
        name="Northside Physio",
        secret_id=secret_id,
        shard="au4",
        triggers=tuple(TRIGGERS),
        allowed_actions=tuple(ACTIONS),
        payload_mode=mode,
        hash_salt="salt",
    )


def fresh_state() -> InMemoryStreamStateStore:
    state = InMemoryStreamStateStore()
    key = StreamKey(connection_id="northside", resource="patients")
    state.put_cursor(key, StreamCursor(position=ORIGIN, origin=ORIGIN), expected_version=None)
    return state


def stored_state(state: InMemoryStreamStateStore) -> dict[str, Any]:
    """Everything the state store keeps, as the DynamoDB adapter would have to persist it."""
    return {name: repr(value) for name, value in vars(state).items()}


# -- polling -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [PayloadMode.FULL, PayloadMode.MINIMAL])
def test_polling_patients_logs_and_stores_no_patient_data(leak_watch: LeakWatch, mode: PayloadMode) -> None:
    updated = {**PATIENT, "email": "zebulonia.q@leaktest.example", "updated_at": "2026-01-01T00:05:00Z"}
    archived = {**updated, "archived_at": "2026-01-01T00:06:00Z", "updated_at": "2026-01-01T00:06:00Z"}
    state, bus = fresh_state(), RecordingPublisher()
    for version in (PATIENT, updated, archived):
        poller = StreamPoller(
            api=StaticCliniko([version]), state=state, publisher=bus, event_source="cliniko", now=lambda: NOW
        )
        poller.poll(connection(mode), STREAMS_BY_RESOURCE["patients"], deadline=float("inf"))
    triggers = [e.detail["trigger"] for e in bus.events]
    assert triggers == ["patient.created", "patient.updated", "patient.updated", "patient.archived"]
    assert bus.events[1].detail["changed_fields"] == ["email"]  # the names of what changed, never the values
    leak_watch.scan("stream state (cursors, snapshots: hashes only)", stored_state(state))
    if mode is PayloadMode.MINIMAL:
        leak_watch.scan("bus events in minimal mode", [e.model_dump(mode="json") for e in bus.events])
    else:
        assert bus.events[0].detail["data"]["first_name"] == "Zebulonia"  # full mode: the record is the point
    assert_scenario_was_observed(leak_watch)


def test_poll_failures_name_no_patient_data(leak_watch: LeakWatch) -> None:
    bus = RecordingPublisher()
    bus.fail_permanently(True)
    poller = StreamPoller(
        api=StaticCliniko([PATIENT]), state=fresh_state(), publisher=bus, event_source="cliniko", now=lambda: NOW
    )
    with pytest.raises(PublishError) as refused:
        poller.poll(connection(), STREAMS_BY_RESOURCE["patients"], deadline=float("inf"))
    leak_watch.scan("PublishError", refused.value)
    without_updated_at = {k: v for k, v in PATIENT.items() if k != "updated_at"}
    poller = StreamPoller(
        api=StaticCliniko([without_updated_at]),
        state=fresh_state(),
        publisher=RecordingPublisher(),
        event_source="cliniko",
    )
    with pytest.raises(ClinikoBadResponse) as bad:
        poller.poll(connection(), STREAMS_BY_RESOURCE["patients"], deadline=float("inf"))
    leak_watch.scan("ClinikoBadResponse", bad.value)


def poll_worker(
    monkeypatch: pytest.MonkeyPatch, session: FakeSession, state: InMemoryStreamStateStore
) -> tuple[PollWorker, RecordingPublisher]:
    """The Lambda worker's own wiring (secrets, rate budget, HTTP client, status bookkeeping) over fakes."""
    monkeypatch.setattr(cliniko_http, "shared_session", lambda: session)
    settings = PollerSettings(
        cliniko_contact_email="ops@example.com",
        connections_table="connections",
        state_table="state",
        event_bus_name="bus",
    )
    secrets = InMemorySecretStore()
    secret_id = secrets.put("northside", API_KEY)
    bus = RecordingPublisher()
    runtime = Runtime(
        settings=settings,
        connections=InMemoryConnectionStore([connection(secret_id=secret_id)]),
        state=state,
        publisher=bus,
        secrets=secrets,
        rate_budget=InMemoryRateBudget(),
    )
    return PollWorker(runtime, settings), bus


def test_the_poll_worker_over_http_logs_no_key_or_patient_data(
    leak_watch: LeakWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = fresh_state()
    session = FakeSession([patients_page(PATIENT)])
    worker, bus = poll_worker(monkeypatch, session, state)
    result = worker.handle(PollJob(connection_id="northside", resource="patients"))
    assert result.events == 1 and bus.events[0].detail["data"]["email"] == PATIENT["email"]
    assert session.calls, "the client never reached the fake Cliniko"
    leak_watch.scan("the worker's Cliniko client", repr(worker.runtime._clients))
    leak_watch.scan("stream state", stored_state(state))
    assert_scenario_was_observed(leak_watch)


@pytest.mark.parametrize(
    "answer",
    [
        FakeResponse(401, None),
        FakeResponse(403, None),
        FakeResponse(429, None, {"X-RateLimit-Reset": "0"}),
        FakeResponse(500, {"error": f"boom for {PATIENT['email']}"}),
        FakeResponse(200, {"not": "a list", "echo": PATIENT["first_name"]}),
    ],
    ids=["401", "403", "429", "500-echoing", "bad-body-echoing"],
)
def test_poll_worker_errors_keep_no_key_or_patient_data(
    leak_watch: LeakWatch, monkeypatch: pytest.MonkeyPatch, answer: FakeResponse
) -> None:
    state = fresh_state()
    worker, _ = poll_worker(monkeypatch, FakeSession([answer]), state)
    with pytest.raises(ConnectorError) as failed:
        worker.handle(PollJob(connection_id="northside", resource="patients"), time_budget_seconds=0.5)
    leak_watch.scan("the poll error", failed.value)
    leak_watch.scan("stream state with the cursor's last_error", stored_state(state))


# -- actions -----------------------------------------------------------------------------------------------


def runner(action: str, api: Any, bus: RecordingPublisher | None = None) -> ActionRunner:
    return ActionRunner(
        action=ACTIONS[action],
        connections=InMemoryConnectionStore([connection()]),
        api_for=lambda _c: api,
        publisher=bus or RecordingPublisher(),
        event_source="cliniko",
    )


def create_patient_input() -> dict[str, Any]:
    fields = ACTIONS["patient.create"].input_model.model_fields
    return {k: v for k, v in PATIENT.items() if k in fields}


BAD_INPUTS: dict[str, dict[str, Any]] = {
    "bad email and date": {**create_patient_input(), "email": "zebulonia.quillfeather@", "date_of_birth": "1937-02-31"},
    "wrong types": {**create_patient_input(), "first_name": ["Zebulonia"], "notes": {"text": "marmosets"}},
    "bad phone": {**create_patient_input(), "patient_phone_numbers": [{"phone_type": "Pager", "number": "Mortimer"}]},
    "unknown field": {**create_patient_input(), "favourite_colour": "Xanadu"},
    "not an object": ["Zebulonia", "Quillfeather"],  # type: ignore[dict-item]
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_action_inputs_are_refused_without_echoing_them(leak_watch: LeakWatch, case: str) -> None:
    bus = RecordingPublisher()
    api = StaticCliniko([])
    request = ActionRequest.model_construct(connection_id="northside", input=BAD_INPUTS[case], idempotency_key="k1")
    outcome = runner("patient.create", api, bus).run(request)
    assert outcome["status"] == "failed" and outcome["error"]["type"] == "InputValidationError"
    assert api.requests_sent == 0
    leak_watch.scan("the Action Failed outcome", outcome)
    leak_watch.scan("the Action Failed event", [e.model_dump(mode="json") for e in bus.events])
    assert_scenario_was_observed(leak_watch)


def test_a_malformed_action_event_is_refused_without_echoing_it(leak_watch: LeakWatch) -> None:
    event = {"detail-type": "Cliniko Action Requested", "detail": {"connection_id": ["Zebulonia"], "input": "Xanadu"}}
    with pytest.raises(InputValidationError) as refused:
        parse_action_event(event)
    leak_watch.scan("InputValidationError", refused.value)


@pytest.mark.parametrize(
    "error",
    [
        ClinikoValidationError(
            "POST /patients: Validation Failed",
            status=422,
            method="POST",
            path="/patients",
            field_errors={"email": "is invalid", "date_of_birth": "can't be in the future"},
        ),
        ClinikoValidationError("POST /patients: must be an object", status=422, method="POST", path="/patients"),
    ],
    ids=["field-errors", "message-only"],
)
def test_a_cliniko_422_fails_the_action_without_patient_data(leak_watch: LeakWatch, error: ClinikoError) -> None:
    bus = RecordingPublisher()
    request = ActionRequest(connection_id="northside", input=create_patient_input(), idempotency_key="k2")
    outcome = runner("patient.create", StaticCliniko([], error), bus).run(request)
    assert outcome["status"] == "failed" and outcome["error"]["status"] == 422
    leak_watch.scan("the Action Failed outcome", outcome)
    leak_watch.scan("the Action Failed event", [e.model_dump(mode="json") for e in bus.events])
    assert_scenario_was_observed(leak_watch)


def http_client(session: FakeSession) -> ClinikoClient:
    return ClinikoClient(API_KEY, user_agent=USER_AGENT, session=session, sleep=lambda _s: None)  # type: ignore[arg-type]


def test_a_cliniko_422_over_http_keeps_no_key_or_patient_data(leak_watch: LeakWatch) -> None:
    session = FakeSession([validation_failed({"email": "is invalid", "base": "Patient could not be saved"})])
    bus = RecordingPublisher()
    request = ActionRequest(connection_id="northside", input=create_patient_input(), idempotency_key="k3")
    outcome = runner("patient.create", http_client(session), bus).run(request)
    # "Patient could not be saved" is plain words, but not a known validation message: withheld like any other.
    assert outcome["error"]["field_errors"] == {"email": "is invalid", "base": cliniko_http.WITHHELD}
    assert session.calls[0]["json"]["first_name"] == "Zebulonia"  # it was sent, and only sent
    leak_watch.scan("the Action Failed outcome", outcome)
    leak_watch.scan("the client", repr(http_client(session)))
    assert_scenario_was_observed(leak_watch)


def test_a_422_that_echoes_the_query_does_not_leak_it(leak_watch: LeakWatch) -> None:
    echo = validation_failed({"q": f"is invalid: email:={PATIENT['email']}"}, message="Invalid filter")
    bus = RecordingPublisher()
    request = ActionRequest(connection_id="northside", input={"email": PATIENT["email"]}, idempotency_key="k4")
    outcome = runner("patient.find", http_client(FakeSession([echo])), bus).run(request)
    assert outcome["status"] == "failed"
    leak_watch.scan("the Action Failed outcome", outcome)
    hits = leak_watch.hits()
    leak_watch.scanned.clear()  # reported here, not again by the fixture
    assert not hits, "\n".join(hits)


def test_a_422_in_plain_words_naming_the_patient_reaches_no_event_or_stored_outcome(leak_watch: LeakWatch) -> None:
    # Words only, no quotes or @: what a pattern of "safe-looking" text let through before.
    named = validation_failed(
        {
            "base": "Zebulonia Quillfeather is already booked at that time",
            "Quillfeather": "can't be blank",
            "email": ["is invalid", "Zebulonia has one already"],
            "notes": "is too long (maximum is 255 characters)",
        },
        message="Zebulonia could not be saved",
    )
    bus = RecordingPublisher()
    request = ActionRequest(connection_id="northside", input=create_patient_input(), idempotency_key="k7")
    outcome = runner("patient.create", http_client(FakeSession([named])), bus).run(request)
    withheld = cliniko_http.WITHHELD
    assert outcome["error"]["field_errors"] == {
        "base": withheld,
        "field": "can't be blank",  # a field name that isn't one is not passed on either
        "email": f"is invalid; {withheld}",
        "notes": "is too long (maximum is 255 characters)",
    }
    assert outcome["error"]["message"] == "POST /v1/patients: validation failed"
    # The outcome is what the idempotency record stores and the `Cliniko Action Failed` event carries.
    leak_watch.scan("the Action Failed outcome (the idempotency record's result)", outcome)
    leak_watch.scan("the Action Failed event", [e.model_dump(mode="json") for e in bus.events])
    assert_scenario_was_observed(leak_watch)


def test_a_successful_action_logs_no_patient_data(leak_watch: LeakWatch) -> None:
    session = FakeSession([FakeResponse(201, PATIENT)])
    bus = RecordingPublisher()
    request = ActionRequest(connection_id="northside", input=create_patient_input(), idempotency_key="k5")
    outcome = runner("patient.create", http_client(session), bus).run(request)
    assert outcome["status"] == "succeeded" and outcome["result"]["record"]["last_name"] == "Quillfeather"
    assert_scenario_was_observed(leak_watch)


# -- connections -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [FakeResponse(200, {"id": "1", "first_name": "Ops"}), FakeResponse(401, None)])
def test_adding_a_connection_never_writes_the_key(leak_watch: LeakWatch, answer: FakeResponse) -> None:
    secrets = InMemorySecretStore()
    admin = ConnectionAdmin(
        InMemoryConnectionStore(),
        secrets,
        InMemoryStreamStateStore(),
        lambda key, base_url: http_client(FakeSession([answer])) if key == API_KEY else pytest.fail("another key"),
    )
    try:
        added, _ = admin.add("Northside Physio", API_KEY)
    except ConnectorError as exc:
        leak_watch.scan("the refused key's error", exc)
    else:
        assert secrets.get(added.secret_id) == API_KEY  # stored, where it belongs
        leak_watch.scan("the stored connection", added.model_dump(mode="json"))
    leak_watch.scan("the secret store", repr(secrets))


# -- third-party loggers at DEBUG --------------------------------------------------------------------------
# In Lambda, the LogLevel parameter (LoggingConfig.ApplicationLogLevel) also sets the Python root logger's
# level, so at DEBUG botocore and urllib3 write wire-level details. These two tests show what they write.


def test_aws_sdk_debug_logs_carry_no_key_or_patient_data(leak_watch: LeakWatch) -> None:
    import boto3
    from moto import mock_aws

    from cliniko_connector.adapters.eventbridge import EventBridgePublisher
    from cliniko_connector.adapters.secrets import SecretsManagerStore
    from cliniko_connector.models import BusEvent

    with mock_aws():
        store = SecretsManagerStore(client=boto3.client("secretsmanager", region_name="us-east-1"))
        arn = store.put("northside", API_KEY)
        store.invalidate()
        assert store.get(arn) == API_KEY
        events = boto3.client("events", region_name="us-east-1")
        EventBridgePublisher("default", client=events).publish(
            [BusEvent(source="cliniko", detail_type="Patient Created", detail={"data": PATIENT})]
        )
    hits = leak_watch.hits()
    leak_watch.caplog.clear()  # reported here, not again by the fixture
    assert not hits, "\n".join(hits)


def test_http_debug_logs_carry_no_patient_data(leak_watch: LeakWatch) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Cliniko(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"patients": [], "total_entries": 0, "links": {}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # the server's own log is not ours
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Cliniko)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = ClinikoClient(
            API_KEY, user_agent=USER_AGENT, base_url=f"http://127.0.0.1:{server.server_address[1]}/v1"
        )
        request = ActionRequest(connection_id="northside", input={"email": PATIENT["email"]}, idempotency_key="k6")
        outcome = runner("patient.find", client).run(request)
        assert outcome["status"] == "succeeded" and outcome["result"]["found"] is False
    finally:
        server.shutdown()
    hits = leak_watch.hits()
    leak_watch.caplog.clear()
    assert not hits, "\n".join(hits)


# -- the action handler as Lambda runs it -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
XRAY_PROBE = Path(__file__).with_name("xray_probe.py")
# The stack's resource names, as the template would give them (the handler builds its clients from them).
HANDLER_SETTINGS = {
    "CONNECTIONS_TABLE": "connections",
    "STATE_TABLE": "state",
    "EVENT_BUS_NAME": "bus",
    "CLINIKO_CONTACT_EMAIL": "ops@example.com",
    "ACTION_NAME": "patient.find",
    "IDEMPOTENCY_TABLE": "idempotency",
}


def template_environment() -> dict[str, str]:
    """The literal variables every function gets from the template's Globals (Powertools' among them)."""
    variables = build_template()["Globals"]["Function"]["Environment"]["Variables"]
    return {name: value for name, value in variables.items() if isinstance(value, str)}


def xray_traces(**environment: str) -> tuple[list[dict[str, Any]], str]:
    """Run tests/unit/xray_probe.py as Lambda would start the action function: the trace entities X-Ray would
    receive, and what the function logged."""
    lambda_env = {
        "AWS_LAMBDA_FUNCTION_NAME": "probe",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "action"),
        "POWERTOOLS_TRACE_DISABLED": "false",
    }
    env = {**os.environ, **template_environment(), **HANDLER_SETTINGS, **lambda_env, **environment}
    probe = {"patient": PATIENT, "patch_requests": environment.get("PATCH_REQUESTS") == "true"}
    done = subprocess.run(
        [sys.executable, str(XRAY_PROBE), json.dumps(probe)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(entity) for entity in json.loads(done.stdout)], done.stderr


def test_xray_records_no_patient_data_under_the_templates_settings(leak_watch: LeakWatch) -> None:
    entities, logs = xray_traces()
    handler_runs = [e for e in entities if e["name"] == "## lambda_handler"]
    assert len(handler_runs) == 3, "the probe's three invocations were not all traced"
    causes = [x for e in handler_runs for x in e.get("cause", {}).get("exceptions", [])]
    assert [x["type"] for x in causes] == ["ClinikoConnectionError", "UnexpectedError"]  # failures are traced
    assert not any("metadata" in e for e in entities)  # no response, no exception object
    assert all(e.get("namespace") != "remote" for e in entities)  # Cliniko calls are not auto-instrumented
    leak_watch.scan("X-Ray trace entities", entities)
    leak_watch.scan("the function's own log output", logs)


def test_the_xray_scan_catches_what_the_tracer_would_record_by_default() -> None:
    """The scan above can fail: with Powertools' defaults and the HTTP client instrumented, X-Ray would get the
    action result (the record) and the failed find's query (the patient's email)."""
    entities, _ = xray_traces(
        POWERTOOLS_TRACER_CAPTURE_RESPONSE="true", POWERTOOLS_TRACER_CAPTURE_ERROR="true", PATCH_REQUESTS="true"
    )
    text = json.dumps(entities)
    assert "Quillfeather" in text  # the response metadata
    assert "zebulonia.quillfeather%40leaktest.example" in text  # the query string, in the HTTP exception


def load_action_handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """functions/action/app.py, imported with the template's and the stack's environment as Lambda would."""
    for name, value in {**template_environment(), **HANDLER_SETTINGS}.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("_leak_test_action_app", ROOT / "functions" / "action" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lambda_context() -> LambdaContext:
    return LambdaContext("leaktest", "arn:aws:lambda:us-east-1:123456789012:function:leaktest", 256, 30)


def log_lines(watch: LeakWatch) -> list[dict[str, Any]]:
    return [json.loads(line) for line in watch.handler_stream.getvalue().splitlines() if line.strip()]


def test_log_keys_of_one_invocation_do_not_label_the_next(
    leak_watch: LeakWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_action_handler(monkeypatch)

    def ran(request: ActionRequest, context: Any) -> dict[str, Any]:
        observability.logger.info("ran")
        return {"status": "succeeded"}

    monkeypatch.setattr(app, "run_action", ran)
    event_key = "northside:patients:1000000000000004242:patient.created:2026-01-01T00:00:10Z"
    app.lambda_handler({"connection_id": "northside", "event_key": event_key, "input": {}}, lambda_context())
    malformed = {"connection_id": "Northside Physio", "input": {}}
    assert app.lambda_handler(malformed, lambda_context())["status"] == "failed"
    lines = log_lines(leak_watch)
    first = [line for line in lines if line["message"] == "ran"]
    second = [line for line in lines if line["message"] == "malformed action request"]
    assert first and first[0]["connection_id"] == "northside" and first[0]["correlation_id"] == event_key
    assert second, "the malformed request was not logged"
    assert "connection_id" not in second[0] and "correlation_id" not in second[0]  # nothing left from the first


@pytest.mark.parametrize(
    "request_",
    [
        {"connection_id": "Zebulonia Quillfeather", "input": {}},
        {"connection_id": "northside", "idempotency_key": "Zebulonia Quillfeather", "input": {}},
        {"connection_id": "northside", "event_key": "Zebulonia\nQuillfeather", "input": {}},
        {"connection_id": "northside", "idempotency_key": "Zebulonia-" + "x" * 600, "input": {}},
        {"connection_id": "northside", "event_key": "Zebulonia-" + "y" * 600, "input": {}},
    ],
    ids=["connection-id", "key-with-space", "event-key-with-newline", "long-idempotency-key", "long-event-key"],
)
def test_caller_chosen_strings_are_checked_before_they_are_logged(
    leak_watch: LeakWatch, monkeypatch: pytest.MonkeyPatch, request_: dict[str, Any]
) -> None:
    app = load_action_handler(monkeypatch)
    monkeypatch.setattr(app, "run_action", lambda request, context: pytest.fail("an invalid request ran"))
    event = {"source": "cliniko", "detail-type": "Cliniko Action Requested", "detail": request_}
    outcome = app.lambda_handler(event, lambda_context())
    assert outcome["status"] == "failed" and outcome["error"]["type"] == "InputValidationError"
    assert log_lines(leak_watch), "nothing was logged"
    leak_watch.scan("the returned outcome", outcome)


def test_deeply_nested_input_is_a_failed_result_not_a_crash_and_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    app = load_action_handler(monkeypatch)
    monkeypatch.setattr(app, "run_action", lambda request, context: pytest.fail("a too deep request ran"))
    for depth in (100, 100_000):
        nested: dict[str, Any] = {}
        inner = nested
        for _ in range(depth):
            inner["a"] = {}
            inner = inner["a"]
        event = {"connection_id": "northside", "input": {"custom_fields": nested}}
        outcome = app.lambda_handler(event, lambda_context())  # returns: Lambda does not retry it
        assert outcome["status"] == "failed" and outcome["error"]["type"] == "InputValidationError"
        assert outcome["error"]["field_errors"] == {"input": "Value error, nested deeper than 32 levels"}


def test_the_consoles_pages_show_no_patient_data_of_a_minimal_connection(leak_watch: LeakWatch) -> None:
    """Every page of the console (and its live fragment and an event's detail) for a connection in `minimal`
    mode, whose archive still holds an event published in `full` mode with the whole record."""
    from tests.unit.console.console_fakes import HOST, FakeBackend, console_client, failed_action, trigger_event
    from tests.unit.console.console_fakes import connection as console_connection

    backend = FakeBackend(
        connections=[console_connection(mode=PayloadMode.MINIMAL)],
        events=[trigger_event("northside", PATIENT, mode="full", event_id="e-1")],
        dead=[failed_action()],
    )
    client = console_client(backend)
    paths = ("/connections", "/streams", "/events", "/events/rows", "/events/e-1", "/failures", "/automations")
    for path in paths:
        answer = client.get(path, headers={"Host": HOST})
        assert answer.status_code == 200, path
        leak_watch.scan(f"console {path}", answer.text)
    assert PATIENT["id"] in client.get("/events/e-1", headers={"Host": HOST}).text  # the event is shown, by id


# -- inbound hooks -------------------------------------------------------------------------------------------


def test_inbound_hook_requests_log_and_answer_no_patient_data_and_no_secret(leak_watch: LeakWatch) -> None:
    from cliniko_connector.hookmodels import HookMap
    from tests.unit.hooks.support import SECRET, make_hook, rig

    hook_map = HookMap(input={field: f"$.fields.{field}" for field in create_patient_input()}, idempotency_key="$.id")
    r = rig(make_hook(map=hook_map))
    good = {"id": "s-1", "fields": create_patient_input()}
    bad = {"id": "s-2", "fields": BAD_INPUTS["bad email and date"]}
    replies = [
        r.call(good),
        r.call(bad),
        r.call(good, signed=False, headers={"Stripe-Signature": "t=1,v1=" + "0" * 64}),
        r.call({"id": "Quillfeather key", "fields": create_patient_input()}),
    ]
    assert [status for status, _ in replies] == [202, 400, 401, 400]
    for i, (_, body) in enumerate(replies):
        leak_watch.scan(f"reply {i}", body)
    leak_watch.scan("hook log", [e.model_dump() for e in r.ledger.recent("signup", 10)])
    assert_scenario_was_observed(leak_watch)
    assert not any(SECRET in text for _, text in leak_watch.outputs())
