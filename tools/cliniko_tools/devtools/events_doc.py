"""The event contract as documents: a JSON schema per detail-type, `docs/events.md`, and sample events.

Generated from `TriggerEventDetail`, `ActionOutcomeDetail` and the trigger catalog, so the docs, the
schemas and the code can't drift (a unit test regenerates them and compares).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cliniko_connector.catalog.triggers import (
    STREAMS,
    UNPROMISED_BUMPS,
    BecameSet,
    BecameValue,
    Changed,
    Created,
    Removed,
    Trigger,
)
from cliniko_connector.eventmodels import (
    ACTION_FAILED,
    ACTION_REQUESTED,
    ACTION_SUCCEEDED,
    SCHEDULED_ACTION_DROPPED,
    SCHEDULED_ACTION_DUE,
    SCHEDULED_ACTION_MOVED,
    ActionOutcomeDetail,
    ActionRequest,
    ScheduledActionDroppedDetail,
    ScheduledActionDueDetail,
    ScheduledActionMovedDetail,
    TriggerEventDetail,
)
from cliniko_connector.models import PayloadMode
from cliniko_tools.devtools import resource_data

SAMPLE_CONNECTION = "demo"
SAMPLE_TIME = "2026-11-26T09:30:00Z"


def slug(detail_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", detail_type.lower()).strip("-")


def trigger_schema(trigger: Trigger) -> dict[str, Any]:
    schema = TriggerEventDetail.model_json_schema()
    schema["title"] = f"{trigger.detail_type} detail"
    schema["description"] = trigger.description
    props = schema["properties"]
    props["trigger"] = {**props["trigger"], "const": trigger.name}
    props["resource"] = {**props["resource"], "const": trigger.resource}
    # `data` is typed per resource from the official spec, so the registry's code bindings have its fields.
    title = resource_data.data_title(trigger.resource)
    schema.setdefault("$defs", {})[title] = resource_data.data_schema(trigger.resource)
    props["data"] = {**props["data"], "anyOf": [{"$ref": f"#/$defs/{title}"}, {"type": "null"}]}
    schema["x-detail-type"] = trigger.detail_type
    return schema


def outcome_schema(detail_type: str) -> dict[str, Any]:
    schema = ActionOutcomeDetail.model_json_schema()
    schema["title"] = f"{detail_type} detail"
    schema["properties"]["status"] = {
        **schema["properties"]["status"],
        "const": "succeeded" if detail_type == ACTION_SUCCEEDED else "failed",
    }
    schema["x-detail-type"] = detail_type
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every detail-type this project publishes or accepts, with its `detail` schema."""
    out = {t.detail_type: trigger_schema(t) for s in STREAMS for t in s.triggers}
    out[ACTION_SUCCEEDED] = outcome_schema(ACTION_SUCCEEDED)
    out[ACTION_FAILED] = outcome_schema(ACTION_FAILED)
    requested = ActionRequest.model_json_schema()
    requested["x-detail-type"] = ACTION_REQUESTED
    out[ACTION_REQUESTED] = requested
    for detail_type, model in (
        (SCHEDULED_ACTION_DUE, ScheduledActionDueDetail),
        (SCHEDULED_ACTION_MOVED, ScheduledActionMovedDetail),
        (SCHEDULED_ACTION_DROPPED, ScheduledActionDroppedDetail),
    ):
        schema = model.model_json_schema()
        schema["x-detail-type"] = detail_type
        out[detail_type] = schema
    return out


# The fields an `.updated` sample names as changed, per resource (each one in the sample's `data`).
_CHANGED: dict[str, list[str]] = {
    "patients": ["email", "patient_phone_numbers"],
    "contacts": ["phone_numbers"],
    "individual_appointments": ["notes"],
    "group_appointments": ["max_attendees"],
    "availability_blocks": ["ends_at"],
    "unavailable_blocks": ["ends_at", "notes"],
    "invoices": ["notes"],
    "products": ["price_ex_tax"],
    "practitioners": ["designation"],
    "users": ["role"],
    "businesses": ["website_address"],
}
_RESCHEDULED_FROM = {
    "starts_at": "2026-12-01T09:00:00Z",
    "ends_at": "2026-12-01T09:30:00Z",
    "practitioner": resource_data.SAMPLE_IDS["practitioners"],
}


