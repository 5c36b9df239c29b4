"""Connecting Cliniko accounts: check the key, keep it in the secret store, the rest in the connection store."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from cliniko_connector.adapters.cliniko_http import shard_from_key
from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.catalog.triggers import TRIGGERS, streams_for
from cliniko_connector.errors import ConfigurationError, ConnectionNotFound, did_you_mean
from cliniko_connector.eventmodels import field_errors
from cliniko_connector.models import Connection, ConnectionStatus, StartPoint, StreamKey
from cliniko_connector.ports import ClinikoApi, ConnectionStore, SecretStore, StreamStateStore
from cliniko_connector.timeutil import utc_now
from cliniko_connector.usecases.poll import initial_cursor

ApiFactory = Callable[[str, str | None], ClinikoApi]


def connection_id_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]
    if not slug:
        raise ConfigurationError("a connection name needs at least one letter or digit")
    return slug


def account_user(api: ClinikoApi) -> dict[str, Any]:
    """`GET /user`: proves the key works and says whose it is."""
    user = api.request("GET", "/user")
    return user if isinstance(user, dict) else {}


def _unknown_triggers(names: Iterable[str]) -> list[str]:
    return [n for n in names if n not in TRIGGERS]


def refuse_unknown_triggers(names: Iterable[str]) -> None:
    unknown = _unknown_triggers(names)
    if unknown:
        raise ConfigurationError(
            f"unknown triggers: {', '.join(unknown)}{did_you_mean(unknown[0], TRIGGERS)} "
            "(see `cliniko-connector triggers list`)"
        )


@dataclass
class ConnectionAdmin:
    """The connection use-cases behind the CLI."""

    connections: ConnectionStore
    secrets: SecretStore
    state: StreamStateStore
    api_for_key: ApiFactory
    now: Callable[[], datetime] = utc_now

    def add(
        self, name: str, api_key: str, *, base_url: str | None = None, **options: Any
    ) -> tuple[Connection, dict[str, Any]]:
        """Check the key against Cliniko, keep it in the secret store and the rest in the connection store.
        `options` are Connection settings (poll_interval_seconds, payload_mode, rate_limit_per_minute)."""
        connection_id = connection_id_for(name)
        try:
            self.connections.get(connection_id)
        except ConnectionNotFound:
            pass
        else:
            raise ConfigurationError(f"a connection named {connection_id!r} exists already")
        user = account_user(self.api_for_key(api_key, base_url))
        secret_id = self.secrets.put(connection_id, api_key)
        connection = _validated(
            id=connection_id,
            name=name,
            secret_id=secret_id,
            shard=shard_from_key(api_key),
            base_url=base_url,
            created_at=self.now(),
            account_user=_display_name(user),
            **{k: v for k, v in options.items() if v is not None},
        )
        self.connections.put(connection)
        return connection, user

    def enable_triggers(self, connection_id: str, names: list[str], start: StartPoint | None = None) -> Connection:
        """Switch triggers on. A stream that already runs keeps its place; a new one starts at `start`."""
        refuse_unknown_triggers(names)
        connection = self.connections.get(connection_id)
        for stream in streams_for(names):
            key = StreamKey(connection_id=connection_id, resource=stream.resource)
            existing = self.state.get_cursor(key)
            if existing is None:
                self.state.put_cursor(key, initial_cursor(start or StartPoint(), self.now()), expected_version=None)
            elif start is not None and start.kind != "now":
                wanted = initial_cursor(start, self.now())
                if wanted.position < existing.position:
                    # Moving a stream back re-reads history; dedupe keeps events already sent from repeating.
                    self.state.delete_stream(key)
                    self.state.put_cursor(key, wanted, expected_version=None)
        merged = tuple(dict.fromkeys([*connection.triggers, *names]))
        updated = connection.model_copy(update={"triggers": merged})
        self.connections.put(updated)
        return updated

    def disable_triggers(self, connection_id: str, names: list[str]) -> Connection:
        """Switch triggers off; their stream state stays, so switching back on resumes where it was."""
        refuse_unknown_triggers(names)
        connection = self.connections.get(connection_id)
        updated = connection.model_copy(update={"triggers": tuple(t for t in connection.triggers if t not in names)})
        self.connections.put(updated)
        return updated

    def allow_actions(self, connection_id: str, names: list[str]) -> Connection:
        """Let requests run these catalog actions on the connection (a new connection allows none)."""
        _check_actions(names)
        connection = self.connections.get(connection_id)
        merged = tuple(sorted({*connection.allowed_actions, *names}))
        updated = connection.model_copy(update={"allowed_actions": merged})
        self.connections.put(updated)
        return updated

    def disallow_actions(self, connection_id: str, names: list[str]) -> Connection:
        """Stop requests running these actions on the connection: they fail as `ActionNotAllowed`."""
        _check_actions(names)
        connection = self.connections.get(connection_id)
        kept = tuple(a for a in connection.allowed_actions if a not in names)
        updated = connection.model_copy(update={"allowed_actions": kept})
        self.connections.put(updated)
        return updated

    def configure(self, connection_id: str, **options: Any) -> Connection:
        """Change a connection's poll interval, payload mode or rate limit (validated like on creation)."""
        connection = self.connections.get(connection_id)
        changes = {k: v for k, v in options.items() if v is not None}
        try:
            updated = Connection.model_validate({**connection.model_dump(), **changes})
        except ValidationError as exc:
            raise ConfigurationError(f"invalid connection settings: {field_errors(exc)}") from None
        self.connections.put(updated)
        return updated

    def set_status(self, connection_id: str, status: ConnectionStatus) -> Connection:
        updated = self.connections.get(connection_id).model_copy(update={"status": status})
        self.connections.put(updated)
        return updated

    def test(self, connection_id: str) -> dict[str, Any]:
        connection = self.connections.get(connection_id)
        return account_user(self.api_for_key(self.secrets.get(connection.secret_id), connection.base_url))

    def rotate_key(self, connection_id: str, api_key: str) -> Connection:
        connection = self.connections.get(connection_id)
        account_user(self.api_for_key(api_key, connection.base_url))
        secret_id = self.secrets.put(connection_id, api_key)
        updated = connection.model_copy(update={"secret_id": secret_id, "shard": shard_from_key(api_key)})
        self.connections.put(updated)
        return updated

    def remove(self, connection_id: str) -> None:
        """Delete the connection, its secret and every stream's state."""
        connection = self.connections.get(connection_id)
        for stream in streams_for(list(TRIGGERS)):
            self.state.delete_stream(StreamKey(connection_id=connection_id, resource=stream.resource))
        self.secrets.delete(connection.secret_id)
        self.connections.delete(connection_id)


def _check_actions(names: Iterable[str]) -> None:
    unknown = [n for n in names if n not in ACTIONS]
    if unknown:
        raise ConfigurationError(f"unknown actions: {', '.join(unknown)} (see `actions list`)")


def _validated(**fields: Any) -> Connection:
    try:
        return Connection.model_validate(fields)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid connection settings: {field_errors(exc)}") from None


def _display_name(user: dict[str, Any]) -> str | None:
    parts = [str(user.get(k) or "").strip() for k in ("first_name", "last_name")]
    name = " ".join(p for p in parts if p)
    return name or None
