"""``/__sim/...``: drive the simulator from another process (demo, benchmarks).

Loopback only, no auth, no rate limit, never logged as API traffic. Errors are JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cliniko_tools.simulator.clinic import Clinic
from cliniko_tools.simulator.clock import SimClock
from cliniko_tools.simulator.faults import FaultInjector
from cliniko_tools.simulator.keys import ApiKeys, key_hash
from cliniko_tools.simulator.ratelimit import RateLimiter
from cliniko_tools.simulator.requestlog import RequestLog
from cliniko_tools.simulator.schema import ResourceDef, ValidationFailed
from cliniko_tools.simulator.store import NotFound, Store
from cliniko_tools.simulator.timefmt import format_datetime
from cliniko_tools.simulator.wire import Request, Response, json_response

_ACTIONS = frozenset({"archive", "unarchive", "cancel", "pay", "close"})


def _error(status: int, message: str) -> Response:
    return json_response(status, {"message": message})


class ControlSurface:
    """Drives every part of the simulator: its records (as staff), clock, faults, keys, rate limit, request log."""

    def __init__(
        self,
        resources: Mapping[str, ResourceDef],
        store: Store,
        clinic: Clinic,
        clock: SimClock,
        faults: FaultInjector,
        keys: ApiKeys,
        limiter: RateLimiter,
        log: RequestLog,
    ) -> None:
        self._resources = resources
        self._store = store
        self._clinic = clinic
        self._clock = clock
        self._faults = faults
        self._keys = keys
        self._limiter = limiter
        self._log = log

    def handle(self, request: Request) -> Response:
        if not (request.client.startswith("127.") or request.client in {"::1", "localhost"}):
            return _error(403, "the control surface only answers on loopback")
        try:
            body: Any = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            return _error(400, "body is not JSON")
        parts = [p for p in request.path.split("/") if p][1:]  # drop "__sim"
        method = request.method
        try:
            return self._dispatch(request, parts, method, body)
        except ValidationFailed as exc:
            return json_response(422, exc.body())
        except (NotFound, KeyError) as exc:
            return _error(404, f"not found: {exc}")
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))

    def _dispatch(self, request: Request, parts: list[str], method: str, body: Any) -> Response:
        base = request.base
        if parts == ["health"] and method == "GET":
            counts = {name: self._store.count(name) for name in self._resources}
            return json_response(
                200, {"status": "ok", "now": format_datetime(self._clock.now_epoch()), "records": counts}
            )
        if parts == ["clock"]:
            if method == "POST":
                if not isinstance(body, dict):
                    raise ValueError("expected an object")
                if "set" in body:
                    self._clock.set(body["set"])
                if "advance" in body:
                    self._clock.advance(float(body["advance"]))
                if body.get("resume"):
                    self._clock.resume()
                if body.get("freeze"):
                    self._clock.freeze()
            elif method != "GET":
                return _error(405, "GET or POST")
            return json_response(200, {"now": format_datetime(self._clock.now_epoch()), "frozen": self._clock.frozen})
        if parts == ["faults"]:
            if method == "POST":
                if not isinstance(body, dict):
                    raise ValueError("expected an object")
                kind = body.get("kind")
                if not isinstance(kind, str):
                    raise ValueError("kind is required")
                self._faults.inject(
                    kind,
                    count=body.get("count"),
                    fraction=body.get("fraction"),
                    status=int(body.get("status", 500)),
                    delay=float(body.get("delay", 0.0)),
                    paths=body.get("paths"),
                )
            elif method == "DELETE":
                self._faults.clear()
                return Response(204, b"", None)
            elif method != "GET":
                return _error(405, "GET, POST or DELETE")
            return json_response(200, {"faults": [f.as_dict() for f in self._faults.active]})
        if parts == ["requests"]:
            if method == "DELETE":
                self._log.clear()
                return Response(204, b"", None)
            return json_response(200, {"requests": [r.as_dict() for r in self._log.entries()]})
        if parts == ["behaviour"]:
            if method == "POST":
                self._clinic.behaviour = self._clinic.behaviour.updated(body)
            elif method != "GET":
                return _error(405, "GET or POST")
            return json_response(200, self._clinic.behaviour.as_dict())
        if parts == ["rate_limit"] and method == "POST":
            self._limiter.configure(int(body["limit"]), float(body.get("window_seconds", 60.0)))
            return json_response(200, {"limit": body["limit"], "window_seconds": self._limiter.window_seconds})
        if parts == ["keys"]:
            return self._keys_endpoint(method, body)
        if len(parts) >= 2 and parts[0] == "records":
            return self._records(parts[1:], method, body, base)
        return _error(404, "unknown control endpoint")

    def _keys_endpoint(self, method: str, body: Any) -> Response:
        """The API keys the simulator accepts: list them (hashes, never keys), add one or revoke one at runtime."""
        if method == "GET":
            listed = [{"key_hash": key_hash(k), "user_id": self._keys.user_for(k)} for k in sorted(self._keys.accepted)]
            return json_response(200, {"keys": listed})
        if method not in ("POST", "DELETE"):
            return _error(405, "GET, POST or DELETE")
        key = body.get("key") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key or any(c.isspace() for c in key):
            raise ValueError('expected {"key": "..."}, a key without white space')
        if method == "POST":
            added = self._keys.add(key)
            return json_response(
                201 if added else 200, {"key_hash": key_hash(key), "user_id": self._keys.user_for(key)}
            )
        if not self._keys.revoke(key):
            return _error(404, "the simulator does not accept that key")
        return json_response(200, {"key_hash": key_hash(key), "revoked": True})

    def _records(self, parts: list[str], method: str, body: Any, base: str) -> Response:
        resource = parts[0]
        if resource not in self._resources:
            return _error(404, f"unknown resource {resource!r}")
        if len(parts) == 1:
            if method == "POST":
                return json_response(201, self._clinic.create(resource, body, base))
            if method == "GET":
                return json_response(200, {resource: self._clinic.list(resource, True, base)})
            return _error(405, "GET or POST")
        record_id = parts[1]
        if len(parts) == 2:
            if method == "PATCH":
                return json_response(200, self._clinic.update(resource, record_id, body, base))
            if method == "GET":
                found = self._clinic.get(resource, record_id, base)
                return json_response(200, found) if found is not None else _error(404, "no such record")
            return _error(405, "GET or PATCH")
        if len(parts) == 3 and parts[2] == "purge" and method == "POST":
            self._clinic.purge(resource, record_id)
            return Response(status=204)
        if len(parts) == 3 and parts[2] in _ACTIONS and method == "POST":
            action = parts[2]
            if action == "archive":
                self._clinic.archive(resource, record_id)
            elif action == "unarchive":
                self._clinic.unarchive(resource, record_id)
            elif action == "cancel":
                data: dict[str, Any] = body if isinstance(body, dict) else {}
                reason: Any = data.get("cancellation_reason", data.get("reason", 50))
                note: Any = data.get("cancellation_note", data.get("note"))
                self._clinic.cancel(resource, record_id, reason=reason, note=note)
            elif action == "pay":
                self._clinic.pay_invoice(record_id, base)
            else:
                self._clinic.close_invoice(record_id, base)
            return json_response(200, self._clinic.get(resource, record_id, base))
        return _error(404, "unknown record action")
