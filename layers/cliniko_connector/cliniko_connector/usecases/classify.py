"""Turn one polled record plus what the stream remembers of it into the trigger events it implies.

Pure functions: no I/O, so every rule here is unit-tested on plain dicts.
"""

from __future__ import annotations

import hmac
import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cliniko_connector.adapters.eventbridge import MAX_REQUEST_BYTES, entry_size
from cliniko_connector.catalog.triggers import (
    BecameSet,
    BecameValue,
    Changed,
    Created,
    Removed,
    ResourceStream,
    Trigger,
    Updated,
)
from cliniko_connector.eventmodels import TriggerEventDetail
from cliniko_connector.models import BusEvent, PayloadMode, RecordSnapshot, RecordState
from cliniko_connector.timeutil import normalize_ts, parse_ts

IGNORED_FOR_CHANGES = frozenset({"updated_at"})
# Pending versions kept per record: more only after as many interrupted polls that each saw it change.
MAX_PENDING = 8


@dataclass(frozen=True)
class Transition:
    """A trigger that fired for a record, before it becomes a bus event."""

    trigger: Trigger
    occurred_at: str
    event_key: str
    changed_fields: list[str] | None = None
    previous: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClassifiedRecord:
    """What a page means for one record, given what the stream keeps of it.

    `transitions` first resends those of the pending versions (their keys unchanged), then adds those of
    the versions this page shows for the first time, each with the index of the record it describes (a
    resent one: the latest). `pending` is what to keep while they are published, `settled` what to keep
    once they are."""

    transitions: list[tuple[Transition, int]]
    pending: RecordState
    settled: RecordState
    new_versions: int
    repeats: int


_encode_string = json.encoder.encode_basestring_ascii  # what json.dumps does with a str, in C
_SCALARS: dict[Any, bytes] = {None: b"null", True: b"true", False: b"false"}


def _canonical(value: Any) -> bytes:
    """The value as canonical JSON. Most fields are strings, ints or null: those skip the encoder's setup
    (the bytes are json.dumps' own; stored hashes depend on them)."""
    kind = type(value)
    if kind is str:
        return _encode_string(value).encode()
    if kind is int:
        return int.__repr__(value).encode()
    if value is None or kind is bool:
        return _SCALARS[value]
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def field_hash(salt: bytes, name: str, value: Any) -> str:
    # Keyed so that low-entropy fields (a birth date, a flag) can't be recovered from stored hashes by guessing.
    return hmac.digest(salt, name.encode() + b"\0" + _canonical(value), "sha256").hex()[:16]


def fingerprint(salt: bytes, record: dict[str, Any]) -> str:
    return hmac.digest(salt, _canonical(record), "sha256").hex()[:24]


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


def classify_versions(
    stream: ResourceStream,
    connection_id: str,
    records: list[dict[str, Any]],
    kept: RecordState | None,
    origin: datetime,
    salt: bytes,
) -> ClassifiedRecord:
    """The versions of one record a page holds (usually one), against what the stream keeps of it.

    Versions whose events a poll published, or was about to, before it stopped short of its checkpoint are
    kept as pending. Their events go out again under the same keys, and each new version is classified
    against the latest of them: so a deduplicating consumer still gets, say, the `created` and then the
    `updated` (or `rescheduled`) of a record that changed between the interrupted poll and its retry."""
    rid = str(records[0]["id"])
    kept = kept or RecordState(id=rid)
    latest = len(records) - 1
    chain: list[tuple[RecordSnapshot | None, int]] = [(kept.settled, latest), *((p, latest) for p in kept.pending)]
    new_versions = repeats = 0
    for index, record in enumerate(records):
        current = make_snapshot(stream, record, salt)
        if is_duplicate(chain[-1][0], current):
            repeats += 1
        else:
            chain.append((current, index))
            new_versions += 1
    found: list[tuple[Transition, int]] = []
    for (before, _), (after, index) in itertools.pairwise(chain):
        if after is not None:  # only the settled version may be unknown
            found += [
                (t, index)
                for t in transitions(stream, connection_id, before, after, origin, salt)
                if t.event_key not in kept.sent
            ]
    pending = tuple(snapshot for snapshot, _ in chain[1:] if snapshot is not None)
    if len(pending) > MAX_PENDING:
        # Dropping the oldest pending versions keeps `created` and `updated` keys (named after the version
        # they reach): only a lifecycle event of a dropped version might go out twice under another key.
        pending = pending[-MAX_PENDING:]
    return ClassifiedRecord(
        transitions=found,
        pending=RecordState(id=rid, settled=kept.settled, pending=pending, sent=kept.sent),
        settled=RecordState(id=rid, settled=chain[-1][0], walked=kept.walked),
        new_versions=new_versions,
        repeats=repeats,
    )


