"""Where every stream stands, for operators: cursor, lag, last poll and error, events sent, rate budget.

Only reads: when a stream last caught up and its last error are on its cursor, written by the poll itself
(`usecases/poll.py`); the worker's own metrics are the worker's (`usecases/poll_worker.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cliniko_connector.catalog.triggers import streams_for
from cliniko_connector.errors import (
    ClinikoConnectionError,
    ClinikoForbidden,
    ClinikoRateLimited,
    ClinikoTransientError,
    ClinikoUnauthorized,
    ConnectorError,
    RateBudgetExhausted,
)
from cliniko_connector.models import Connection, PayloadMode, StreamCursor, StreamKey
from cliniko_connector.ports import ConnectionStore, StreamStateStore, StreamStats
from cliniko_connector.timeutil import to_z, utc_now

HOUR = 3600


def hour_start(epoch: float) -> int:
    return int(epoch) // HOUR * HOUR


def lag_seconds(position: datetime, caught_up_at: datetime | None, now: datetime) -> int:
    """How far behind Cliniko the stream's events are: everything before `max(position, caught_up_at)` was
    published. A quiet stream that caught up a minute ago is a minute behind, however old its last change."""
    seen_until = max(position, caught_up_at) if caught_up_at else position
    return max(0, int((now - seen_until).total_seconds()))


def hint_for(exc: BaseException, connection_id: str | None = None) -> str | None:
    """What an operator should do about an error, in one sentence, or None when the message says enough."""
    who = connection_id or "CONNECTION"
    if isinstance(exc, ClinikoUnauthorized):
        return (
            f"Cliniko refused the API key of {who}: store a new one with "
            f"`cliniko-connector connections rotate-key {who} --api-key-file FILE`"
        )
    if isinstance(exc, ClinikoForbidden):
        return f"the Cliniko user behind {who}'s key may not do this: give the user more rights or use another key"
    if isinstance(exc, ClinikoRateLimited | RateBudgetExhausted):
        return "the API key's request budget is used up: wait a minute and run the same command again"
    if isinstance(exc, ClinikoConnectionError):
        return "Cliniko could not be reached: check the base URL (`connections show`) and the network, then try again"
    if isinstance(exc, ClinikoTransientError):
        return "Cliniko did not answer properly; nothing was lost: run the same command again later"
    return None


# -- status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamStatus:
    """One stream of one connection, as `status` shows it."""

    resource: str
    triggers: tuple[str, ...]
    cursor: StreamCursor | None
    stats: StreamStats
    now: datetime

    @property
    def lag_seconds(self) -> int | None:
        if self.cursor is None:
            return None
        return lag_seconds(self.cursor.position, self.stats.caught_up_at, self.now)

    @property
    def events_last_hour(self) -> int:
        """Events of the last 60 minutes, estimated from hourly counters: this hour's count plus the previous
        hour's weighted by how much of it lies inside the window."""
        current = hour_start(self.now.timestamp())
        into_hour = (self.now.timestamp() - current) / HOUR
        hours = self.stats.events_by_hour
        return hours.get(current, 0) + round(hours.get(current - HOUR, 0) * (1 - into_hour))

    @property
    def hour_started_at(self) -> datetime:
        return datetime.fromtimestamp(hour_start(self.now.timestamp()), self.now.tzinfo)

    @property
    def events_this_hour(self) -> int:
        """Events published since this hour began (UTC): exact, so it matches the bus archive over that window."""
        return self.stats.events_by_hour.get(hour_start(self.now.timestamp()), 0)

    @property
    def events_last_24h(self) -> int:
        since = hour_start(self.now.timestamp()) - 23 * HOUR
        return sum(n for hour, n in self.stats.events_by_hour.items() if hour >= since)

    def to_dict(self) -> dict[str, Any]:
        c = self.cursor
        backfill = None
        if c is not None and c.backfill_total is not None:
            backfill = {"total": c.backfill_total, "done": min(c.backfill_done, c.backfill_total)}
        return {
            "resource": self.resource,
            "triggers": list(self.triggers),
            "cursor": to_z(c.position) if c else None,
            "origin": to_z(c.origin) if c else None,
            "lag_seconds": self.lag_seconds,
            "caught_up_at": to_z(self.stats.caught_up_at) if self.stats.caught_up_at else None,
            "last_poll_at": to_z(c.last_poll_at) if c and c.last_poll_at else None,
            "last_error": c.last_error if c else None,
            "events_last_hour": self.events_last_hour,
            "events_this_hour": self.events_this_hour,
            "hour_started_at": to_z(self.hour_started_at),
            "events_last_24h": self.events_last_24h,
            "events_published": c.events_published if c else 0,
            "backfill": backfill,
            "reconciled_at": to_z(c.reconciled_at) if c and c.reconciled_at else None,
            "reconciling_from": to_z(c.reconcile_from) if c and c.reconcile_from else None,
            "sort_not_honoured_at": to_z(c.sort_not_honoured_at) if c and c.sort_not_honoured_at else None,
        }


