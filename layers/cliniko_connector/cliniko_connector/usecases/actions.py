"""Run one catalog action for one request: validate, call Cliniko once, report the outcome on the bus."""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from pydantic import BaseModel, ValidationError

from cliniko_connector.catalog.actions import (
    Action,
    AppointmentDetails,
    Archive,
    Cancel,
    Create,
    Delete,
    Find,
    Get,
    ListIds,
    Match,
    Unarchive,
    Update,
    Via,
    filter_of,
)
from cliniko_connector.catalog.hidden import hidden_filters, is_hidden, state_of
from cliniko_connector.cliniko_query import q
from cliniko_connector.errors import (
    ActionNotAllowed,
    ClinikoBadResponse,
    ClinikoForbidden,
    ClinikoNotFound,
    ConnectionDisabled,
    ConnectorError,
    InputValidationError,
)
from cliniko_connector.eventmodels import (
    ACTION_FAILED,
    ACTION_SUCCEEDED,
    ActionOutcomeDetail,
    ActionRequest,
    field_errors,
)
from cliniko_connector.models import BusEvent, Connection
from cliniko_connector.observability import count, logger
from cliniko_connector.ports import ClinikoApi, ConnectionStore, EventPublisher, Params
from cliniko_connector.timeutil import parse_ts, to_z

PAGE_SIZE = 100
MAX_IDS = 100
"""At most this many ids in an `every_match` result (`matches` still counts them all): the outcome event stays small."""


def validate_input(action: Action, raw: Any) -> BaseModel:
    """The action's input model, or `InputValidationError` with field names and messages (never values)."""
    try:
        return action.input_model.model_validate(raw)
    except ValidationError as exc:
        errors = {("input" if name == "request" else name): msg for name, msg in field_errors(exc).items()}
        raise InputValidationError(f"invalid input for {action.name}", errors) from None


def execute(action: Action, api: ClinikoApi, payload: BaseModel, deadline: float) -> dict[str, Any]:
    """Call Cliniko for one validated input: one call for a write, as many pages as needed for a read.
    Finds that match nothing return `found: false`."""
    op = action.operation
    # Only the fields the caller gave: an explicit null clears a field, a field left out is left alone.
    body = payload.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(op, Create):
        return {"record": api.request("POST", op.path, json={**body, **op.fixed}, deadline=deadline)}
    if isinstance(op, Update):
        record_id = body.pop("id")
        return {"record": api.request("PATCH", f"{op.path}/{record_id}", json=body, deadline=deadline)}
    if isinstance(op, Archive):
        api.request("POST", f"{op.path}/{body['id']}/archive", deadline=deadline)
        return {"archived": True, "id": body["id"]}
    if isinstance(op, Unarchive):
        record = api.request("POST", f"{op.path}/{body['id']}/unarchive", deadline=deadline)
        return {"unarchived": True, "id": body["id"], "record": record}
    if isinstance(op, Delete):
        api.request("DELETE", f"{op.path}/{body['id']}", deadline=deadline)
        return {"deleted": True, "id": body["id"]}
    if isinstance(op, Cancel):
        record_id = body.pop("id")
        api.request("PATCH", f"{op.path}/{record_id}/cancel", json=body, deadline=deadline)
        return {"cancelled": True, "id": record_id}
    if isinstance(op, Get):
        return _get(op, api, body, deadline)
    if isinstance(op, Find):
        if "id" in body:
            return _find_by_id(op, api, body, deadline)
        return _find(op, api, body, deadline)
    if isinstance(op, ListIds):
        return _list_ids(op, api, payload.model_dump(mode="json", by_alias=True), deadline)
    if isinstance(op, AppointmentDetails):
        return _appointment_details(op, api, body, deadline)
    raise TypeError(f"unknown operation {op!r}")


def _linked_id(record: Mapping[str, Any], name: str) -> str | None:
    """The id at the end of `record[name].links.self`, or None when the record has no such link."""
    link = record.get(name)
    url = link.get("links", {}).get("self") if isinstance(link, dict) else None
    last = str(url).rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) else ""
    return last if last.isdigit() else None