def _linked_id(value: Any) -> Any:
    if isinstance(value, dict):
        return str(value.get("links", {}).get("self", "")).rsplit("/", 1)[-1] or None
    return value


def sample_detail_parts(trigger: Trigger) -> tuple[dict[str, Any] | None, list[str] | None, dict[str, Any] | None]:
    """`data`, `changed_fields` and `previous` of a sample `trigger` event: a record built from the spec's
    documented example (obviously fictitious), in the state the trigger describes."""
    t = trigger.transition
    record = resource_data.sample_record(trigger.resource, created=isinstance(t, Created))
    changed: list[str] | None = None
    previous: dict[str, Any] | None = None
    if isinstance(t, BecameSet):
        record[t.field] = SAMPLE_TIME
        if t.field == "cancelled_at":
            record.update(cancellation_reason=50, cancellation_reason_description="Other")
        if t.field == "finalized_at":
            record["draft"] = False
    elif isinstance(t, BecameValue):
        record[t.field] = t.value
        if t.field == "status" and "status_description" in record:
            record["status_description"] = "Paid"
    elif isinstance(t, Changed):
        previous = {f: _RESCHEDULED_FROM.get(f, _linked_id(record.get(f))) for f in t.fields}
        changed = sorted(f for f in t.fields if previous[f] != _linked_id(record.get(f)))
    elif isinstance(t, Removed):
        return None, None, {f: _linked_id(record.get(f)) for f in t.fields}
    elif trigger.name.endswith(".updated"):
        # By default the record's notes, else its name, else its last field: one the record has.
        default = next((f for f in ("notes", "name", "content") if f in record), list(record)[-1])
        changed = _CHANGED.get(trigger.resource, [default])
    return record, changed, previous


def sample_trigger_event(trigger: Trigger) -> dict[str, Any]:
    """A full EventBridge event as the poller publishes it, for `sam local invoke` and routing tests."""
    data, changed, previous = sample_detail_parts(trigger)
    record_id = resource_data.SAMPLE_IDS[trigger.resource]
    detail = TriggerEventDetail(
        trigger=trigger.name,
        connection_id=SAMPLE_CONNECTION,
        resource=trigger.resource,
        id=record_id,
        occurred_at=SAMPLE_TIME,
        event_key=f"{SAMPLE_CONNECTION}:{trigger.resource}:{record_id}:{trigger.name}:{SAMPLE_TIME}",
        changed_fields=changed,
        previous=previous,
        payload_mode=PayloadMode.FULL,
        data=data,
    )
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": trigger.detail_type,
        "source": "cliniko",
        "account": "123456789012",
        "time": SAMPLE_TIME,
        "region": "us-east-1",
        "resources": [],
        "detail": detail.model_dump(mode="json"),
    }


def delay_section() -> list[str]:
    """Worst-case delay per trigger, when Cliniko moves a record's `updated_at` only as the spec promises."""
    lines = [
        "## Worst-case delay per trigger",
        "",
        "A stream polls every connection's `poll_interval_seconds` (default 60) and reads every record whose",
        "`updated_at` moved since its cursor, less an overlap of two minutes. The spec promises no more than",
        "that: a record whose fields change without its `updated_at` moving (a parent whose derived fields follow",
        "a child) is read again only by the stream's reconciliation walk, every `ReconcileEveryHours` (stack",
        "parameter, default 24), or by a poll within the overlap of its last move. The simulator's strict mode",
        "(`cliniko-connector simulator --strict`) moves no parent, and a test shows each trigger below firing",
        "within the bound given.",
        "",
        "Nor is the order of a list promised (`sort` is documented, not which columns each endpoint sorts by).",
        "The poller checks every page's order; a page out of order does not move the stream: it is reported",
        "(`ClinikoSortNotHonoured`: metric, alarm, `status`) and its window is read again without relying on",
        "order, which costs more requests but not the bound.",
        "",
        "| trigger | worst-case delay |",
        "| --- | --- |",
    ]
    for stream in STREAMS:
        for t in stream.triggers:
            unpromised = UNPROMISED_BUMPS.get(t.name)
            if isinstance(t.transition, Removed):
                delay = "no poll sees it: the stream's next reconciliation walk, `ReconcileEveryHours` (default 24 h)"
            elif unpromised is None:
                delay = "one poll interval after the change, once the stream has caught up"
            else:
                delay = (
                    f"one poll interval; when {unpromised} and Cliniko does not move its `updated_at`: the "
                    "stream's next reconciliation walk, `ReconcileEveryHours` (default 24 h)"
                )
            lines.append(f"| `{t.name}` | {delay} |")
    return lines