def allowed_by_kind(connection: Connection) -> dict[str, list[str]]:
    """The connection's allowed actions, reads and writes apart (what `show` and `status` print)."""
    # Here, not at the top: `hint_for` and `lag_seconds` are read by the CLI without the action catalog.
    from cliniko_connector.catalog.actions import ACTIONS

    allowed = [ACTIONS[name] for name in connection.allowed_actions if name in ACTIONS]
    return {
        "reads": [a.name for a in allowed if not a.writes],
        "writes": [a.name for a in allowed if a.writes],
    }


@dataclass(frozen=True)
class ConnectionReport:
    connection: Connection
    streams: list[StreamStatus]
    rate_used: int | None = None
    rate_note: str | None = None
    default_payload_mode: PayloadMode = PayloadMode.FULL
    rate_window_seconds: int = 60

    @property
    def rate_cap(self) -> int:
        """Requests the key may make in one budget window (its per-minute limit scaled to the window)."""
        return int(self.connection.rate_limit_per_minute * self.rate_window_seconds / 60)

    @property
    def payload_mode(self) -> PayloadMode:
        """The connection's own payload mode, else the stack's default."""
        return self.connection.payload_mode or self.default_payload_mode

    def to_dict(self) -> dict[str, Any]:
        c = self.connection
        return {
            "connection": c.id,
            "name": c.name,
            "status": c.status.value,
            "poll_interval_seconds": c.poll_interval_seconds,
            "payload_mode": self.payload_mode.value,
            "payload_mode_is_stack_default": c.payload_mode is None,
            "allowed_actions": allowed_by_kind(c),
            "rate_budget": {
                "used_in_window": self.rate_used,
                "cap_in_window": self.rate_cap,
                "window_seconds": self.rate_window_seconds,
                "limit_per_minute": c.rate_limit_per_minute,
                "note": self.rate_note,
            },
            "streams": [s.to_dict() for s in self.streams],
        }


RateUsage = Callable[[Connection], int]


@dataclass
class StatusReader:
    """Reads the state the poll workers write; calls neither Cliniko nor anything that changes state."""

    connections: ConnectionStore
    state: StreamStateStore
    rate_usage: RateUsage | None = None
    default_payload_mode: PayloadMode = PayloadMode.FULL
    rate_window_seconds: int = 60
    now: Callable[[], datetime] = utc_now
    _stats_hours: int = field(default=24, repr=False)

    def report(self, connection_id: str | None = None) -> list[ConnectionReport]:
        connections = [self.connections.get(connection_id)] if connection_id else self.connections.list()
        return [self.connection_report(c) for c in connections]

    def connection_report(self, connection: Connection) -> ConnectionReport:
        now = self.now()
        since = hour_start(now.timestamp()) - (self._stats_hours - 1) * HOUR
        streams: list[StreamStatus] = []
        for stream in streams_for(list(connection.triggers)):
            key = StreamKey(connection_id=connection.id, resource=stream.resource)
            triggers = tuple(t.name for t in stream.triggers if t.name in connection.triggers)
            streams.append(
                StreamStatus(
                    resource=stream.resource,
                    triggers=triggers,
                    cursor=self.state.get_cursor(key),
                    stats=self.state.get_stats(key, since),
                    now=now,
                )
            )
        used: int | None = None
        note: str | None = None
        if self.rate_usage is not None:
            try:
                used = self.rate_usage(connection)
            except ConnectorError as exc:
                note = f"rate budget unknown: {exc.error_type}"
        return ConnectionReport(
            connection=connection,
            streams=streams,
            rate_used=used,
            rate_note=note,
            default_payload_mode=self.default_payload_mode,
            rate_window_seconds=self.rate_window_seconds,
        )
