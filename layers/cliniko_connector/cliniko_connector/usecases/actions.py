"""Run one catalog action for one request: validate, call Cliniko once, report the outcome on the bus."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from cliniko_connector.adapters.cliniko_http import q
from cliniko_connector.catalog.actions import (
    Action,
    Archive,
    Cancel,
    Create,
    Find,
    Get,
    ListIds,
    Match,
    Unarchive,
    Update,
    filter_of,
)
from cliniko_connector.errors import (
    ClinikoBadResponse,
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

PAGE_SIZE = 100


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
    if isinstance(op, Cancel):
        record_id = body.pop("id")
        api.request("PATCH", f"{op.path}/{record_id}/cancel", json=body, deadline=deadline)
        return {"cancelled": True, "id": record_id}
    if isinstance(op, Get):
        return _get(op, api, body, deadline)
    if isinstance(op, Find):
        if "id" in body:
            return _get(Get(op.path), api, body, deadline)
        return _find(op, api, body, deadline)
    if isinstance(op, ListIds):
        return _list_ids(op, api, payload.model_dump(mode="json", by_alias=True), deadline)
    raise TypeError(f"unknown operation {op!r}")


def _get(op: Get, api: ClinikoApi, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    for kind, path in op.paths(body.get("kind")):
        try:
            record = api.request("GET", f"{path}/{body['id']}", deadline=deadline)
        except ClinikoNotFound:
            continue
        return {"found": True, "record": record, **({"kind": kind} if kind else {})}
    return {"found": False, "record": None}


def _filters(by: Mapping[str, str], body: Mapping[str, Any]) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for input_field, spec in by.items():
        if input_field in body:
            name, operator = filter_of(spec)
            params.append(q(name, operator, body[input_field]))
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


def _find(op: Find, api: ClinikoApi, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    params = _filters(op.by, body)
    if op.via is not None and op.via.fields & set(body):
        linked = _first(api, op.via.path, _filters(op.via.by, body), op.via.match, body, deadline)
        if linked is None:
            return {"found": False, "record": None}
        if "id" not in linked:
            raise ClinikoBadResponse(f"a record of {op.via.path} came without an id")
        params.append(q(op.via.link, "=", linked["id"]))
    if op.sort:
        params.append(("sort", op.sort))
    record = _first(api, op.path, params, op.match, body, deadline)
    return {"found": record is not None, "record": record}


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
            deadline = self.monotonic() + self.time_budget_seconds
            result = execute(self.action, self.api_for(connection), payload, deadline)
        except ConnectorError as exc:
            if exc.retryable:
                count("ActionTransientFailures", dimensions=labels)
                raise
            count("ActionsFailed", dimensions=labels, rollup=True)
            logger.warning(
                "action failed",
                extra={"action": self.action.name, "error": exc.error_type, "connection_id": request.connection_id},
            )
            outcome = ActionOutcomeDetail(
                action=self.action.name,
                connection_id=request.connection_id,
                idempotency_key=key,
                event_key=request.event_key,
                status="failed",
                error=exc.to_dict(),
            )
            self._publish(ACTION_FAILED, outcome)
            return outcome.model_dump(mode="json")
        outcome = ActionOutcomeDetail(
            action=self.action.name,
            connection_id=request.connection_id,
            idempotency_key=key,
            event_key=request.event_key,
            status="succeeded",
            result=result,
        )
        self._publish(ACTION_SUCCEEDED, outcome)
        count("ActionsSucceeded", dimensions=labels, rollup=True)
        logger.info("action succeeded", extra={"action": self.action.name, "connection_id": request.connection_id})
        return outcome.model_dump(mode="json")

    def _publish(self, detail_type: str, outcome: ActionOutcomeDetail) -> None:
        self.publisher.publish(
            [BusEvent(source=self.event_source, detail_type=detail_type, detail=outcome.model_dump(mode="json"))]
        )
