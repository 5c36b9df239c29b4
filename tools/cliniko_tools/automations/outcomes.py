"""Automations that chain on an action's success: `when.trigger: <action>.succeeded`.

An automation whose trigger is `appointment.reminder_details.succeeded` matches the `Cliniko Action Succeeded`
events of that action (`detail.action`), on the same bus and source as the triggers. Its paths are the outcome's
(`$.detail.result.<key>`, `<result.<key>>` in text; the keys are the action's documented result keys). Such a
target cannot wait (`at`): the outcome is not a record with a time of its own to follow.
"""

from __future__ import annotations

from typing import Any

from cliniko_connector.catalog.actions import ACTIONS, Action
from cliniko_connector.eventmodels import ACTION_SUCCEEDED, ActionOutcomeDetail

SUFFIX = ".succeeded"
SAMPLE_CONNECTION = "demo"
SAMPLE_TIME = "2026-11-30T09:00:00Z"
# What a sample outcome carries, for `automations validate` and `automations test --sample`; other actions' samples
# carry their result keys as null.
SAMPLE_RESULTS: dict[str, dict[str, Any]] = {
    "appointment.reminder_details": {
        "found": True,
        "archived": False,
        "cancelled": False,
        "deleted": False,
        "id": "1000000000000000601",
        "patient_name": "Jane Citizen",
        "practitioner_name": "Dr Jordan Lee",
        "business_name": "Harbourside Physio",
        "starts_at": "2026-11-30T22:00:00Z",
        "time_zone": "Australia/Sydney",
        "time_zone_from": "business",
        "local_starts_at": "2026-12-01T09:00:00+11:00",
        "local_date": "2026-12-01",
        "local_time": "09:00",
        "local_text": "Tuesday 1 December 2026 at 09:00 (AEDT)",
    }
}

# The sample's keys: those of the recipe that runs the action 24 h before (automations/recipes), so its
# chained recipe's `where` on the key matches the sample.
_REMINDER_EVENT = "demo:individual_appointments:1000000000000000601:individual_appointment.created:2026-11-26T09:30:00Z"
SAMPLE_KEYS: dict[str, tuple[str, str]] = {
    "appointment.reminder_details": (
        f"appointment.reminder_details#appointment-reminder-details/1:{_REMINDER_EVENT}",
        _REMINDER_EVENT,
    )
}


def outcome_action(trigger: str) -> Action | None:
    """The action whose successes `trigger` names (`<action>.succeeded`), else None."""
    return ACTIONS.get(trigger.removesuffix(SUFFIX)) if trigger.endswith(SUFFIX) else None


def outcome_triggers() -> list[str]:
    return [f"{name}{SUFFIX}" for name in sorted(ACTIONS)]


def outcome_detail_schema(action: Action) -> dict[str, Any]:
    """`detail` of the action's `Cliniko Action Succeeded`: `result` holds exactly its documented keys."""
    from cliniko_tools.devtools.events_doc import outcome_schema

    schema = outcome_schema(ACTION_SUCCEEDED)
    props = schema["properties"]
    props["action"] = {**props["action"], "const": action.name}
    props["result"] = {
        "type": "object",
        "properties": {key: {} for key in action.operation.result},
        "additionalProperties": False,
    }
    props.pop("error", None)
    return schema


def sample_outcome_event(action: Action) -> dict[str, Any]:
    result = SAMPLE_RESULTS.get(action.name, dict.fromkeys(action.operation.result))
    key, event_key = SAMPLE_KEYS.get(action.name, (f"{action.name}#sample", f"{SAMPLE_CONNECTION}:sample"))
    detail = ActionOutcomeDetail(
        action=action.name,
        connection_id=SAMPLE_CONNECTION,
        idempotency_key=key,
        event_key=event_key,
        status="succeeded",
        result=result,
    )
    return {
        "version": "0",
        "id": "0d3c6e0c-1b5e-4a8e-9a53-3c1f3f0b7a10",
        "detail-type": ACTION_SUCCEEDED,
        "source": "cliniko",
        "account": "123456789012",
        "time": SAMPLE_TIME,
        "region": "us-east-1",
        "resources": [],
        "detail": detail.model_dump(mode="json"),
    }