def _linked_record(api: ClinikoApi, path: str, record_id: str | None, deadline: float) -> dict[str, Any] | None:
    if record_id is None:
        return None
    try:
        found = api.request("GET", f"{path}/{record_id}", params=_hidden_too(path), deadline=deadline)
    except ClinikoNotFound:
        return None
    return found if isinstance(found, dict) else None


def _zone(*candidates: tuple[str, Any]) -> tuple[str, str, tzinfo]:
    """(source, name, zone) of the first candidate naming an IANA zone this runtime knows (its data ships in the
    layer: `tzdata`), else UTC, which needs no zone data at all."""
    for source, name in candidates:
        if isinstance(name, str) and name.strip():
            try:
                return source, name.strip(), zoneinfo.ZoneInfo(name.strip())
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return "utc", "UTC", UTC


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _appointment_details(
    op: AppointmentDetails, api: ClinikoApi, body: dict[str, Any], deadline: float
) -> dict[str, Any]:
    """The appointment, its practitioner's display name and its business's time zone: three reads."""
    try:
        appointment = api.request("GET", f"{op.path}/{body['id']}", params=_hidden_too(op.path), deadline=deadline)
    except ClinikoNotFound:
        appointment = None
    empty = dict.fromkeys(op.result) | {"found": False}
    if not isinstance(appointment, dict):
        return empty
    starts_at = appointment.get("starts_at")
    try:
        start = parse_ts(str(starts_at))
    except (TypeError, ValueError):
        raise ClinikoBadResponse(f"GET {op.path}/{{id}}: the appointment came without a valid starts_at") from None
    practitioner = _linked_record(api, "/practitioners", _linked_id(appointment, "practitioner"), deadline) or {}
    business = _linked_record(api, "/businesses", _linked_id(appointment, "business"), deadline) or {}
    source, zone_name, zone = _zone(
        ("business", business.get("time_zone_identifier")), ("input", body.get("time_zone"))
    )
    local = start.astimezone(zone)
    return empty | {
        "found": True,
        **state_of(appointment),
        "id": str(appointment.get("id") or body["id"]),
        "patient_name": _text(appointment.get("patient_name")),
        "practitioner_name": _text(practitioner.get("display_name")) or _text(practitioner.get("label")),
        "business_name": _text(business.get("display_name")) or _text(business.get("business_name")),
        "starts_at": to_z(start),
        "time_zone": zone_name,
        "time_zone_from": source,
        "local_starts_at": local.isoformat(),
        "local_date": local.date().isoformat(),
        "local_time": local.strftime("%H:%M"),
        "local_text": f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({local.tzname()})",
    }


def _hidden_too(path: str) -> list[tuple[str, str]]:
    """`q[]=<state>_at:*` for every hidden state the spec lets `path` include."""
    return [q(name, "*") for name in hidden_filters(path)]


def _found(record: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"found": True, "record": record, **state_of(record), **extra}


