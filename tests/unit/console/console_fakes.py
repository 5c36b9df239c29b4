"""A `ConsoleBackend` in memory, for the console's unit tests: the status use-case over in-memory stores,
events and dead letters as lists, and a record of every write asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from cliniko_connector.adapters.memory import InMemoryConnectionStore, InMemoryStreamStateStore
from cliniko_connector.models import Connection, ConnectionStatus, PayloadMode, StreamCursor, StreamKey
from cliniko_connector.usecases.dlq import FailedMessage
from cliniko_connector.usecases.status import ConnectionReport, StatusReader

TOKEN = "a-console-token-for-the-tests-0123"
LOGIN_KEY = "a-console-login-key-for-the-tests-4567"
PORT = 8765
HOST = f"127.0.0.1:{PORT}"
ORIGIN = f"http://{HOST}"


def connection(cid: str = "northside", name: str = "Northside Physio", mode: PayloadMode | None = None) -> Connection:
    return Connection(id=cid, name=name, secret_id="s", shard="au1", triggers=("patient.created",), payload_mode=mode)


def trigger_event(
    connection_id: str, record: dict[str, Any], mode: str = "full", event_id: str = "e-1"
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Patient Created",
        "source": "cliniko",
        "time": "2026-06-01T09:00:00Z",
        "detail": {
            "schema_version": 1,
            "trigger": "patient.created",
            "connection_id": connection_id,
            "resource": "patients",
            "id": str(record["id"]),
            "occurred_at": "2026-06-01T09:00:00Z",
            "event_key": f"{connection_id}:patients:{record['id']}:created",
            "payload_mode": mode,
            "data": record if mode == "full" else None,
        },
    }


@dataclass
class FakeBackend:
    connections: list[Connection] = field(default_factory=lambda: [connection()])
    events: list[dict[str, Any]] = field(default_factory=list)
    dead: list[FailedMessage] = field(default_factory=list)
    writes: list[tuple[Any, ...]] = field(default_factory=list)
    where: str = "fake stack"

    def reports(self) -> list[ConnectionReport]:
        state = InMemoryStreamStateStore()
        for c in self.connections:
            at = datetime(2026, 6, 1, 9, tzinfo=UTC)
            state.put_cursor(
                StreamKey(connection_id=c.id, resource="patients"),
                StreamCursor(position=at, origin=at, last_poll_at=at, last_error="ClinikoUnauthorized: 401 (at x)"),
                expected_version=None,
            )
        return StatusReader(InMemoryConnectionStore(self.connections), state).report()

    def recent_events(self) -> list[dict[str, Any]]:
        return list(self.events)

    def failures(self) -> list[FailedMessage]:
        return list(self.dead)

    def redrive(self, message_ids: Sequence[str]) -> list[dict[str, Any]]:
        self.writes.append(("redrive", tuple(message_ids)))
        chosen = [m for m in self.dead if m.message_id in message_ids]
        self.dead = [m for m in self.dead if m not in chosen]
        return [{**m.summary(), "redriven": True, "result": "invoked again"} for m in chosen]

    def set_connection(self, connection_id: str, status: ConnectionStatus) -> None:
        self.writes.append(("connection", connection_id, status))

    def set_trigger(self, connection_id: str, trigger: str, *, on: bool) -> None:
        self.writes.append(("trigger", connection_id, trigger, on))

    def automations(self) -> list[dict[str, Any]]:
        return [
            {
                "name": "alert",
                "trigger": "patient.created",
                "rule": "r",
                "targets": ["action x"],
                "matched_24h": 3,
                "invocations_24h": 3,
                "failed_24h": 1,
            }
        ]

    def automation_names(self) -> list[str]:
        return []

    def try_automation(self, name: str, event: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        raise AssertionError("not used")

    def close(self) -> list[str]:
        return []


def failed_action(
    message_id: str = "m-1", error: str = "ClinikoServerError: POST /v1/medical_alerts: 500"
) -> FailedMessage:
    return FailedMessage(
        queue="actions",
        message_id=message_id,
        what="action medical_alert.create",
        connection_id="northside",
        key="northside:patients:1:created",
        error=error,
        attempts=3,
    )


def console_client(backend: FakeBackend) -> FlaskClient:
    """A test client of the console for `backend`, logged in as the operator's browser is (`/login?key=…`)."""
    from cliniko_tools.console.app import create_app

    client = create_app(backend, TOKEN, PORT, LOGIN_KEY).test_client()
    assert client.get(f"/login?key={LOGIN_KEY}", headers={"Host": HOST}).status_code == 303
    return client
