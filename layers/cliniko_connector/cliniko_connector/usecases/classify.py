"""Turn one polled record plus what the stream remembers of it into the trigger events it implies.

Pure functions: no I/O, so every rule here is unit-tested on plain dicts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cliniko_connector.catalog.triggers import (
    BecameSet,
    BecameValue,
    Changed,
    Created,
    ResourceStream,
    Trigger,
    Updated,
)
from cliniko_connector.models import RecordSnapshot
from cliniko_connector.timeutil import normalize_ts, parse_ts

IGNORED_FOR_CHANGES = frozenset({"updated_at"})


@dataclass(frozen=True)
class Transition:
    """A trigger that fired for a record, before it becomes a bus event."""

    trigger: Trigger
    occurred_at: str
    event_key: str
    changed_fields: list[str] | None = None
    previous: dict[str, Any] | None = None


@dataclass(frozen=True)
class Classified:
    """What a record means for the stream: its transitions (maybe none) and its new snapshot."""

    transitions: list[Transition]
    snapshot: RecordSnapshot
    duplicate: bool


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def field_hash(salt: bytes, name: str, value: Any) -> str:
    # Keyed so that low-entropy fields (a birth date, a flag) can't be recovered from stored hashes by guessing.
    return hmac.new(salt, name.encode() + b"\0" + _canonical(value), hashlib.sha256).hexdigest()[:16]


def fingerprint(salt: bytes, record: dict[str, Any]) -> str:
    return hmac.new(salt, _canonical(record), hashlib.sha256).hexdigest()[:24]


def watched_value(record: dict[str, Any], field: str) -> Any:
    """The value kept for a watched field: a linked record is reduced to its id."""
    value = record.get(field)
    if isinstance(value, dict):
        link = value.get("links", {}).get("self") if isinstance(value.get("links"), dict) else None
        if isinstance(link, str):
            return urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]
        return None
    return value


def make_snapshot(stream: ResourceStream, record: dict[str, Any], salt: bytes) -> RecordSnapshot:
    return RecordSnapshot(
        id=str(record["id"]),
        updated_at=normalize_ts(str(record["updated_at"])),
        fingerprint=fingerprint(salt, record),
        field_hashes={k: field_hash(salt, k, v) for k, v in record.items() if k not in IGNORED_FOR_CHANGES},
        watched={f: watched_value(record, f) for f in stream.watched_fields},
    )


def _is_ts(value: Any) -> bool:
    try:
        parse_ts(str(value))
    except ValueError:
        return False
    return True


def is_duplicate(snapshot: RecordSnapshot | None, incoming: RecordSnapshot) -> bool:
    """Already processed: an older or identical version of what the stream has seen. A different record
    with the same second-precision `updated_at` is a new change, not a duplicate."""
    if snapshot is None:
        return False
    if snapshot.updated_at > incoming.updated_at:
        return True
    return snapshot.updated_at == incoming.updated_at and snapshot.fingerprint == incoming.fingerprint


def _version(snapshot: RecordSnapshot) -> str:
    """One version of a record: two versions may share a second, never a fingerprint as well."""
    return f"{snapshot.updated_at}:{snapshot.fingerprint[:12]}"


def classify(
    stream: ResourceStream,
    connection_id: str,
    record: dict[str, Any],
    previous: RecordSnapshot | None,
    origin: datetime,
    salt: bytes,
) -> Classified:
    current = make_snapshot(stream, record, salt)
    if is_duplicate(previous, current):
        return Classified([], previous or current, duplicate=True)

    rid, updated_at = current.id, current.updated_at
    base_key = f"{connection_id}:{stream.resource}:{rid}"
    transitions: list[Transition] = []

    def after_origin(ts: Any) -> bool:
        try:
            return isinstance(ts, str) and parse_ts(ts) >= origin
        except ValueError:
            return False

    for trigger in stream.triggers:
        t = trigger.transition
        if isinstance(t, Created):
            if previous is None and after_origin(record.get("created_at")):
                transitions.append(
                    Transition(trigger, normalize_ts(str(record["created_at"])), f"{base_key}:{trigger.name}")
                )
        elif isinstance(t, Updated):
            if previous is not None:
                changed = sorted(
                    k
                    for k in set(current.field_hashes) | set(previous.field_hashes)
                    if current.field_hashes.get(k) != previous.field_hashes.get(k)
                )
                key = f"{base_key}:{trigger.name}:{updated_at}:{current.fingerprint[:12]}"
                transitions.append(Transition(trigger, updated_at, key, changed_fields=changed))
            elif not after_origin(record.get("created_at")) and after_origin(updated_at):
                # First sight of a record created before the stream began: it changed, we can't say how.
                key = f"{base_key}:{trigger.name}:{updated_at}:{current.fingerprint[:12]}"
                transitions.append(Transition(trigger, updated_at, key, changed_fields=None))
        elif isinstance(t, BecameSet):
            value = record.get(t.field)
            before = previous.watched.get(t.field) if previous else None
            if value and not before and (previous is not None or after_origin(value)):
                occurred = normalize_ts(str(value)) if _is_ts(value) else updated_at
                transitions.append(Transition(trigger, occurred, f"{base_key}:{trigger.name}:{occurred}"))
        elif isinstance(t, BecameValue):
            value = record.get(t.field)
            before = previous.watched.get(t.field) if previous else None
            if value == t.value and before != t.value and (previous is not None or after_origin(updated_at)):
                # Keyed on the version it changed from, not the one it was seen in: a retry after a crash
                # between publish and snapshot may see a later version, and must still send the same key.
                since = _version(previous) if previous is not None else "first"
                transitions.append(Transition(trigger, updated_at, f"{base_key}:{trigger.name}:{since}"))
        elif isinstance(t, Changed) and previous is not None:
            old = {f: previous.watched.get(f) for f in t.fields}
            new = {f: current.watched.get(f) for f in t.fields}
            if old != new:
                # The version it changed from plus where it went: stable across such a retry (see above).
                key = f"{base_key}:{trigger.name}:{_version(previous)}:{fingerprint(salt, new)[:12]}"
                changed = sorted(f for f in t.fields if old[f] != new[f])
                transitions.append(Transition(trigger, updated_at, key, changed_fields=changed, previous=old))
    return Classified(transitions, current, duplicate=False)
