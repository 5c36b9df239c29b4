"""The public face of the simulator: start/stop, staff-side writes, clock, faults, request log."""

from __future__ import annotations

import builtins
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from cliniko_tools.simulator.api import Request, key_hash
from cliniko_tools.simulator.behaviour import SimulatorBehaviour
from cliniko_tools.simulator.clock import SimClock
from cliniko_tools.simulator.faults import FaultInjector
from cliniko_tools.simulator.ratelimit import RateLimiter
from cliniko_tools.simulator.render import render
from cliniko_tools.simulator.resources import (
    BOOKING_SOURCES,
    RESOURCES,
    cancel_booking_or_attendee,
    refresh_group_patients,
)
from cliniko_tools.simulator.schema import Record, ResourceDef, ValidationFailed
from cliniko_tools.simulator.server import SimHTTPServer
from cliniko_tools.simulator.store import NotFound, Store
from cliniko_tools.simulator.timefmt import format_datetime

OFFLINE_BASE = "http://127.0.0.1/v1"
REQUEST_LOG_LIMIT = 100_000


@dataclass(frozen=True)
class RecordedRequest:
    """One ``/v1`` request the simulator answered (status 0: connection dropped, no answer)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    api_key_hash: str | None  # sha256 prefix; the key itself is never kept
    status: int
    at: datetime  # wall-clock UTC
    user_agent: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": [list(pair) for pair in self.query],
            "api_key_hash": self.api_key_hash,
            "status": self.status,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "user_agent": self.user_agent,
        }


class Simulator:
    """An in-memory Cliniko served over HTTP on 127.0.0.1.

    ``seed``: None (empty clinic), ``"demo"``, ``"generate:N"`` (N patients of deterministic
    clinic data) or ``"examples"`` (the documented API examples). Every API key gets a user of
    its own (``GET /user``) unless the seed supplies the account owner.
    """

    def __init__(
        self,
        api_keys: Iterable[str] = (),
        rate_limit: int = 200,
        rate_window_seconds: float = 60.0,
        seed: str | None = None,
        behaviour: SimulatorBehaviour | None = None,
    ) -> None:
        self.resources: dict[str, ResourceDef] = RESOURCES
        self.clock = SimClock()
        self.store = Store(RESOURCES, self.clock)
        self.store.behaviour = behaviour or SimulatorBehaviour()
        self.faults = FaultInjector()
        self.rate_limiter = RateLimiter(rate_limit, rate_window_seconds)
        ordered = [api_keys] if isinstance(api_keys, str) else list(dict.fromkeys(api_keys))
        self.api_keys: frozenset[str] = frozenset(ordered)
        self._key_users: dict[str, int] = {}
        self._log: deque[RecordedRequest] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._log_lock = threading.Lock()
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        owner: int | None = None
        if seed:
            from cliniko_tools.simulator.seeds import apply_seed

            owner = apply_seed(self, seed)
        self._keys_lock = threading.Lock()
        for index, key in enumerate(ordered):
            if index == 0 and owner is not None:
                self._key_users[key] = owner
                continue
            self._key_users[key] = self._new_key_user()

    # ----------------------------------------------------------------- lifecycle

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1:``port`` (0 = any free port); returns the ``/v1`` base URL."""
        if self._server is not None:
            return self.base_url
        server = SimHTTPServer(self, port)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="cliniko-simulator", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        self._base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        return self._base_url

    def stop(self) -> None:
        """Stop serving, close every connection and join the server threads (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.close()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("simulator not started")
        return self._base_url

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    def _base(self, base: str | None) -> str:
        return base or self._base_url or OFFLINE_BASE

    @property
    def behaviour(self) -> SimulatorBehaviour:
        """Which undocumented conveniences are on (see `SimulatorBehaviour`); settable at any time."""
        return self.store.behaviour

    @behaviour.setter
    def behaviour(self, value: SimulatorBehaviour) -> None:
        self.store.behaviour = value

    # ----------------------------------------------------------------- rendering

    def render(self, resource: str, rec: Record, base: str | None = None) -> dict[str, Any]:
        """``rec`` as the API shows it (bookings are rendered as their own kind, linked as bookings)."""
        rdef = self.resources[resource]
        if rdef.union_of:
            owner = self.store.owner(resource, rec["id"]) or rdef.union_of[0]
            return render(self.resources[owner], rec, self._base(base), self_resource=resource)
        return render(rdef, rec, self._base(base))

    # ----------------------------------------------------------------- staff-side data access

    def create(self, resource: str, data: dict[str, Any], *, base: str | None = None) -> dict[str, Any]:
        """Create as clinic staff would (no HTTP, no rate limit); raises ValidationFailed."""
        rec = self.store.create(resource, data, staff=True)
        return self.render(resource, rec, base)

    def update(
        self, resource: str, record_id: str | int, data: dict[str, Any], *, base: str | None = None
    ) -> dict[str, Any]:
        rec = self.store.update(resource, record_id, data, staff=True)
        return self.render(resource, rec, base)

    def get(self, resource: str, record_id: str | int, *, base: str | None = None) -> dict[str, Any] | None:
        """The record however hidden (archived, cancelled), or None."""
        rec = self.store.find(resource, record_id)
        return None if rec is None else self.render(resource, rec, base)

    def list(self, resource: str, include_archived: bool = True, *, base: str | None = None) -> list[dict[str, Any]]:
        """All records in created order; ``include_archived=False`` drops what default lists hide."""
        rdef = self.resources[resource]
        out = []
        for rec in self.store.all_records(resource):
            if not include_archived and any(rec.get(attr) is not None for attr in rdef.hide):
                continue
            out.append(self.render(resource, rec, base))
        return out

    def _require(self, resource: str, record_id: str | int) -> Record:
        if resource not in self.resources:
            raise KeyError(f"unknown resource {resource!r}")
        rec = self.store.find(resource, record_id)
        if rec is None:
            raise NotFound(f"{resource}/{record_id}")
        return rec

    def archive(self, resource: str, record_id: str | int) -> None:
        rec = self._require(resource, record_id)
        if "archived_at" not in self.resources[resource].field_map():
            raise ValidationFailed({"base": f"{resource} can't be archived"})
        if rec.get("archived_at") is None:
            self.store.set_fields(resource, rec["id"], {"archived_at": self.clock.now_epoch()})
            if resource == "attendees":
                refresh_group_patients(self.store, rec["booking_id"])

    def purge(self, resource: str, record_id: str | int) -> None:
        """Delete a record as staff do in Cliniko's UI where the API keeps no trace of it (availability
        blocks): gone from lists, 404 by id."""
        rec = self._require(resource, record_id)
        self.store.purge(resource, rec["id"])

    def unarchive(self, resource: str, record_id: str | int) -> None:
        rec = self._require(resource, record_id)
        if rec.get("archived_at") is not None:
            self.store.set_fields(resource, rec["id"], {"archived_at": None})
            if resource == "attendees":
                refresh_group_patients(self.store, rec["booking_id"])

    def cancel(self, resource: str, record_id: str | int, reason: int | str = 50, note: str | None = None) -> None:
        """Cancel an individual appointment or attendee (as from Cliniko's UI)."""
        if resource not in {"individual_appointments", "attendees"}:
            raise ValidationFailed({"base": f"{resource} can't be cancelled"})
        rec = self._require(resource, record_id)
        cancel_booking_or_attendee(self.store, resource, rec["id"], reason, note, staff=True)

    def pay_invoice(self, invoice_id: str | int) -> dict[str, Any]:
        """Open (10) -> Paid (20)."""
        rec = self._require("invoices", invoice_id)
        if rec.get("status") not in (10, 40):
            raise ValidationFailed({"status": "only open invoices can be paid"})
        # Paying adds a payment: the invoice's own updated_at moves only if Cliniko bumps parents.
        self.store.set_fields(
            "invoices", rec["id"], {"status": 20, "status_description": "Paid"}, touch=self.behaviour.parent_bumps
        )
        return self.get("invoices", invoice_id) or {}

    def close_invoice(self, invoice_id: str | int) -> dict[str, Any]:
        """Paid/Open -> Closed (30), stamping ``closed_at``."""
        rec = self._require("invoices", invoice_id)
        if rec.get("status") == 30:
            return self.get("invoices", invoice_id) or {}
        self.store.set_fields(
            "invoices", rec["id"], {"status": 30, "status_description": "Closed", "closed_at": self.clock.now_epoch()}
        )
        return self.get("invoices", invoice_id) or {}

    def has_conflicts(self, rec: Record) -> bool:
        """Another live booking of the same practitioner overlapping ``rec``."""
        practitioner, starts, ends = rec.get("practitioner_id"), rec.get("starts_at"), rec.get("ends_at")
        if practitioner is None or starts is None or ends is None:
            return False
        with self.store.lock:
            for source in BOOKING_SOURCES:
                for other in self.store.table(source).rows.values():
                    if (
                        other["id"] != rec["id"]
                        and other.get("practitioner_id") == practitioner
                        and other.get("cancelled_at") is None
                        and other.get("archived_at") is None
                        and other.get("starts_at", 0) < ends
                        and other.get("ends_at", 0) > starts
                    ):
                        return True
        return False

    # ----------------------------------------------------------------- keys, limits, log

    def user_for_key(self, key: str) -> int | None:
        return self._key_users.get(key)

    def _new_key_user(self) -> int:
        number = len(self._key_users) + 1
        user = self.store.create(
            "users",
            {
                "first_name": "API",
                "last_name": f"User {number}",
                "email": f"api-user-{number}@simulator.example",
                "role": "administrator",
            },
            staff=True,
        )
        return int(user["id"])

    def add_key(self, key: str) -> bool:
        """Accept `key` from now on (a key added before, then revoked, gets its user back); False if it
        was already accepted."""
        with self._keys_lock:
            if key in self.api_keys:
                return False
            if key not in self._key_users:
                self._key_users[key] = self._new_key_user()
            self.api_keys = self.api_keys | {key}
            return True

    def revoke_key(self, key: str) -> bool:
        """Answer 401 to `key` from now on, as Cliniko does for a revoked key; False if it wasn't accepted."""
        with self._keys_lock:
            if key not in self.api_keys:
                return False
            self.api_keys = self.api_keys - {key}
            return True

    def set_rate_limit(self, limit: int, window_seconds: float) -> None:
        self.rate_limiter.configure(limit, window_seconds)

    def record_request(self, request: Request, key: str | None, status: int) -> None:
        entry = RecordedRequest(
            method=request.method,
            path=request.path,
            query=list(request.query),
            api_key_hash=key_hash(key) if key else None,
            status=status,
            at=datetime.fromtimestamp(time.time(), UTC),
            user_agent=request.header("User-Agent"),
        )
        with self._log_lock:
            self._log.append(entry)

    @property
    def requests(self) -> builtins.list[RecordedRequest]:
        with self._log_lock:
            return list(self._log)

    def requests_clear(self) -> None:
        with self._log_lock:
            self._log.clear()

    def now(self) -> str:
        """The simulator clock in wire format."""
        return format_datetime(self.clock.now_epoch()) or ""