def render_events_doc() -> str:
    lines = [
        "# Events",
        "",
        "<!-- Generated by `make template` from the catalog and the event models; do not edit by hand. -->",
        "",
        "Every event the connector puts on its EventBridge bus, and the one it accepts. Trigger events have",
        "`source` = the stack's `EventSource` parameter (default `cliniko`) and a `detail-type` per trigger.",
        "Each `detail` has a JSON schema in [`docs/schemas/`](schemas/) (also registered in the stack's schema",
        "registry) and a sample event in `events/triggers/`.",
        "",
        "In `full` payload mode `data` is the record as Cliniko returned it. Its schema per resource comes from the",
        "official OpenAPI spec (fields Cliniko adds later are allowed) and is embedded in each trigger's schema, so",
        "the registry's code bindings type it; on its own it is in [`docs/schemas/data/`](schemas/data/):",
        "",
        *[
            f"- `{resource}`: [{resource_data.data_title(resource)}](schemas/data/{resource}.json)"
            for resource in resource_data.stream_resources()
        ],
        "",
        "The sample events' `data` are built from the spec's documented examples; every personal detail in them",
        "is fictitious (`example.com` addresses, ACMA's fictional 0491 570 mobile numbers, TEST-NET addresses).",
        "",
        "## Common fields of trigger events",
        "",
        "| field | meaning |",
        "| --- | --- |",
    ]
    for name, field in TriggerEventDetail.model_fields.items():
        lines.append(f"| `{name}` | {(field.description or '').replace('|', '/')} |")
    lines += [
        "",
        "`event_key` is deterministic: the same change always carries the same key, so a consumer that",
        "remembers the keys it processed never acts twice. Delivery is at least once: a duplicate can only",
        "follow a poll that stopped (a crash, a timeout) between publishing a page and checkpointing it, or a",
        "PutEvents call that failed without an answer, and it carries the same key. After a PutEvents run",
        "that failed in part, the retry sends only the events the bus did not accept.",
        "",
        "Such a consumer also misses nothing. Before a page is published, the stream keeps each record's new",
        "version as *pending* (hashes, like every snapshot); once the bus has accepted the page it becomes the",
        "record's settled version. A poll that finds pending versions sends their events again, under the same",
        "keys, then classifies what changed since against the newest of them. So a record created, published,",
        "and edited before the retry reaches the consumer as `created` then `updated` (an appointment moved in",
        "that window as `rescheduled`, with the times first published as `previous`). A resent event carries",
        "the record as it is at the resend. Up to 8 pending versions are kept per record (eight failed polls,",
        "each of which saw it change); beyond that the oldest are dropped, and only a lifecycle event of a",
        "dropped version could then come twice under different keys.",
        "",
        "## Trigger events",
        "",
        "| detail-type | trigger | resource | when |",
        "| --- | --- | --- | --- |",
    ]
    for stream in STREAMS:
        for t in stream.triggers:
            lines.append(
                f"| `{t.detail_type}` | `{t.name}` | `{t.resource}` | {t.description} "
                f"([schema](schemas/{slug(t.detail_type)}.json)) |"
            )
    lines += [
        "",
        "Cliniko's lists hide archived, cancelled and deleted records unless asked for them. Each stream asks",
        "for every such kind its endpoint can filter on (the official spec), so a record doesn't leave its",
        "stream unseen:",
        "",
        "| resource | list asks for |",
        "| --- | --- |",
    ]
    for stream in STREAMS:
        asked = ", ".join(f"`q[]={f}`" for f in stream.include_filters) or "nothing hidden (none of these fields)"
        lines.append(f"| `{stream.resource}` | {asked} |")
    lines += [
        "",
        "Cliniko's `DELETE` archives (the `.archived` triggers), and a record given a legacy `deleted_at` arrives",
        "as `.updated` with `deleted_at` among its `changed_fields`. Availability blocks are the exception: they",
        "have neither field, and one deleted in Cliniko simply stops being listed. No poll can see that; the",
        "reconciliation walk can, and reports it as `availability_block.removed` (`data` null, `previous` = its",
        "last known times, practitioner and business) up to `ReconcileEveryHours` later, for blocks the stream has",
        "seen (see [operations](operations.md#reconciliation)). For breaks, use unavailable blocks: archiving one",
        "is `unavailable_block.archived`.",
        "",
        *delay_section(),
        "",
        "## Action events",
        "",
        f"- `{ACTION_REQUESTED}` (accepted): ask an action Lambda to run; `detail` = "
        "`{action, connection_id, input, idempotency_key?, event_key?}`; `source` = the stack's "
        "`ActionRequestSource` (default `cliniko-connector.automation`) or `EventSource`, any other reaches no "
        "action ([security](security.md#who-may-make-the-connector-act)). An inbound hook's accepted request is one "
        "of these, under `ActionRequestSource`, its `idempotency_key` `hook/<hook>:<key>` when the caller gave one "
        f"([cli](cli.md#hooks)). ([schema](schemas/{slug(ACTION_REQUESTED)}.json))",
        f"- `{ACTION_SUCCEEDED}` (published): `detail.result` holds what Cliniko returned. "
        f"([schema](schemas/{slug(ACTION_SUCCEEDED)}.json))",
        f"- `{ACTION_FAILED}` (published): a permanent failure; `detail.error` = `{{type, message, status, "
        f"field_errors}}`. ([schema](schemas/{slug(ACTION_FAILED)}.json))",
        "",
        "## Scheduled action events",
        "",
        "An automation target with `at` waits ([automations](automations.md#targets-that-wait)): the scheduling "
        "function keeps one one-time EventBridge Scheduler schedule per (automation, target, record). All three "
        "are published under the stack's `EventSource`; none of them carries the record's data.",
        "",
        f"- `{SCHEDULED_ACTION_DUE}` (published by the schedule when its time comes): `detail` = "
        "`{automation, target, schedule, connection_id, resource, record_id, due_at, kind, request?, message?}`; "
        "the automation's due rule delivers `request` (action, webhook, queue) or `message` (email, SMS). "
        f"([schema](schemas/{slug(SCHEDULED_ACTION_DUE)}.json))",
        f"- `{SCHEDULED_ACTION_MOVED}` (published): a later event of the record changed its time; "
        "`detail.due_at` is the new time, `previous_due_at` the old one, `trigger`, `event_key` and "
        "`record_updated_at` say which change of the record moved it. "
        f"([schema](schemas/{slug(SCHEDULED_ACTION_MOVED)}.json))",
        f"- `{SCHEDULED_ACTION_DROPPED}` (published): it will not run; `detail.reason` is `cancelled`, "
        "`archived`, `deleted`, `removed` (the record's state), `past` (its time had already passed: a reminder "
        "is never sent late) or `no_time` (the event has no time at the `before` path, e.g. minimal payloads). "
        f"([schema](schemas/{slug(SCHEDULED_ACTION_DROPPED)}.json))",
        "",
    ]
    return "\n".join(lines)


def generated_files() -> dict[str, str]:
    """Relative path → content of every generated contract file."""
    files: dict[str, str] = {"docs/events.md": render_events_doc()}
    for detail_type, schema in all_schemas().items():
        files[f"docs/schemas/{slug(detail_type)}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    for resource in resource_data.stream_resources():
        schema = resource_data.data_schema(resource)
        files[f"docs/schemas/data/{resource}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    for stream in STREAMS:
        for t in stream.triggers:
            files[f"events/triggers/{t.name}.json"] = json.dumps(sample_trigger_event(t), indent=2) + "\n"
    return files


def write(root: Path) -> list[str]:
    """Write the generated files; return those whose content changed."""
    changed = []
    for rel, content in generated_files().items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            changed.append(rel)
    return changed
