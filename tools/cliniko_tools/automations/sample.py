"""`triggers sample`: the event a trigger would publish for the newest matching record of a connection.

Reads from Cliniko (newest first) and classifies each record with the poller's own code (`classify.transitions`)
until one fires the trigger; nothing is published, no cursor moves and nothing is stored. What a single read
can't know is said, not invented: an `.updated` sample names no changed fields (`changed_fields` null), a
rescheduled sample's `previous` values are unknown (null), and a removed record can't be read at all.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cliniko_connector.catalog.triggers import TRIGGERS, Changed, Removed, Trigger, Updated, stream_for_trigger
from cliniko_connector.cliniko_query import sort
from cliniko_connector.errors import ConfigurationError, ConnectorError
from cliniko_connector.models import Connection, PayloadMode, RecordSnapshot
from cliniko_connector.ports import ClinikoApi
from cliniko_connector.timeutil import parse_ts, to_z
from cliniko_connector.usecases.classify import Transition, make_snapshot, transitions, trigger_bus_event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_SIZE = 100
MAX_PAGES = 5


class NoSample(ConnectorError):
    """No record of the connection fires the trigger among the newest ones read."""

    error_type = "NoSample"


def _before(
    trigger: Trigger, current: RecordSnapshot, record: dict[str, Any]
) -> tuple[RecordSnapshot | None, datetime]:
    """What to classify the record against (the previous version, the stream's origin) so that one read can
    fire the trigger the way the poller would have when the record changed."""
    t = trigger.transition
    if isinstance(t, Updated):
        # A record first seen after the stream began and created before it: "changed, we can't say how".
        created = record.get("created_at")
        origin = parse_ts(str(created)) + timedelta(microseconds=1) if isinstance(created, str) else EPOCH
        return None, origin
    if isinstance(t, Changed):
        unknown = {**current.watched, **dict.fromkeys(t.fields)}
        return current.model_copy(update={"watched": unknown, "fingerprint": "sample-before"}), EPOCH
    return None, EPOCH


def _newest_first(record: dict[str, Any]) -> tuple[str, int]:
    """Newest change first; within one second, the higher id (Cliniko's ids grow)."""
    rid = str(record.get("id", ""))
    return str(record.get("updated_at", "")), int(rid) if rid.isdigit() else -1


def fired(trigger: Trigger, connection_id: str, record: dict[str, Any]) -> Transition | None:
    """The trigger's transition for this record as the poller's classifier sees it, else None."""
    stream = stream_for_trigger(trigger.name)
    current = make_snapshot(stream, record, b"sample")
    previous, origin = _before(trigger, current, record)
    found = transitions(stream, connection_id, previous, current, origin, b"sample")
    return next((t for t in found if t.trigger.name == trigger.name), None)


def newest_event(
    api: ClinikoApi,
    connection: Connection,
    trigger_name: str,
    *,
    source: str = "cliniko",
    payload_mode: PayloadMode = PayloadMode.FULL,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The EventBridge event `trigger_name` would publish for the connection's newest record that fires it.
    Raises `ConfigurationError` for a trigger that can't be sampled, `NoSample` when no record fires it."""
    trigger = TRIGGERS.get(trigger_name)
    if trigger is None:
        raise ConfigurationError(f"no trigger {trigger_name!r} (see `cliniko-connector triggers list`)")
    if isinstance(trigger.transition, Removed):
        raise ConfigurationError(
            f"{trigger_name} reports records that are gone from Cliniko: there is nothing to read; "
            "use the catalog's sample (`automations test --sample`)"
        )
    stream = stream_for_trigger(trigger_name)
    params = [("q[]", f) for f in stream.include_filters]
    params += [sort("updated_at:desc", "id:desc"), ("per_page", str(PAGE_SIZE))]
    page = api.list_page(f"/{stream.resource}", params=params)
    for _ in range(MAX_PAGES):
        # Cliniko documents `sort` but not that every list honours it: order the page here too.
        records = sorted(page.records, key=_newest_first, reverse=True)
        for record in records:
            if not isinstance(record.get("id"), str | int) or not isinstance(record.get("updated_at"), str):
                continue
            transition = fired(trigger, connection.id, record)
            if transition is not None:
                return _event(trigger, connection, str(record["id"]), transition, record, source, payload_mode, now)
        if not page.next_url:
            break
        page = api.list_page(page.next_url)
    raise NoSample(
        f"none of the newest {stream.resource} of {connection.id} fires {trigger_name}; "
        "use `automations test --sample` for the catalog's sample"
    )


def _event(
    trigger: Trigger,
    connection: Connection,
    record_id: str,
    transition: Transition,
    record: dict[str, Any],
    source: str,
    payload_mode: PayloadMode,
    now: datetime | None,
) -> dict[str, Any]:
    entry = trigger_bus_event(source, connection.id, trigger.resource, record_id, transition, payload_mode, record)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry.detail_type,
        "source": entry.source,
        "account": "000000000000",
        "time": to_z(now or datetime.now(UTC)),
        "region": "local",
        "resources": list(entry.resources),
        "detail": entry.detail,
    }
