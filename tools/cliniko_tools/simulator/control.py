"""``/__sim/...``: drive the simulator from another process (demo, benchmarks).

Loopback only, no auth, no rate limit, never logged as API traffic. Errors are JSON.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cliniko_tools.simulator.api import Request, Response, json_response, key_hash
from cliniko_tools.simulator.schema import ValidationFailed
from cliniko_tools.simulator.store import NotFound
from cliniko_tools.simulator.timefmt import format_datetime

if TYPE_CHECKING:
    from cliniko_tools.simulator.simulator import Simulator

_ACTIONS = frozenset({"archive", "unarchive", "cancel", "pay", "close"})


def _error(status: int, message: str) -> Response:
    return json_response(status, {"message": message})


def handle_control(sim: Simulator, request: Request) -> Response:
    if not (request.client.startswith("127.") or request.client in {"::1", "localhost"}):
        return _error(403, "the control surface only answers on loopback")
    try:
        body: Any = json.loads(request.body) if request.body.strip() else {}
    except ValueError:
        return _error(400, "body is not JSON")
    parts = [p for p in request.path.split("/") if p][1:]  # drop "__sim"
    method = request.method
    try:
        return _dispatch(sim, request, parts, method, body)
    except ValidationFailed as exc:
        return json_response(422, exc.body())
    except (NotFound, KeyError) as exc:
        return _error(404, f"not found: {exc}")
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))


def _dispatch(sim: Simulator, request: Request, parts: list[str], method: str, body: Any) -> Response:
    base = request.base
    if parts == ["health"] and method == "GET":
        counts = {name: sim.store.count(name) for name in sim.resources}
        return json_response(200, {"status": "ok", "now": format_datetime(sim.clock.now_epoch()), "records": counts})
    if parts == ["clock"]:
        if method == "POST":
            if not isinstance(body, dict):
                raise ValueError("expected an object")
            if "set" in body:
                sim.clock.set(body["set"])
            if "advance" in body:
                sim.clock.advance(float(body["advance"]))
            if body.get("resume"):
                sim.clock.resume()
            if body.get("freeze"):
                sim.clock.freeze()
        elif method != "GET":
            return _error(405, "GET or POST")
        return json_response(200, {"now": format_datetime(sim.clock.now_epoch()), "frozen": sim.clock.frozen})
    if parts == ["faults"]:
        if method == "POST":
            if not isinstance(body, dict):
                raise ValueError("expected an object")
            kind = body.get("kind")
            if not isinstance(kind, str):
                raise ValueError("kind is required")
            sim.faults.inject(
                kind,
                count=body.get("count"),
                fraction=body.get("fraction"),
                status=int(body.get("status", 500)),
                delay=float(body.get("delay", 0.0)),
                paths=body.get("paths"),
            )
        elif method == "DELETE":
            sim.faults.clear()
            return Response(204, b"", None)
        elif method != "GET":
            return _error(405, "GET, POST or DELETE")
        return json_response(200, {"faults": [f.as_dict() for f in sim.faults.active]})
    if parts == ["requests"]:
        if method == "DELETE":
            sim.requests_clear()
            return Response(204, b"", None)
        return json_response(200, {"requests": [r.as_dict() for r in sim.requests]})
    if parts == ["behaviour"]:
        if method == "POST":
            sim.behaviour = sim.behaviour.updated(body)
        elif method != "GET":
            return _error(405, "GET or POST")
        return json_response(200, sim.behaviour.as_dict())
    if parts == ["rate_limit"] and method == "POST":
        sim.set_rate_limit(int(body["limit"]), float(body.get("window_seconds", 60.0)))
        return json_response(200, {"limit": body["limit"], "window_seconds": sim.rate_limiter.window_seconds})
    if parts == ["keys"]:
        return _keys(sim, method, body)
    if len(parts) >= 2 and parts[0] == "records":
        return _records(sim, parts[1:], method, body, base)
    return _error(404, "unknown control endpoint")


def _keys(sim: Simulator, method: str, body: Any) -> Response:
    """The API keys the simulator accepts: list them (hashes, never keys), add one or revoke one at runtime."""
    if method == "GET":
        listed = [{"key_hash": key_hash(k), "user_id": sim.user_for_key(k)} for k in sorted(sim.api_keys)]
        return json_response(200, {"keys": listed})
    if method not in ("POST", "DELETE"):
        return _error(405, "GET, POST or DELETE")
    key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key or any(c.isspace() for c in key):
        raise ValueError('expected {"key": "..."}, a key without white space')
    if method == "POST":
        added = sim.add_key(key)
        return json_response(201 if added else 200, {"key_hash": key_hash(key), "user_id": sim.user_for_key(key)})
    if not sim.revoke_key(key):
        return _error(404, "the simulator does not accept that key")
    return json_response(200, {"key_hash": key_hash(key), "revoked": True})


def _records(sim: Simulator, parts: list[str], method: str, body: Any, base: str) -> Response:
    resource = parts[0]
    if resource not in sim.resources:
        return _error(404, f"unknown resource {resource!r}")
    if len(parts) == 1:
        if method == "POST":
            return json_response(201, sim.create(resource, body, base=base))
        if method == "GET":
            return json_response(200, {resource: sim.list(resource, include_archived=True, base=base)})
        return _error(405, "GET or POST")
    record_id = parts[1]
    if len(parts) == 2:
        if method == "PATCH":
            return json_response(200, sim.update(resource, record_id, body, base=base))
        if method == "GET":
            found = sim.get(resource, record_id, base=base)
            return json_response(200, found) if found is not None else _error(404, "no such record")
        return _error(405, "GET or PATCH")
    if len(parts) == 3 and parts[2] == "purge" and method == "POST":
        sim.purge(resource, record_id)
        return Response(status=204)
    if len(parts) == 3 and parts[2] in _ACTIONS and method == "POST":
        action = parts[2]
        if action == "archive":
            sim.archive(resource, record_id)
        elif action == "unarchive":
            sim.unarchive(resource, record_id)
        elif action == "cancel":
            data: dict[str, Any] = body if isinstance(body, dict) else {}
            reason: Any = data.get("cancellation_reason", data.get("reason", 50))
            note: Any = data.get("cancellation_note", data.get("note"))
            sim.cancel(resource, record_id, reason=reason, note=note)
        elif action == "pay":
            sim.pay_invoice(record_id)
        else:
            sim.close_invoice(record_id)
        return json_response(200, sim.get(resource, record_id, base=base))
    return _error(404, "unknown record action")
