"""How one polled record becomes trigger events, given what the stream remembers of it."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE, ResourceStream
from cliniko_connector.models import RecordSnapshot, RecordState
from cliniko_connector.usecases.classify import (
    Transition,
    classify_versions,
    field_hash,
    fingerprint,
    is_duplicate,
    make_snapshot,
)

SALT = b"test-salt"
ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
APPOINTMENTS = STREAMS_BY_RESOURCE["individual_appointments"]
PATIENTS = STREAMS_BY_RESOURCE["patients"]
INVOICES = STREAMS_BY_RESOURCE["invoices"]


def patient(**changes: Any) -> dict[str, Any]:
    record = {
        "id": "1000000000000000001",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "archived_at": None,
        "created_at": "2026-02-01T10:00:00Z",
        "updated_at": "2026-02-01T10:00:00Z",
    }
    record.update(changes)
    return record


def appointment(**changes: Any) -> dict[str, Any]:
    record = {
        "id": "2000000000000000001",
        "starts_at": "2026-03-01T09:00:00Z",
        "ends_at": "2026-03-01T09:30:00Z",
        "practitioner": {"links": {"self": "https://api.au1.cliniko.com/v1/practitioners/77"}},
        "cancelled_at": None,
        "archived_at": None,
        "did_not_arrive": False,
        "patient_arrived": False,
        "notes": "",
        "created_at": "2026-02-01T10:00:00Z",
        "updated_at": "2026-02-01T10:00:00Z",
    }
    record.update(changes)
    return record


@dataclass
class Classified:
    transitions: list[Transition]
    duplicate: bool


def classify(
    stream: ResourceStream,
    connection_id: str,
    record: dict[str, Any],
    previous: RecordSnapshot | None,
    origin: datetime,
    salt: bytes,
) -> Classified:
    """One record against the version the stream settled on last (nothing pending)."""
    kept = RecordState(id=str(record["id"]), settled=previous) if previous else None
    c = classify_versions(stream, connection_id, [record], kept, origin, salt)
    return Classified([t for t, _ in c.transitions], duplicate=c.new_versions == 0)


def names(result: Any) -> list[str]:
    return [t.trigger.name for t in result.transitions]


def test_first_sight_of_a_record_created_after_the_origin_is_created() -> None:
    result = classify(PATIENTS, "clinic", patient(), None, ORIGIN, SALT)
    assert names(result) == ["patient.created"]
    assert result.transitions[0].event_key == "clinic:patients:1000000000000000001:patient.created"


def test_first_sight_of_a_record_created_before_the_origin_is_an_update_of_unknown_fields() -> None:
    old = patient(created_at="2025-06-01T00:00:00Z", updated_at="2026-02-01T10:00:00Z")
    result = classify(PATIENTS, "clinic", old, None, ORIGIN, SALT)
    assert names(result) == ["patient.updated"]
    assert result.transitions[0].changed_fields is None


def test_an_update_names_exactly_the_changed_fields() -> None:
    before = make_snapshot(PATIENTS, patient(), SALT)
    after = patient(email="ada@lovelace.example", updated_at="2026-02-02T10:00:00Z")
    result = classify(PATIENTS, "clinic", after, before, ORIGIN, SALT)
    assert names(result) == ["patient.updated"]
    assert result.transitions[0].changed_fields == ["email"]


def test_the_same_version_seen_again_is_a_duplicate_and_emits_nothing() -> None:
    before = make_snapshot(PATIENTS, patient(), SALT)
    result = classify(PATIENTS, "clinic", patient(), before, ORIGIN, SALT)
    assert result.duplicate
    assert result.transitions == []


def test_an_older_version_than_the_one_seen_is_a_duplicate() -> None:
    newer = make_snapshot(PATIENTS, patient(updated_at="2026-02-03T00:00:00Z"), SALT)
    assert is_duplicate(newer, make_snapshot(PATIENTS, patient(), SALT))


def test_two_updates_in_the_same_second_are_two_changes() -> None:
    first = make_snapshot(PATIENTS, patient(updated_at="2026-02-02T10:00:00Z", email="a@x.io"), SALT)
    second = patient(updated_at="2026-02-02T10:00:00Z", email="b@x.io")
    result = classify(PATIENTS, "clinic", second, first, ORIGIN, SALT)
    assert names(result) == ["patient.updated"]
    assert result.transitions[0].changed_fields == ["email"]


def test_archiving_emits_updated_and_archived_with_the_archive_time() -> None:
    before = make_snapshot(PATIENTS, patient(), SALT)
    after = patient(archived_at="2026-02-05T08:00:00Z", updated_at="2026-02-05T08:00:00Z")
    result = classify(PATIENTS, "clinic", after, before, ORIGIN, SALT)
    assert names(result) == ["patient.updated", "patient.archived"]
    archived = result.transitions[1]
    assert archived.occurred_at == "2026-02-05T08:00:00Z"
    assert archived.event_key.endswith(":patient.archived:2026-02-05T08:00:00Z")


def test_a_reschedule_carries_the_previous_start_end_and_practitioner() -> None:
    before = make_snapshot(APPOINTMENTS, appointment(), SALT)
    moved = appointment(
        starts_at="2026-03-02T09:00:00Z",
        ends_at="2026-03-02T09:30:00Z",
        updated_at="2026-02-03T00:00:00Z",
    )
    result = classify(APPOINTMENTS, "clinic", moved, before, ORIGIN, SALT)
    rescheduled = next(t for t in result.transitions if t.trigger.name == "individual_appointment.rescheduled")
    assert rescheduled.previous == {
        "starts_at": "2026-03-01T09:00:00Z",
        "ends_at": "2026-03-01T09:30:00Z",
        "practitioner": "77",
    }
    assert rescheduled.changed_fields == ["ends_at", "starts_at"]


def test_a_note_edit_is_not_a_reschedule() -> None:
    before = make_snapshot(APPOINTMENTS, appointment(), SALT)
    edited = appointment(notes="bring x-rays", updated_at="2026-02-03T00:00:00Z")
    assert names(classify(APPOINTMENTS, "clinic", edited, before, ORIGIN, SALT)) == ["individual_appointment.updated"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"cancelled_at": "2026-02-04T00:00:00Z"}, "individual_appointment.cancelled"),
        ({"did_not_arrive": True}, "individual_appointment.did_not_arrive"),
        ({"patient_arrived": True}, "individual_appointment.arrived"),
    ],
)
def test_appointment_lifecycle_transitions(change: dict[str, Any], expected: str) -> None:
    before = make_snapshot(APPOINTMENTS, appointment(), SALT)
    after = appointment(**change, updated_at="2026-02-04T00:00:00Z")
    assert expected in names(classify(APPOINTMENTS, "clinic", after, before, ORIGIN, SALT))


def test_a_lifecycle_transition_fires_once_not_on_every_later_edit() -> None:
    cancelled = appointment(cancelled_at="2026-02-04T00:00:00Z", updated_at="2026-02-04T00:00:00Z")
    before = make_snapshot(APPOINTMENTS, cancelled, SALT)
    later = {**cancelled, "notes": "called", "updated_at": "2026-02-05T00:00:00Z"}
    assert names(classify(APPOINTMENTS, "clinic", later, before, ORIGIN, SALT)) == ["individual_appointment.updated"]


def test_an_invoice_becoming_paid() -> None:
    invoice = {"id": "9", "status": 10, "created_at": "2026-02-01T00:00:00Z", "updated_at": "2026-02-01T00:00:00Z"}
    before = make_snapshot(INVOICES, invoice, SALT)
    paid = {**invoice, "status": 20, "updated_at": "2026-02-02T00:00:00Z"}
    assert names(classify(INVOICES, "clinic", paid, before, ORIGIN, SALT)) == ["invoice.updated", "invoice.paid"]


def test_snapshots_keep_hashes_not_patient_values() -> None:
    snapshot = make_snapshot(PATIENTS, patient(), SALT)
    stored = snapshot.model_dump_json()
    for value in ("Ada", "Lovelace", "ada@example.com"):
        assert value not in stored


def test_field_hashes_depend_on_the_connection_salt() -> None:
    a = make_snapshot(PATIENTS, patient(), b"one")
    b = make_snapshot(PATIENTS, patient(), b"two")
    assert a.field_hashes["email"] != b.field_hashes["email"]


@pytest.mark.parametrize(
    "value",
    ["", "Jane", 'é "quoted" \\ \u2028 привет 😀', 0, -7, 10**30, True, False, None, 1.5, [1, "x"], {"b": [None]}],
)
def test_field_hashes_and_fingerprints_are_those_of_canonical_json(value: Any) -> None:
    # Snapshots stored by earlier releases hold these hashes: a faster encoding must give the same bytes, or
    # every kept record would look changed after an upgrade.
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    salt = b"connection-salt"
    assert field_hash(salt, "field", value) == hmac.new(salt, b"field\0" + canonical, hashlib.sha256).hexdigest()[:16]
    record = {"id": 1, "field": value}
    whole = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str).encode()
    assert fingerprint(salt, record) == hmac.new(salt, whole, hashlib.sha256).hexdigest()[:24]
