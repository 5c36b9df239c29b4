"""The ``/v1`` Cliniko API: routing, auth, User-Agent, rate limit, faults, and the wire format.

Transport-independent: :class:`ApiSurface` maps a :class:`Request` to a :class:`Response`; the HTTP
server in ``server.py`` only moves bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from cliniko_tools.simulator.clinic import Clinic
from cliniko_tools.simulator.faults import FaultInjector
from cliniko_tools.simulator.keys import ApiKeys, key_hash
from cliniko_tools.simulator.query import parse_sort
from cliniko_tools.simulator.ratelimit import RateLimiter
from cliniko_tools.simulator.render import render
from cliniko_tools.simulator.resources import LIST_ROUTES, cancel_booking_or_attendee
from cliniko_tools.simulator.schema import ListRoute, Record, ResourceDef, ValidationFailed
from cliniko_tools.simulator.store import NotFound, Store
from cliniko_tools.simulator.wire import Request, Response, json_response, no_content, not_found

_UA_RE = re.compile(r"\S.*\(\s*[^\s()@]+@[^\s()@]+\.[^\s()@]+\s*\)")
_SERVER_ERROR_HTML = (
    b"<!DOCTYPE html>\n<html>\n<head>\n  <title>We're sorry, but something went wrong (500)</title>\n"
    b"</head>\n<body>\n  <h1>We're sorry, but something went wrong.</h1>\n</body>\n</html>\n"
)
# The spec's IndividualAppointmentCancel and AttendeeCancel bodies.
CANCEL_FIELDS = frozenset({"cancellation_reason", "cancellation_note", "apply_to_repeats"})
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
# Columns that can't be sorted by: structured values.
_UNSORTABLE_KINDS = frozenset({"json", "phones", "ids"})


def api_key_from(request: Request) -> str | None:
    auth = request.header("Authorization") or ""
    scheme, _, encoded = auth.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0]


def user_agent_ok(value: str | None) -> bool:
    """Cliniko asks for ``App Name (contact@email)``; anything else may be blocked."""
    return bool(value and _UA_RE.search(value))


class ApiSurface:
    """Answers ``/v1`` requests from the clinic's records, for the keys it accepts, within the rate limit,
    after whatever fault was injected."""

    def __init__(
        self,
        resources: Mapping[str, ResourceDef],
        store: Store,
        clinic: Clinic,
        keys: ApiKeys,
        limiter: RateLimiter,
        faults: FaultInjector,
    ) -> None:
        self._resources = resources
        self._store = store
        self._clinic = clinic
        self._keys = keys
        self._limiter = limiter
        self._faults = faults
        self._sortable: dict[str, frozenset[str]] = {}

    def handle(self, request: Request) -> tuple[Response, str | None]:
        """Answer one ``/v1`` request; returns the response and the caller's key (for the log)."""
        key = api_key_from(request)
        fault = self._faults.pick(request.path)
        stall = 0.0
        if fault is not None:
            if fault.kind == "reset":
                return Response(0, drop=True), key
            if fault.kind == "timeout":
                return Response(0, drop=True, stall=fault.delay), key
            if fault.kind == "server_error":
                status = fault.status if fault.status >= 500 else 500
                return Response(status, _SERVER_ERROR_HTML, "text/html; charset=utf-8"), key
            if fault.kind == "rate_limit":
                reset = self._limiter.hit("__fault__")[1]
                return _too_many(reset, fault.status), key
            if fault.kind == "latency":
                stall = fault.delay
        response = self._authorised(request, key)
        response.stall = stall
        if fault is not None and fault.kind == "malformed_json":
            body = response.body or b'{"message":"ok"}'
            response = Response(200, body[: max(1, len(body) // 2)], "application/json; charset=utf-8")
        return response, key

    def _authorised(self, request: Request, key: str | None) -> Response:
        if not user_agent_ok(request.header("User-Agent")):
            return json_response(
                403,
                {
                    "message": "Requests need a User-Agent naming your application and a contact email, "
                    "e.g. 'Acme Sync (dev@acme.example)'."
                },
            )
        if key is None or not self._keys.accepts(key):
            return Response(
                401,
                b"HTTP Basic: Access denied.\n",
                "text/plain; charset=utf-8",
                {"WWW-Authenticate": 'Basic realm="Application"'},
            )
        allowed, reset = self._limiter.hit(key_hash(key))
        if not allowed:
            return _too_many(reset)
        try:
            return self._route(request, key)
        except NotFound:
            return not_found()
        except ValidationFailed as exc:
            return json_response(422, exc.body())

    def _route(self, request: Request, key: str) -> Response:
        path = request.path
        if not path.startswith("/v1/"):
            return not_found()
        segments = [s for s in path[4:].split("/") if s]
        ids = [s for s in segments if s.isdigit()]
        template = "/".join("{id}" if s.isdigit() else s for s in segments)
        method = request.method
        store, clinic, user_id = self._store, self._clinic, self._keys.user_for(key)
        try:
            if template == "user" and method == "GET":
                user = store.find("users", user_id)
                if user is None:
                    return not_found()
                return json_response(200, render(self._resources["users"], user, request.base))
            if segments and segments[0] == "users" and not self._is_administrator(user_id):
                # A key has its user's permissions; only administrators may read other users [digest §3].
                return json_response(403, {"message": "You do not have permission to access this resource."})
            route = LIST_ROUTES.get(template)
            if route is not None and method == "GET":
                parent_id = int(ids[0]) if ids else None
                return self._list(request, route, template, parent_id)
            if not segments or segments[0] not in self._resources:
                return not_found()
            rdef = self._resources[segments[0]]
            ops = rdef.ops
            shape = (len(segments), method)
            if shape == (1, "POST") and "create" in ops:
                rec = store.create(rdef.name, _parse_body(request), user_id=user_id)
                body = render(rdef, rec, request.base)
                return json_response(201, body, {"Location": body["links"]["self"]})
            if len(segments) < 2 or not segments[1].isdigit():
                return not_found()
            rid = int(segments[1])
            if len(segments) == 2:
                if method == "GET" and "get" in ops:
                    rec = store.get_visible(rdef.name, segments[1], request.params("q[]") + request.params("q"))
                    return json_response(200, clinic.render(rdef.name, rec, request.base))
                if method == "PATCH" and "update" in ops:
                    self._visible(rdef.name, rid)
                    rec = store.update(rdef.name, rid, _parse_body(request), user_id=user_id)
                    return json_response(200, render(rdef, rec, request.base))
                if method == "DELETE" and "delete" in ops:
                    self._visible(rdef.name, rid)
                    if "archived_at" in rdef.field_map():
                        clinic.archive(rdef.name, rid)  # the deprecated DELETE: "Resource was archived"
                    else:
                        clinic.purge(rdef.name, rid)  # taxes, reference numbers: gone for good
                    return no_content()
                return not_found()
            if len(segments) != 3:
                return not_found()
            action = segments[2]
            if action == "archive" and method == "POST" and "archive" in ops:
                self._visible(rdef.name, rid)
                clinic.archive(rdef.name, rid)
                return no_content()
            if action == "unarchive" and method == "POST" and "unarchive" in ops:
                if store.find(rdef.name, rid) is None:
                    return not_found()
                clinic.unarchive(rdef.name, rid)
                return json_response(200, clinic.render(rdef.name, store.find(rdef.name, rid) or {}, request.base))
            if action == "cancel" and method == "PATCH" and "cancel" in ops:
                self._visible(rdef.name, rid)
                body = _parse_body(request)
                if not isinstance(body, dict):
                    raise ValidationFailed(message="must be an object")
                unaccepted = sorted(set(body) - CANCEL_FIELDS)
                if unaccepted and not clinic.behaviour.read_only_writes:
                    raise ValidationFailed(dict.fromkeys(unaccepted, "is not accepted by this endpoint"))
                cancel_booking_or_attendee(
                    store, rdef.name, rid, body.get("cancellation_reason"), body.get("cancellation_note"), staff=False
                )
                return no_content()
            if action == "conflicts" and method == "GET" and "conflicts" in ops:
                rec = store.get_visible(rdef.name, segments[1])
                return json_response(200, {"conflicts": {"exist": clinic.has_conflicts(rec)}})
            return not_found()
        except _BadJson:
            return json_response(400, {"message": "There was a problem in the JSON you submitted"})
        except KeyError:
            return not_found()

    def _is_administrator(self, user_id: int | None) -> bool:
        user = self._store.find("users", user_id)
        return user is not None and user.get("role") == "administrator"

    def _visible(self, resource: str, rid: int) -> Record:
        rec = self._store.find(resource, rid)
        if rec is None:
            raise NotFound(rid)
        return rec

    def _list(self, request: Request, route: ListRoute, template: str, parent_id: int | None) -> Response:
        if parent_id is not None and route.parent is not None and self._store.find(route.parent, parent_id) is None:
            return not_found()
        rdef = self._resources[route.resource]
        page, per_page = page_params(request)
        sortable = self._sortable_columns(route.resource)
        sort_keys = parse_sort(request.param("sort"), request.param("order"), sortable)
        if not self._clinic.behaviour.honour_sort:
            sort_keys = parse_sort(None, None, sortable)  # accepted, then ignored: the default order
        q = request.params("q[]") + request.params("q")
        result = self._store.query(route, q, sort_keys, page, per_page, parent_id)
        base = request.base
        records = [self._clinic.render(route.resource, rec, base) for rec in result.records]
        path = "/".join(str(parent_id) if part == "{id}" else part for part in template.split("/"))
        links = {"self": _page_url(base, path, request.query, page)}
        if page > 1:
            links["previous"] = _page_url(base, path, request.query, page - 1)
        if page * per_page < result.total:
            links["next"] = _page_url(base, path, request.query, page + 1)
        return json_response(200, {rdef.name: records, "total_entries": result.total, "links": links})

    def _sortable_columns(self, resource: str) -> frozenset[str]:
        cached = self._sortable.get(resource)
        if cached is None:
            rdef = self._resources[resource]
            names = {f.name for f in rdef.fields if f.kind not in _UNSORTABLE_KINDS}
            for source in rdef.union_of:
                names |= {f.name for f in self._resources[source].fields if f.kind not in _UNSORTABLE_KINDS}
            cached = frozenset(names)
            self._sortable[resource] = cached
        return cached


def _too_many(reset: int, status: int = 429) -> Response:
    return json_response(
        status,
        {"message": "Too many requests. Please wait before retrying."},
        {"X-RateLimit-Reset": str(reset)},
    )


def _parse_body(request: Request) -> Any:
    if not request.body.strip():
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise _BadJson from None


class _BadJson(Exception):
    pass


def page_params(request: Request) -> tuple[int, int]:
    """``page`` from 1 and ``per_page`` 1..100 (larger values are clamped to 100, as documented)."""

    def _int(name: str, default: int) -> int:
        raw = request.param(name)
        try:
            return int(raw) if raw is not None else default
        except ValueError:
            raise ValidationFailed({name: "is not a number"}) from None

    page = max(1, _int("page", 1))
    per_page = min(MAX_PER_PAGE, max(1, _int("per_page", DEFAULT_PER_PAGE)))
    return page, per_page


def _page_url(base: str, path: str, query: list[tuple[str, str]], page: int) -> str:
    params = [(k, v) for k, v in query if k != "page"] + [("page", str(page))]
    return f"{base}/{path}?{urlencode(params, quote_via=quote)}"