def _get(op: Get, api: ClinikoApi, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    """By id, hidden records too: an automation reacting to "appointment cancelled" must find the appointment."""
    for kind, path in op.paths(body.get("kind")):
        try:
            record = api.request("GET", f"{path}/{body['id']}", params=_hidden_too(path), deadline=deadline)
        except ClinikoNotFound:
            continue
        return _found(record, **({"kind": kind} if kind else {}))
    return {"found": False, "record": None}


def _find_by_id(op: Find, api: ClinikoApi, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    result = _get(Get(op.path), api, body, deadline)
    record = result["record"]
    if op.every_match:
        result |= {"matches": 1, "ids": [str(record["id"])]} if record else {"matches": 0, "ids": []}
    if op.inactive and record:
        result["inactive"] = record.get("active") is False
    return result


def _filters(
    by: Mapping[str, str], body: Mapping[str, Any], match: Mapping[str, Match] | None = None
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for input_field, spec in by.items():
        if input_field in body:
            name, operator = filter_of(spec)
            value = body[input_field]
            m = (match or {}).get(input_field)
            if operator == "~" and m is not None and m.ignore_case:
                # Narrow on Cliniko's side, decide on ours (ignoring case): lower case is how most addresses
                # are stored, so even a case-sensitive `~` keeps finding them.
                value = str(value).lower()
            params.append(q(name, operator, value))
    return params


def _matches(record: Mapping[str, Any], match: Mapping[str, Match], body: Mapping[str, Any]) -> bool:
    for input_field, m in match.items():
        if input_field not in body:
            continue
        have, want = record.get(m.field), body[input_field]
        if not isinstance(have, str):
            return False
        if m.ignore_case:
            have, want = have.strip().casefold(), str(want).casefold()
        if have != want:
            return False
    return True


def _first(
    api: ClinikoApi,
    path: str,
    params: Params,
    match: Mapping[str, Match],
    body: Mapping[str, Any],
    deadline: float,
) -> dict[str, Any] | None:
    """The first record of a filtered list; with client-side matches, the first matching one of any page."""
    if not any(field in body for field in match):
        page = api.list_page(path, params=[*params, ("per_page", "1")], deadline=deadline)
        return page.records[0] if page.records else None
    for record in api.iter_records(path, params=[*params, ("per_page", str(PAGE_SIZE))], deadline=deadline):
        if _matches(record, match, body):
            return record
    return None


def _linked(via: Via, api: ClinikoApi, body: Mapping[str, Any], deadline: float) -> dict[str, Any] | None:
    """The record of `via.path` matching the input: the key's own record when it matches (no permission
    needed), else the first match of the list, which may need an administrator's key."""
    if via.own is not None:
        try:
            own = api.request("GET", via.own, deadline=deadline)
        except (ClinikoNotFound, ClinikoForbidden):
            own = None
        if isinstance(own, dict) and _matches(own, via.match, body):
            return own
    try:
        return _first(api, via.path, _filters(via.by, body), via.match, body, deadline)
    except ClinikoForbidden as exc:
        raise ClinikoForbidden(
            f"GET {via.path}: this API key's Cliniko user may not list {via.path.strip('/')} (Cliniko allows that "
            "to administrators); use a key of an administrator or of the user being looked up, or look up by id",
            status=exc.status,
            method="GET",
            path=via.path,
        ) from None


def _find(op: Find, api: ClinikoApi, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    params = _filters(op.by, body, op.match)
    if op.via is not None and op.via.fields & set(body):
        linked = _linked(op.via, api, body, deadline)
        if linked is None:
            return _nothing(op)
        if "id" not in linked:
            raise ClinikoBadResponse(f"a record of {op.via.path} came without an id")
        params.append(q(op.via.link, "=", linked["id"]))
    if op.every_match:
        return _every_match(op, api, params, body, deadline)
    if op.sort:
        record = _best(op, op.sort, api, params, body, deadline)
    else:
        record = _first(api, op.path, params, op.match, body, deadline)
    if record is None and op.inactive:
        record = _first(api, op.inactive, params, op.match, body, deadline)
        return _nothing(op) if record is None else _found(record, inactive=True)
    if record is None:
        return _nothing(op)
    return _found(record, **({"inactive": False} if op.inactive else {}))


def _best(
    op: Find, order: str, api: ClinikoApi, params: list[tuple[str, str]], body: Mapping[str, Any], deadline: float
) -> dict[str, Any] | None:
    """The first match in `order` (`field` or `field:desc`), decided here over every page: Cliniko documents
    `sort` but not which columns each endpoint honours, so its order is not trusted."""
    name, _, direction = order.partition(":")
    descending = direction == "desc"
    best: dict[str, Any] | None = None
    best_key: tuple[str, int] = ("", 0)
    for record in api.iter_records(op.path, params=[*params, ("per_page", str(PAGE_SIZE))], deadline=deadline):
        if not _matches(record, op.match, body):
            continue
        record_id = str(record.get("id") or "")
        # Timestamps are UTC `Z` strings, which sort as times; equal ones go to the higher id (the later record).
        key = (str(record.get(name) or ""), int(record_id) if record_id.isdigit() else 0)
        if best is None or (key > best_key if descending else key < best_key):
            best, best_key = record, key
    return best


def _nothing(op: Find) -> dict[str, Any]:
    return {"found": False, "record": None, **({"matches": 0, "ids": []} if op.every_match else {})}


def _every_match(
    op: Find, api: ClinikoApi, params: list[tuple[str, str]], body: Mapping[str, Any], deadline: float
) -> dict[str, Any]:
    """Every record matching the input (Cliniko narrows, the connector decides); `record` is the most recently
    updated visible one, else the most recently updated hidden one (only asked for with `include_archived`)."""
    include_hidden = bool(body.get("include_archived"))
    if include_hidden:
        params = [*params, *_hidden_too(op.path)]
    matches = [
        record
        for record in api.iter_records(op.path, params=[*params, ("per_page", str(PAGE_SIZE))], deadline=deadline)
        # Hidden records are dropped here too unless asked for: never trust that a list left them out.
        if _matches(record, op.match, body) and (include_hidden or not is_hidden(record))
    ]
    if not matches:
        return _nothing(op)
    if any(not str(r.get("id") or "").isdigit() for r in matches):
        raise ClinikoBadResponse(f"a record of {op.path} came without an id")
    # Visible before hidden, then newest `updated_at` (UTC `Z` strings sort as times), then highest id.
    matches.sort(key=lambda r: (not is_hidden(r), str(r.get("updated_at") or ""), int(r["id"])), reverse=True)
    return _found(matches[0], matches=len(matches), ids=[str(r["id"]) for r in matches[:MAX_IDS]])


def _list_ids(op: ListIds, api: ClinikoApi, values: dict[str, Any], deadline: float) -> dict[str, Any]:
    limit = int(values[op.limit_field])
    params = [*_filters(op.by, {k: v for k, v in values.items() if v is not None}), ("per_page", str(PAGE_SIZE))]
    ids: list[str] = []
    for record in api.iter_records(op.path, params=params, deadline=deadline):
        if len(ids) == limit:
            return {"ids": ids, "truncated": True}
        ids.append(str(record["id"]))
    return {"ids": ids, "truncated": False}


@dataclass
class ActionRunner:
    """The action use-case. Permanent failures are results (published as `Cliniko Action Failed`, not retried);
    transient ones raise, so Lambda's retries and the failure destination take over."""

    action: Action
    connections: ConnectionStore
    api_for: Callable[[Connection], ClinikoApi]
    publisher: EventPublisher
    event_source: str
    time_budget_seconds: float = 30.0
    monotonic: Callable[[], float] = time.monotonic

    def run(self, request: ActionRequest) -> dict[str, Any]:
        key = request.key_for(self.action.name)
        labels = {"action": self.action.name}
        try:
            payload = validate_input(self.action, request.input)
            connection = self.connections.get(request.connection_id)
            if not connection.enabled:
                raise ConnectionDisabled(f"connection {connection.id} is disabled")
            if self.action.name not in connection.allowed_actions:
                raise ActionNotAllowed(
                    f"connection {connection.id} does not allow {self.action.name} "
                    f"(cliniko-connector connections allow {connection.id} {self.action.name})"
                )
            deadline = self.monotonic() + self.time_budget_seconds
            result = execute(self.action, self.api_for(connection), payload, deadline)
        except ConnectorError as exc:
            if exc.retryable:
                count("ActionTransientFailures", labels=labels)
                raise
            return self.refuse(request, exc)
        outcome = ActionOutcomeDetail(
            action=self.action.name,
            connection_id=request.connection_id,
            idempotency_key=key,
            event_key=request.event_key,
            status="succeeded",
            result=result,
        )
        self._publish(ACTION_SUCCEEDED, outcome)
        count("ActionsSucceeded", labels=labels)
        logger.info("action succeeded", extra={"action": self.action.name, "connection_id": request.connection_id})
        return outcome.model_dump(mode="json")

    def refuse(self, request: ActionRequest, exc: ConnectorError) -> dict[str, Any]:
        """A permanent failure: counted, logged (type only), published as `Cliniko Action Failed`, returned."""
        count("ActionsFailed", labels={"action": self.action.name}, by="action")
        logger.warning(
            "action failed",
            extra={"action": self.action.name, "error": exc.error_type, "connection_id": request.connection_id},
        )
        outcome = ActionOutcomeDetail(
            action=self.action.name,
            connection_id=request.connection_id,
            idempotency_key=request.key_for(self.action.name),
            event_key=request.event_key,
            status="failed",
            error=exc.to_dict(),
        )
        self._publish(ACTION_FAILED, outcome)
        return outcome.model_dump(mode="json")

    def _publish(self, detail_type: str, outcome: ActionOutcomeDetail) -> None:
        self.publisher.publish(
            [BusEvent(source=self.event_source, detail_type=detail_type, detail=outcome.model_dump(mode="json"))]
        )
