"""The console's trust boundary, attacked: writes without the token or the confirmation, another Host (DNS
rebinding), another site's POST, a token in a cookie only; its pages escape what they show and send a strict CSP;
it binds loopback only; a `minimal` connection's events show no record field."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from cliniko_connector.models import ConnectionStatus, PayloadMode
from cliniko_tools.cli.main import build_parser
from cliniko_tools.console.app import create_app
from cliniko_tools.console.server import ConsoleServer
from tests.unit.console.console_fakes import (
    HOST,
    LOGIN_KEY,
    ORIGIN,
    PORT,
    TOKEN,
    FakeBackend,
    connection,
    console_client,
    failed_action,
    trigger_event,
)

PAGES = ("/connections", "/streams", "/events", "/failures", "/automations")


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend(dead=[failed_action()])


@pytest.fixture
def client(backend: FakeBackend) -> FlaskClient:
    return console_client(backend)


def post(client: FlaskClient, path: str, data: dict[str, Any], **headers: str) -> Any:
    return client.post(path, data=data, headers={"Host": HOST, "Origin": ORIGIN, **headers})


REDRIVE = {"id": "m-1", "confirm": "yes", "token": TOKEN}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_with_a_strict_content_security_policy(client: FlaskClient, path: str) -> None:
    answer = client.get(path, headers={"Host": HOST})
    assert answer.status_code == 200
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "<script>" not in answer.text  # only the console's own script file
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_a_redrive_with_the_token_and_a_confirmation_sends_the_message_back(
    client: FlaskClient, backend: FakeBackend
) -> None:
    answer = post(client, "/failures/redrive", REDRIVE)
    assert answer.status_code == 200, answer.text
    assert backend.writes == [("redrive", ("m-1",))]
    assert "invoked again" in answer.text


@pytest.mark.parametrize(
    ("data", "headers", "status"),
    [
        ({"id": "m-1", "confirm": "yes"}, {}, 403),  # no token
        ({**REDRIVE, "token": TOKEN[:-1] + "x"}, {}, 403),  # a wrong one
        ({**REDRIVE, "token": ""}, {"Cookie": f"token={TOKEN}"}, 403),  # a cookie alone is not the token
        ({"id": "m-1", "token": TOKEN}, {}, 400),  # not confirmed
        (REDRIVE, {"Origin": "http://evil.example"}, 403),  # another site's form, token and all
        (REDRIVE, {"Origin": "null"}, 403),  # a sandboxed frame
        (REDRIVE, {"Host": "evil.example:8765"}, 403),  # DNS rebinding: the attacker's name, our address
        (REDRIVE, {"Host": "127.0.0.1:9999"}, 403),  # another port's page
    ],
    ids=["no-token", "wrong-token", "cookie-only", "unconfirmed", "cross-origin", "null-origin", "rebound", "port"],
)
def test_a_write_that_is_not_the_operators_is_refused_and_changes_nothing(
    client: FlaskClient, backend: FakeBackend, data: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    answer = post(client, "/failures/redrive", data, **headers)
    assert answer.status_code == status
    assert backend.writes == []


def test_a_cross_site_post_is_refused_by_its_referer_or_fetch_metadata(
    client: FlaskClient, backend: FakeBackend
) -> None:
    no_origin = {"Host": HOST}
    assert (
        client.post(
            "/failures/redrive", data=REDRIVE, headers={**no_origin, "Referer": "http://evil.example/x"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/failures/redrive", data=REDRIVE, headers={**no_origin, "Sec-Fetch-Site": "cross-site"}
        ).status_code
        == 403
    )
    assert backend.writes == []


def test_reads_answer_only_to_this_servers_own_name(client: FlaskClient) -> None:
    assert client.get("/events", headers={"Host": "attacker.example"}).status_code == 403
    local = create_app(FakeBackend(), TOKEN, PORT, LOGIN_KEY).test_client()
    localhost = {"Host": f"localhost:{PORT}"}
    assert local.get(f"/login?key={LOGIN_KEY}", headers=localhost).status_code == 303
    assert local.get("/events", headers=localhost).status_code == 200


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"change": "disable"}, ("connection", "northside", ConnectionStatus.DISABLED)),
        ({"change": "enable"}, ("connection", "northside", ConnectionStatus.ACTIVE)),
        ({"change": "trigger-off", "trigger": "patient.created"}, ("trigger", "northside", "patient.created", False)),
        ({"change": "trigger-on", "trigger": "patient.updated"}, ("trigger", "northside", "patient.updated", True)),
    ],
)
def test_connections_and_triggers_change_only_with_the_token_and_a_confirmation(
    client: FlaskClient, backend: FakeBackend, data: dict[str, str], expected: tuple[Any, ...]
) -> None:
    assert post(client, "/connections/northside/change", {**data, "confirm": "yes"}).status_code == 403
    assert post(client, "/connections/northside/change", {**data, "token": TOKEN}).status_code == 400
    assert backend.writes == []
    answer = post(client, "/connections/northside/change", {**data, "token": TOKEN, "confirm": "yes"})
    assert answer.status_code == 303
    assert backend.writes == [expected]


def test_an_unknown_change_or_trigger_is_refused(client: FlaskClient, backend: FakeBackend) -> None:
    for data in ({"change": "remove"}, {"change": "trigger-on", "trigger": "patient.exploded"}):
        assert (
            post(client, "/connections/northside/change", {**data, "token": TOKEN, "confirm": "yes"}).status_code == 400
        )
    assert backend.writes == []


def test_html_in_a_record_or_a_name_is_shown_as_text(backend: FakeBackend) -> None:
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    backend.connections = [connection(name=evil, mode=PayloadMode.FULL)]
    backend.events = [trigger_event("northside", {"id": "7", "first_name": evil})]
    backend.dead = [failed_action(error=f"ClinikoValidationError: {evil}")]
    client = console_client(backend)
    for path in (*PAGES, "/events/e-1", "/events/rows"):
        text = client.get(path, headers={"Host": HOST}).text
        assert "<img src=x" not in text and "<script>alert" not in text, path
    detail = client.get("/events/e-1", headers={"Host": HOST}).text
    assert "&lt;img src=x onerror=" in detail  # shown, as text


def test_a_minimal_connection_shows_no_record_field_even_of_an_event_archived_in_full_mode(
    backend: FakeBackend,
) -> None:
    backend.connections = [connection(mode=PayloadMode.MINIMAL)]
    record = {"id": "7", "first_name": "Zebulonia", "email": "z@leak.example"}
    backend.events = [trigger_event("northside", record, mode="full")]
    client = console_client(backend)
    detail = client.get("/events/e-1", headers={"Host": HOST})
    assert detail.status_code == 200
    assert "northside:patients:7:created" in detail.text and "minimal" in detail.text
    assert "Zebulonia" not in detail.text and "leak.example" not in detail.text and '"data"' not in detail.text


def test_a_full_connection_shows_the_record(backend: FakeBackend) -> None:
    backend.connections = [connection(mode=PayloadMode.FULL)]
    backend.events = [trigger_event("northside", {"id": "7", "first_name": "Ada"})]
    detail = console_client(backend).get("/events/e-1", headers={"Host": HOST})
    assert "Ada" in detail.text


def test_events_are_filtered_by_connection_trigger_and_record(backend: FakeBackend) -> None:
    backend.events = [
        trigger_event("northside", {"id": "7"}, event_id="a"),
        trigger_event("southside", {"id": "8"}, event_id="b"),
    ]
    client = console_client(backend)

    def shown(query: str) -> list[str]:
        text = client.get(f"/events/rows?{query}", headers={"Host": HOST}).text
        return [r for r in ("patients/7", "patients/8") if r in text]

    assert shown("") == ["patients/7", "patients/8"]
    assert shown("connection=southside") == ["patients/8"]
    assert shown("record=7") == ["patients/7"]
    assert shown("trigger=patient.updated") == []


def test_the_server_binds_loopback_only_and_the_command_has_no_option_for_another_address() -> None:
    server = ConsoleServer(FakeBackend(), port=0)
    try:
        assert server.address[0] == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert len(server.token) >= 32
    finally:
        server.stop()
    console = build_parser().parse_args(["console"])
    assert not {"host", "bind", "address"} & set(vars(console))


def test_the_token_and_the_login_key_must_be_long() -> None:
    with pytest.raises(ValueError, match="16"):
        create_app(FakeBackend(), "short", PORT, LOGIN_KEY)
    with pytest.raises(ValueError, match="16"):
        create_app(FakeBackend(), TOKEN, PORT, "short")


@pytest.mark.parametrize("path", [*PAGES, "/events/rows", "/events/e-1", "/failures/redrive"])
def test_a_browser_that_did_not_open_the_printed_address_reads_nothing(backend: FakeBackend, path: str) -> None:
    backend.events = [trigger_event("northside", {"id": "7", "first_name": "Zebulonia"})]
    stranger = create_app(backend, TOKEN, PORT, LOGIN_KEY).test_client()
    answer = stranger.get(path, headers={"Host": HOST})
    assert answer.status_code == 401
    assert "Northside" not in answer.text and "Zebulonia" not in answer.text and "m-1" not in answer.text
    assert stranger.get("/login?key=" + LOGIN_KEY[:-1] + "x", headers={"Host": HOST}).status_code == 403
    assert stranger.get(path, headers={"Host": HOST, "Cookie": f"console_session={LOGIN_KEY}"}).status_code == 401


def test_the_session_cookie_is_http_only_same_site_strict_and_neither_the_key_nor_the_token(
    backend: FakeBackend,
) -> None:
    client = create_app(backend, TOKEN, PORT, LOGIN_KEY).test_client()
    answer = client.get(f"/login?key={LOGIN_KEY}", headers={"Host": HOST})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/connections")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert LOGIN_KEY not in cookie and TOKEN not in cookie
    assert client.get("/connections", headers={"Host": HOST}).status_code == 200


def test_a_stack_that_fails_is_one_line_on_the_page_with_what_to_do(backend: FakeBackend) -> None:
    from botocore.exceptions import ClientError

    from cliniko_connector.errors import ClinikoUnauthorized

    def refused() -> list[Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Scan")

    def revoked() -> list[Any]:
        raise ClinikoUnauthorized("GET /v1/user: Cliniko answered 401")

    backend.reports = refused  # type: ignore[method-assign]
    backend.failures = revoked  # type: ignore[method-assign]
    client = console_client(backend)
    connections = client.get("/connections", headers={"Host": HOST})
    assert connections.status_code == 200
    assert "AWS refused Scan: AccessDeniedException: no; your AWS identity lacks this permission" in connections.text
    failures = client.get("/failures", headers={"Host": HOST}).text
    assert "rotate-key" in failures and "Traceback" not in failures


def test_a_streams_last_error_comes_with_what_to_do_about_it(client: FlaskClient) -> None:
    page = client.get("/connections", headers={"Host": HOST}).text
    assert "ClinikoUnauthorized: 401" in page
    assert "cliniko-connector connections rotate-key northside --api-key-file FILE" in page