def removal(stream: ResourceStream, connection_id: str, kept: RecordState, detected_at: str) -> Transition | None:
    """The stream's removal trigger for a record that is gone from Cliniko, from what the stream kept of it
    (its newest version): keyed on that version, so a sweep repeated after a failed publish resends it alike."""
    trigger = stream.removal
    latest = kept.pending[-1] if kept.pending else kept.settled
    if trigger is None or latest is None or not isinstance(trigger.transition, Removed):
        return None
    key = f"{connection_id}:{stream.resource}:{kept.id}:{trigger.name}:{_version(latest)}"
    previous = {f: latest.watched.get(f) for f in trigger.transition.fields}
    return Transition(trigger, detected_at, key, previous=previous)


def transitions(
    stream: ResourceStream,
    connection_id: str,
    previous: RecordSnapshot | None,
    current: RecordSnapshot,
    origin: datetime,
    salt: bytes,
) -> list[Transition]:
    """The triggers a record's move from one version to the next fires: snapshots only, no record."""
    rid, updated_at = current.id, current.updated_at
    base_key = f"{connection_id}:{stream.resource}:{rid}"
    created_at = current.watched.get("created_at")
    found: list[Transition] = []

    def after_origin(ts: Any) -> bool:
        try:
            return isinstance(ts, str) and parse_ts(ts) >= origin
        except ValueError:
            return False

    def add(trigger: Trigger, occurred: str, key: str, **kw: Any) -> None:
        found.append(Transition(trigger, occurred, key, **kw))

    for trigger in stream.triggers:
        t = trigger.transition
        if isinstance(t, Created):
            if previous is None and after_origin(created_at):
                add(trigger, normalize_ts(str(created_at)), f"{base_key}:{trigger.name}")
        elif isinstance(t, Updated):
            if previous is not None:
                changed = sorted(
                    k
                    for k in set(current.field_hashes) | set(previous.field_hashes)
                    if current.field_hashes.get(k) != previous.field_hashes.get(k)
                )
                add(trigger, updated_at, f"{base_key}:{trigger.name}:{_version(current)}", changed_fields=changed)
            elif not after_origin(created_at) and after_origin(updated_at):
                # First sight of a record created before the stream began: it changed, we can't say how.
                add(trigger, updated_at, f"{base_key}:{trigger.name}:{_version(current)}", changed_fields=None)
        elif isinstance(t, BecameSet):
            value = current.watched.get(t.field)
            before = previous.watched.get(t.field) if previous else None
            if value and not before and (previous is not None or after_origin(value)):
                occurred = normalize_ts(str(value)) if _is_ts(value) else updated_at
                add(trigger, occurred, f"{base_key}:{trigger.name}:{occurred}")
        elif isinstance(t, BecameValue):
            value = current.watched.get(t.field)
            before = previous.watched.get(t.field) if previous else None
            if value == t.value and before != t.value and (previous is not None or after_origin(updated_at)):
                # Keyed on the version it changed from, which every resend of this move names alike.
                since = _version(previous) if previous is not None else "first"
                add(trigger, updated_at, f"{base_key}:{trigger.name}:{since}")
        elif isinstance(t, Changed) and previous is not None:
            old = {f: previous.watched.get(f) for f in t.fields}
            new = {f: current.watched.get(f) for f in t.fields}
            if old != new:
                # The version it changed from plus where it went: stable across resends (see above).
                key = f"{base_key}:{trigger.name}:{_version(previous)}:{fingerprint(salt, new)[:12]}"
                changed = sorted(f for f in t.fields if old[f] != new[f])
                add(trigger, updated_at, key, changed_fields=changed, previous=old)
    return found


def trigger_bus_event(
    source: str,
    connection_id: str,
    resource: str,
    record_id: str,
    transition: Transition,
    mode: PayloadMode,
    record: dict[str, Any] | None,
) -> BusEvent:
    """The bus event of one transition: the record in `data` in full mode, left out (`truncated`) when the
    entry would be too big for PutEvents, so the event still goes out rather than being lost."""
    detail = TriggerEventDetail(
        trigger=transition.trigger.name,
        connection_id=connection_id,
        resource=resource,
        id=record_id,
        occurred_at=transition.occurred_at,
        event_key=transition.event_key,
        changed_fields=transition.changed_fields,
        previous=transition.previous,
        payload_mode=mode,
        data=record if mode is PayloadMode.FULL else None,
    )
    event = BusEvent(source=source, detail_type=transition.trigger.detail_type, detail=detail.model_dump(mode="json"))
    if entry_size(event) > MAX_REQUEST_BYTES:
        detail = detail.model_copy(update={"data": None, "truncated": True})
        event = event.model_copy(update={"detail": detail.model_dump(mode="json")})
    return event
