"""The public face of the simulator: it builds one object per concern and serves them over HTTP.

- ``store`` (store.py) holds the records, ``clinic`` (clinic.py) changes and renders them as staff would;
- ``clock`` (clock.py) and ``faults`` (faults.py), ``keys`` (keys.py) and ``rate_limiter`` (ratelimit.py);
- ``api`` (api.py) answers ``/v1``, ``control`` (control.py) answers ``/__sim``, ``log`` (requestlog.py)
  keeps what ``/v1`` answered; server.py only moves bytes between a socket and those two surfaces.
Each part is handed the parts it uses when it is built; none of them knows this class.
"""

from __future__ import annotations

import builtins
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any

from cliniko_tools.simulator.api import ApiSurface
from cliniko_tools.simulator.behaviour import SimulatorBehaviour
from cliniko_tools.simulator.clinic import Clinic
from cliniko_tools.simulator.clock import SimClock
from cliniko_tools.simulator.control import ControlSurface
from cliniko_tools.simulator.faults import FaultInjector
from cliniko_tools.simulator.keys import ApiKeys
from cliniko_tools.simulator.ratelimit import RateLimiter
from cliniko_tools.simulator.requestlog import RecordedRequest, RequestLog
from cliniko_tools.simulator.resources import RESOURCES
from cliniko_tools.simulator.schema import Record, ResourceDef
from cliniko_tools.simulator.seeds import apply_seed
from cliniko_tools.simulator.server import SimHTTPServer
from cliniko_tools.simulator.store import Store
from cliniko_tools.simulator.timefmt import format_datetime
from cliniko_tools.simulator.wire import Request

OFFLINE_BASE = "http://127.0.0.1/v1"

__all__ = ["RecordedRequest", "Simulator", "serve"]


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
        self.clinic = Clinic(self.store, RESOURCES, self.clock)
        self.faults = FaultInjector()
        self.rate_limiter = RateLimiter(rate_limit, rate_window_seconds)
        self.log = RequestLog()
        owner = apply_seed(self.store, seed) if seed else None
        # After the seed: the keys' users come after the seeded records, as they always have.
        self.keys = ApiKeys(self.store, api_keys, owner)
        self.api = ApiSurface(RESOURCES, self.store, self.clinic, self.keys, self.rate_limiter, self.faults)
        self.control = ControlSurface(
            RESOURCES, self.store, self.clinic, self.clock, self.faults, self.keys, self.rate_limiter, self.log
        )
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1:``port`` (0 = any free port); returns the ``/v1`` base URL."""
        if self._server is not None:
            return self.base_url
        server = SimHTTPServer(port, self.api.handle, self.control.handle, self.log.record)
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
        return self.clinic.behaviour

    @behaviour.setter
    def behaviour(self, value: SimulatorBehaviour) -> None:
        self.clinic.behaviour = value

    # ----------------------------------------------------------------- staff-side data access (clinic.py)

    def render(self, resource: str, rec: Record, base: str | None = None) -> dict[str, Any]:
        """``rec`` as the API shows it (bookings are rendered as their own kind, linked as bookings)."""
        return self.clinic.render(resource, rec, self._base(base))

    def create(self, resource: str, data: dict[str, Any], *, base: str | None = None) -> dict[str, Any]:
        """Create as clinic staff would (no HTTP, no rate limit); raises ValidationFailed."""
        return self.clinic.create(resource, data, self._base(base))

    def update(
        self, resource: str, record_id: str | int, data: dict[str, Any], *, base: str | None = None
    ) -> dict[str, Any]:
        return self.clinic.update(resource, record_id, data, self._base(base))

    def get(self, resource: str, record_id: str | int, *, base: str | None = None) -> dict[str, Any] | None:
        """The record however hidden (archived, cancelled), or None."""
        return self.clinic.get(resource, record_id, self._base(base))

    def list(self, resource: str, include_archived: bool = True, *, base: str | None = None) -> list[dict[str, Any]]:
        """All records in created order; ``include_archived=False`` drops what default lists hide."""
        return self.clinic.list(resource, include_archived, self._base(base))

    def archive(self, resource: str, record_id: str | int) -> None:
        self.clinic.archive(resource, record_id)

    def purge(self, resource: str, record_id: str | int) -> None:
        """Delete a record as staff do in Cliniko's UI where the API keeps no trace of it (availability
        blocks): gone from lists, 404 by id."""
        self.clinic.purge(resource, record_id)

    def unarchive(self, resource: str, record_id: str | int) -> None:
        self.clinic.unarchive(resource, record_id)

    def cancel(self, resource: str, record_id: str | int, reason: int | str = 50, note: str | None = None) -> None:
        """Cancel an individual appointment or attendee (as from Cliniko's UI)."""
        self.clinic.cancel(resource, record_id, reason, note)

    def pay_invoice(self, invoice_id: str | int) -> dict[str, Any]:
        """Open (10) -> Paid (20)."""
        return self.clinic.pay_invoice(invoice_id, self._base(None))

    def close_invoice(self, invoice_id: str | int) -> dict[str, Any]:
        """Paid/Open -> Closed (30), stamping ``closed_at``."""
        return self.clinic.close_invoice(invoice_id, self._base(None))

    def has_conflicts(self, rec: Record) -> bool:
        """Another live booking of the same practitioner overlapping ``rec``."""
        return self.clinic.has_conflicts(rec)

    # ----------------------------------------------------------------- keys, limits, log

    @property
    def api_keys(self) -> frozenset[str]:
        return self.keys.accepted

    def user_for_key(self, key: str) -> int | None:
        return self.keys.user_for(key)

    def add_key(self, key: str) -> bool:
        """Accept `key` from now on (a key added before, then revoked, gets its user back); False if it
        was already accepted."""
        return self.keys.add(key)

    def revoke_key(self, key: str) -> bool:
        """Answer 401 to `key` from now on, as Cliniko does for a revoked key; False if it wasn't accepted."""
        return self.keys.revoke(key)

    def set_rate_limit(self, limit: int, window_seconds: float) -> None:
        self.rate_limiter.configure(limit, window_seconds)

    def record_request(self, request: Request, key: str | None, status: int) -> None:
        self.log.record(request, key, status)

    @property
    def requests(self) -> builtins.list[RecordedRequest]:
        return self.log.entries()

    def requests_clear(self) -> None:
        self.log.clear()

    def now(self) -> str:
        """The simulator clock in wire format."""
        return format_datetime(self.clock.now_epoch()) or ""


def serve(
    port: int,
    api_keys: list[str],
    seed: str | None,
    *,
    strict: bool = False,
    on_ready: Callable[[Simulator], None] | None = None,
) -> None:
    """Run a simulator on 127.0.0.1:``port`` until SIGINT or SIGTERM (blocking); ``strict``: every
    undocumented convenience off (see `SimulatorBehaviour`); ``on_ready`` is called once it listens.
    Refuses to start without an API key: it would answer every request 401."""
    if not api_keys:
        raise ValueError("the simulator needs at least one API key")

    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        behaviour = SimulatorBehaviour.strict() if strict else None
        with Simulator(api_keys=api_keys, seed=seed, behaviour=behaviour) as sim:
            sim.start(port=port)
            mode = " (strict: only what the spec promises)" if strict else ""
            print(f"Cliniko simulator listening on {sim.base_url}{mode}", flush=True)  # noqa: T201
            if on_ready is not None:
                on_ready(sim)
            done.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
