"""Connecting clinics: the key checked first and kept only in the secret store; triggers keep their place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cliniko_connector.adapters.memory import InMemoryConnectionStore, InMemorySecretStore, InMemoryStreamStateStore
from cliniko_connector.errors import ClinikoUnauthorized, ConfigurationError, ConnectionNotFound
from cliniko_connector.models import PayloadMode, StartPoint, StreamKey
from cliniko_connector.usecases.connections import ConnectionAdmin

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
KEY = "MS0xLWNsaW5pYy1rZXk-uk1"


class FakeAccount:
    """`GET /user` of a Cliniko account that accepts one key."""

    def __init__(self) -> None:
        self.keys_tried: list[str] = []

    def for_key(self, api_key: str, base_url: str | None) -> Any:
        self.keys_tried.append(api_key)

        class Api:
            def request(self, method: str, path: str, **_: Any) -> Any:
                assert (method, path) == ("GET", "/user")
                if api_key != KEY and not api_key.startswith("rotated"):
                    raise ClinikoUnauthorized("GET /user: the API key was refused", status=401)
                return {"first_name": "Jo", "last_name": "Admin"}

        return Api()


@pytest.fixture
def admin() -> ConnectionAdmin:
    return ConnectionAdmin(
        InMemoryConnectionStore(), InMemorySecretStore(), InMemoryStreamStateStore(), FakeAccount().for_key, lambda: NOW
    )


def test_adding_a_clinic_checks_the_key_and_stores_it_only_as_a_secret(admin: ConnectionAdmin) -> None:
    connection, _user = admin.add("Northside Physio", KEY)
    assert connection.id == "northside-physio"
    assert connection.shard == "uk1"
    assert connection.account_user == "Jo Admin"
    assert admin.secrets.get(connection.secret_id) == KEY
    assert KEY not in connection.model_dump_json()


def test_a_refused_key_stores_nothing(admin: ConnectionAdmin) -> None:
    with pytest.raises(ClinikoUnauthorized):
        admin.add("Clinic", "wrong-key-au1")
    assert admin.connections.list() == []
    with pytest.raises(ConnectionNotFound):
        admin.connections.get("clinic")


def test_a_second_connection_with_the_same_name_is_refused(admin: ConnectionAdmin) -> None:
    admin.add("Clinic", KEY)
    with pytest.raises(ConfigurationError, match="exists already"):
        admin.add("clinic", KEY)


def test_enabling_triggers_starts_their_streams_now_by_default(admin: ConnectionAdmin) -> None:
    admin.add("Clinic", KEY)
    admin.enable_triggers("clinic", ["patient.created", "individual_appointment.cancelled"])
    for resource in ("patients", "individual_appointments"):
        cursor = admin.state.get_cursor(StreamKey(connection_id="clinic", resource=resource))
        assert cursor is not None
        assert cursor.position == NOW
    assert admin.state.get_cursor(StreamKey(connection_id="clinic", resource="invoices")) is None


def test_switching_a_trigger_off_and_on_keeps_the_streams_place(admin: ConnectionAdmin) -> None:
    admin.add("Clinic", KEY)
    admin.enable_triggers("clinic", ["patient.created"], StartPoint(kind="beginning"))
    key = StreamKey(connection_id="clinic", resource="patients")
    moved = admin.state.get_cursor(key).model_copy(update={"position": NOW})  # type: ignore[union-attr]
    admin.state.put_cursor(key, moved, expected_version=moved.version)
    admin.disable_triggers("clinic", ["patient.created"])
    assert admin.connections.get("clinic").triggers == ()
    admin.enable_triggers("clinic", ["patient.created"])
    assert admin.state.get_cursor(key).position == NOW  # type: ignore[union-attr]


def test_unknown_triggers_are_refused_by_name(admin: ConnectionAdmin) -> None:
    admin.add("Clinic", KEY)
    with pytest.raises(ConfigurationError, match=r"patient\.deleted"):
        admin.enable_triggers("clinic", ["patient.deleted"])


def test_settings_are_validated(admin: ConnectionAdmin) -> None:
    admin.add("Clinic", KEY, payload_mode=PayloadMode.MINIMAL)
    assert admin.connections.get("clinic").payload_mode is PayloadMode.MINIMAL
    assert admin.configure("clinic", poll_interval_seconds=10).poll_interval_seconds == 10
    with pytest.raises(ConfigurationError, match="poll_interval_seconds"):
        admin.configure("clinic", poll_interval_seconds=1)


def test_rotating_checks_the_new_key_before_replacing_the_old(admin: ConnectionAdmin) -> None:
    connection, _ = admin.add("Clinic", KEY)
    with pytest.raises(ClinikoUnauthorized):
        admin.rotate_key("clinic", "bad-au1")
    assert admin.secrets.get(connection.secret_id) == KEY
    admin.rotate_key("clinic", "rotated-key-au2")
    rotated = admin.connections.get("clinic")
    assert admin.secrets.get(rotated.secret_id) == "rotated-key-au2"
    assert rotated.shard == "au2"


def test_removing_a_clinic_deletes_its_secret_and_stream_state(admin: ConnectionAdmin) -> None:
    connection, _ = admin.add("Clinic", KEY)
    admin.enable_triggers("clinic", ["patient.created"])
    admin.remove("clinic")
    with pytest.raises(ConnectionNotFound):
        admin.connections.get("clinic")
    with pytest.raises(ConfigurationError):
        admin.secrets.get(connection.secret_id)
    assert admin.state.get_cursor(StreamKey(connection_id="clinic", resource="patients")) is None
