"""The bus contract: one model per event type, shared by the publisher (poller, actions) and consumers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cliniko_connector.catalog.triggers import TRIGGERS, Trigger
from cliniko_connector.errors import InputValidationError, UntrustedSource
from cliniko_connector.models import CONNECTION_ID_PATTERN, PayloadMode

SCHEMA_VERSION = 1
ACTION_REQUESTED = "Cliniko Action Requested"
ACTION_SUCCEEDED = "Cliniko Action Succeeded"
ACTION_FAILED = "Cliniko Action Failed"


class TriggerEventDetail(BaseModel):
    """`detail` of every trigger event (`Patient Created`, `Individual Appointment Cancelled`, …)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: Literal[1] = Field(
        default=1, description="Version of this `detail`'s shape; a change that breaks consumers raises it."
    )
    trigger: str = Field(description="Catalog name of the trigger, e.g. `patient.created`.")
    connection_id: str = Field(description="The connection (Cliniko account) the record belongs to.")
    resource: str = Field(description="Cliniko resource, e.g. `patients`.")
    id: str = Field(description="The record's Cliniko id, always a string.")
    occurred_at: str = Field(
        description="When the change happened (UTC `Z`): the record's `updated_at`, or the "
        "transition's own timestamp such as `cancelled_at`."
    )
    event_key: str = Field(
        description="Deterministic key of this change; the same change always has the same key, "
        "so consumers can deduplicate on it."
    )
    changed_fields: list[str] | None = Field(
        default=None, description="Top-level fields that changed (updates); null when unknown or not an update."
    )
    previous: dict[str, Any] | None = Field(
        default=None,
        description="Previous values of the scheduling fields (rescheduled events), or the last known ones of a "
        "record that is gone (removed events).",
    )
    payload_mode: PayloadMode = Field(description="`full`: `data` is the record; `minimal`: no record data.")
    truncated: bool = Field(default=False, description="True when the record was too large for one event.")
    data: dict[str, Any] | None = Field(default=None, description="The record as Cliniko returned it (full mode).")


# Keys are printable ASCII without spaces: they are logged (as the correlation id), stored and hashed.
KEY_PATTERN = r"^[!-~]+$"
# Deeper than any action's input (custom fields nest 4 levels) and than DynamoDB stores (32): deeper input is
# refused as input, before it can make hashing, storing or publishing the outcome fail and be retried.
MAX_INPUT_DEPTH = 32


def nesting_depth(value: Any, limit: int) -> int:
    """How many levels of objects and arrays `value` nests, counted without recursion and at most to `limit + 1`."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


class ActionRequest(BaseModel):
    """What an action Lambda accepts, bare or as the `detail` of an EventBridge event. The caller chooses every
    string here, so each has a form and a length limit (they are logged, stored and put in metric dimensions)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    connection_id: str = Field(pattern=CONNECTION_ID_PATTERN)
    input: dict[str, Any]
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=512, pattern=KEY_PATTERN)
    event_key: str | None = Field(
        default=None,
        max_length=512,
        pattern=KEY_PATTERN,
        description="The triggering event's key, when there was one.",
    )
    action: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z_]+\.[a-z_]+$",
        description="Only with `Cliniko Action Requested` events.",
    )

    @field_validator("input", mode="before")
    @classmethod
    def _not_too_deep(cls, value: Any) -> Any:
        if nesting_depth(value, MAX_INPUT_DEPTH) > MAX_INPUT_DEPTH:
            raise ValueError(f"nested deeper than {MAX_INPUT_DEPTH} levels")
        return value

    def key_for(self, action_name: str) -> str:
        """The idempotency key: given, else the triggering change's key with the action, else a hash of the request."""
        if self.idempotency_key:
            return f"{action_name}#{self.idempotency_key}"
        if self.event_key:
            return f"{action_name}#event#{self.event_key}"
        canonical = json.dumps({"c": self.connection_id, "i": self.input}, sort_keys=True, separators=(",", ":"))
        return f"{action_name}#sha256#{hashlib.sha256(canonical.encode()).hexdigest()}"


