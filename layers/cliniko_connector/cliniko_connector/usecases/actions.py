"""Run one catalog action for one request: validate, call Cliniko once, report the outcome on the bus."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from cliniko_connector.catalog.actions import Action, Create, Get, Update
from cliniko_connector.errors import (
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
from cliniko_connector.ports import ClinikoApi, ConnectionStore, EventPublisher


def validate_input(action: Action, raw: dict[str, Any]) -> BaseModel:
    """The action's input model, or `InputValidationError` with field names and messages (never values)."""
    try:
        return action.input_model.model_validate(raw)
    except ValidationError as exc:
        raise InputValidationError(f"invalid input for {action.name}", field_errors(exc)) from None


def execute(action: Action, api: ClinikoApi, payload: BaseModel, deadline: float) -> dict[str, Any]:
    """Call Cliniko for one validated input. Finds that match nothing return `found: false`."""
    op = action.operation
    body = payload.model_dump(mode="json", exclude_none=True)
    if isinstance(op, Create):
        return {"record": api.request("POST", op.path, json=body, deadline=deadline)}
    if isinstance(op, Update):
        record_id = body.pop("id")
        return {"record": api.request("PATCH", f"{op.path}/{record_id}", json=body, deadline=deadline)}
    if isinstance(op, Get):
        try:
            return {"found": True, "record": api.request("GET", f"{op.path}/{body['id']}", deadline=deadline)}
        except ClinikoNotFound:
            return {"found": False, "record": None}
    raise TypeError(f"unknown operation {op!r}")


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
            count("ActionsFailed", dimensions=labels)
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
        count("ActionsSucceeded", dimensions=labels)
        logger.info("action succeeded", extra={"action": self.action.name, "connection_id": request.connection_id})
        return outcome.model_dump(mode="json")

    def _publish(self, detail_type: str, outcome: ActionOutcomeDetail) -> None:
        self.publisher.publish(
            [BusEvent(source=self.event_source, detail_type=detail_type, detail=outcome.model_dump(mode="json"))]
        )