class ActionOutcomeDetail(BaseModel):
    """`detail` of `Cliniko Action Succeeded` / `Cliniko Action Failed`, so automations can chain."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: Literal[1] = 1
    action: str
    connection_id: str
    idempotency_key: str
    event_key: str | None = None
    status: Literal["succeeded", "failed"]
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def parse_action_event(event: Any, accepted_sources: Collection[str] | None = None) -> ActionRequest:
    """Accept a full EventBridge event (its `detail` is the request) or the request bare
    (what an InputTransformer or a direct invoke delivers). Raises `InputValidationError`; `UntrustedSource`
    for a full event whose `source` is not in `accepted_sources` (when given), whatever delivered it."""
    if not isinstance(event, dict):
        raise InputValidationError("the action event must be a JSON object")
    if accepted_sources is not None and "detail-type" in event and event.get("source") not in accepted_sources:
        raise UntrustedSource("the event's source is not one this stack accepts action requests from")
    body = event.get("detail") if "detail-type" in event and "detail" in event else event
    if isinstance(body, dict) and "detail" in body and "detail-type" not in event and set(body) == {"detail"}:
        body = body["detail"]
    try:
        return ActionRequest.model_validate(body)
    except ValidationError as exc:
        raise InputValidationError("the action request is malformed", _field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> dict[str, str]:
    # Pydantic's `input` would echo the caller's values (patient data): keep only locations and messages.
    return {".".join(str(p) for p in err["loc"]) or "request": err["msg"] for err in exc.errors()}


def field_errors(exc: ValidationError) -> dict[str, str]:
    return _field_errors(exc)


def detail_type(trigger: str | Trigger) -> str:
    return (TRIGGERS[trigger] if isinstance(trigger, str) else trigger).detail_type


# --------------------------------------------------------------------------- scheduled actions

SCHEDULED_ACTION_DUE = "Scheduled Action Due"
SCHEDULED_ACTION_MOVED = "Scheduled Action Moved"
SCHEDULED_ACTION_DROPPED = "Scheduled Action Dropped"
AUTOMATION_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"
WAITING_KINDS = ("action", "webhook", "email", "sms", "queue")
DROP_REASONS = ("cancelled", "archived", "deleted", "removed", "past", "no_time")
MAX_WAIT_SECONDS = 366 * 86400


class Wait(BaseModel):
    """When a waiting target runs, as its automation file says (`at`), compiled to seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    before: str | None = Field(
        default=None, pattern=r"^\$\.detail\.[A-Za-z0-9_.\[\]-]{1,256}$", description="A timestamp's path."
    )
    offset_seconds: int = Field(default=0, ge=0, le=MAX_WAIT_SECONDS)
    after_seconds: int = Field(default=0, ge=0, le=MAX_WAIT_SECONDS)


class Delivery(BaseModel):
    """What the target gets when the time comes: the JSON `request` (action, webhook, queue) or the `message`
    text (email, SMS), rendered from the latest trigger event of the record."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: Literal["action", "webhook", "email", "sms", "queue"]
    request: Any = None
    message: str | None = Field(default=None, max_length=100_000)


class ScheduleRequest(BaseModel):
    """What an automation's waiting target sends the scheduling function: which automation and target, when, what
    to deliver, and the trigger event itself (the function reads the record's id, times and state from it).
    `follow` requests come from the record's later events: they move or drop a pending schedule, never make one."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    automation: str = Field(pattern=AUTOMATION_NAME_PATTERN)
    target: int = Field(ge=1, le=5, description="The target's position in the automation's `do` (1-based).")
    follow: bool = False
    at: Wait
    deliver: Delivery
    event: dict[str, Any] = Field(description="The trigger event, as EventBridge delivered it to the rule.")


class ScheduledActionDueDetail(BaseModel):
    """`detail` of `Scheduled Action Due`: what a one-time schedule puts on the bus when its time comes; the
    automation's due rule routes it to the target."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: Literal[1] = 1
    automation: str
    target: int
    schedule: str = Field(description="The schedule's name in the stack's schedule group.")
    connection_id: str
    resource: str
    record_id: str
    due_at: str = Field(description="When it was due (UTC `Z`).")
    kind: Literal["action", "webhook", "email", "sms", "queue"]
    request: Any = Field(default=None, description="The action request, webhook body or queue message.")
    message: str | None = Field(default=None, description="The email or SMS text.")


class ScheduledActionChangeDetail(BaseModel):
    """What `Scheduled Action Moved` and `Scheduled Action Dropped` share: which pending action, and the change
    of the record that moved or dropped it. Never the delivery itself (it may hold patient data)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: Literal[1] = 1
    automation: str
    target: int
    schedule: str
    connection_id: str
    resource: str
    record_id: str
    trigger: str = Field(description="The trigger of the event that caused the change.")
    event_key: str = Field(description="That event's key.")
    record_updated_at: str = Field(description="The record's `updated_at` the change was decided from.")
    previous_due_at: str | None = Field(default=None, description="When it was due before (UTC `Z`).")


class ScheduledActionMovedDetail(ScheduledActionChangeDetail):
    """`detail` of `Scheduled Action Moved`: the record's time changed, so the pending action now runs at `due_at`."""

    due_at: str = Field(description="When it is due now (UTC `Z`).")


class ScheduledActionDroppedDetail(ScheduledActionChangeDetail):
    """`detail` of `Scheduled Action Dropped`: the pending action will not run (or was never scheduled)."""

    reason: Literal["cancelled", "archived", "deleted", "removed", "past", "no_time"] = Field(
        description="`cancelled`, `archived`, `deleted`, `removed`: the record's state; `past`: its time has "
        "already passed; `no_time`: the event carries no time at the `before` path."
    )
