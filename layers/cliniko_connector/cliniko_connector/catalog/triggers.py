"""Trigger catalog: one `updated_at` stream per Cliniko resource, many triggers per stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Created:
    """First sight of a record created after the stream's origin."""


@dataclass(frozen=True)
class Updated:
    """Any change to a record already seen."""


@dataclass(frozen=True)
class BecameSet:
    """A timestamp field went from null to a value (archived_at, cancelled_at, finalized_at)."""

    field: str


@dataclass(frozen=True)
class BecameValue:
    """A field took a given value it did not have before (`did_not_arrive` true, invoice `status` 20)."""

    field: str
    value: Any


@dataclass(frozen=True)
class Changed:
    """Any of `fields` changed; the event carries their previous values."""

    fields: tuple[str, ...]


@dataclass(frozen=True)
class Removed:
    """A record the stream has seen is gone from Cliniko without a trace (no `archived_at`, no `deleted_at`):
    found by a reconciliation walk that no longer lists it, and confirmed by a 404. The event's `previous`
    holds the last known values of `fields`, as the stream kept them."""

    fields: tuple[str, ...]


Transition = Created | Updated | BecameSet | BecameValue | Changed | Removed


@dataclass(frozen=True)
class Trigger:
    name: str
    resource: str
    detail_type: str
    transition: Transition
    description: str


@dataclass(frozen=True)
class ResourceStream:
    """How one resource is polled: its list path (also the list key) and the filters that make Cliniko
    include archived or cancelled records, which default lists hide."""

    resource: str
    singular: str
    title: str
    include_filters: tuple[str, ...] = ("archived_at:*",)
    triggers: tuple[Trigger, ...] = field(default=())

    @property
    def watched_fields(self) -> tuple[str, ...]:
        """Fields whose values the stream keeps per record (never free text or contact details)."""
        names: list[str] = []
        for trigger in self.triggers:
            t = trigger.transition
            if isinstance(t, Created):
                names.append("created_at")
            elif isinstance(t, BecameSet | BecameValue):
                names.append(t.field)
            elif isinstance(t, Changed | Removed):
                names.extend(t.fields)
        return tuple(dict.fromkeys(names))

    @property
    def removal(self) -> Trigger | None:
        """The trigger reporting records that vanished from the list, when the stream has one."""
        return next((t for t in self.triggers if isinstance(t.transition, Removed)), None)


def _stream(
    resource: str,
    singular: str,
    title: str,
    *,
    include: tuple[str, ...] = ("archived_at:*",),
    extra: tuple[tuple[str, str, Transition, str], ...] = (),
) -> ResourceStream:
    triggers = [
        Trigger(f"{singular}.created", resource, f"{title} Created", Created(), f"A new {title.lower()}."),
        Trigger(
            f"{singular}.updated",
            resource,
            f"{title} Updated",
            Updated(),
            f"Any change to a {title.lower()}, with the names of the changed fields.",
        ),
    ]
    for suffix, label, transition, description in extra:
        triggers.append(Trigger(f"{singular}.{suffix}", resource, f"{title} {label}", transition, description))
    return ResourceStream(resource, singular, title, include, tuple(triggers))


_ARCHIVED = ("archived", "Archived", BecameSet("archived_at"), "The record was archived (Cliniko's delete).")
# Lists hide archived, cancelled and deleted records unless asked with `field:*`, for each such field the
# endpoint can filter on (the official spec): without it a record would leave the stream unseen.
_WITH_DELETED = ("archived_at:*", "deleted_at:*")
_WITH_CANCELLED = ("archived_at:*", "cancelled_at:*", "deleted_at:*")

# Every booking, whichever its kind (individual or group appointment, or an unavailable block): the one list an
# online booking shows up in however it was made.
_BOOKINGS = _stream(
    "bookings",
    "booking",
    "Booking",
    include=_WITH_CANCELLED,
    extra=(
        _ARCHIVED,
        ("cancelled", "Cancelled", BecameSet("cancelled_at"), "The booking was cancelled."),
    ),
)
# Settings-like resources: what a clinic sets up, not what patients do. Created and updated (archived where the
# resource can be archived).
_SETUP: tuple[ResourceStream, ...] = (
    _stream(
        "appointment_types", "appointment_type", "Appointment Type", include=("archived_at:*",), extra=(_ARCHIVED,)
    ),
    _stream("businesses", "business", "Business", include=_WITH_DELETED, extra=(_ARCHIVED,)),
    # Active practitioners only: Cliniko lists inactive ones at `/practitioners/inactive`, a list of its own.
    _stream("practitioners", "practitioner", "Practitioner", include=()),
    # Only an administrator's key may list users (others get 403, the stream's last error says so).
    _stream("users", "user", "User", include=()),
    _stream(
        "treatment_note_templates",
        "treatment_note_template",
        "Treatment Note Template",
        include=_WITH_DELETED,
        extra=(_ARCHIVED,),
    ),
    _stream("patient_form_templates", "patient_form_template", "Patient Form Template", extra=(_ARCHIVED,)),
    _stream(
        "practitioner_reference_numbers",
        "practitioner_reference_number",
        "Practitioner Reference Number",
        include=(),
    ),
)
# What patients and staff add to a patient's file.
_PATIENT_FILE: tuple[ResourceStream, ...] = (
    _stream(
        "patient_forms",
        "patient_form",
        "Patient Form",
        include=(),  # the spec gives patient forms no hidden-record filter
        extra=(
            (
                "completed",
                "Completed",
                BecameSet("completed_at"),
                "The patient completed the form (an intake form filled in, a consent signed).",
            ),
        ),
    ),
    _stream(
        "patient_cases",
        "patient_case",
        "Patient Case",
        extra=(_ARCHIVED, ("closed", "Closed", BecameValue("closed", True), "The case was closed.")),
    ),
    _stream("patient_attachments", "patient_attachment", "Patient Attachment", extra=(_ARCHIVED,)),
)
# Stock and billing set-up.
_STOCK: tuple[ResourceStream, ...] = (
    _stream("stock_adjustments", "stock_adjustment", "Stock Adjustment", include=()),
    _stream("billable_items", "billable_item", "Billable Item", extra=(_ARCHIVED,)),
    _stream("concession_types", "concession_type", "Concession Type", include=()),
    _stream("product_suppliers", "product_supplier", "Product Supplier", include=()),
    _stream("taxes", "tax", "Tax", include=()),
)
_MORE: tuple[ResourceStream, ...] = (
    *_PATIENT_FILE,
    *_STOCK,
    _BOOKINGS,
    _stream("invoice_items", "invoice_item", "Invoice Item", include=_WITH_DELETED, extra=(_ARCHIVED,)),
    _stream("communications", "communication", "Communication", extra=(_ARCHIVED,)),
    *_SETUP,
)
STREAMS: tuple[ResourceStream, ...] = (
    _stream("patients", "patient", "Patient", extra=(_ARCHIVED,)),
    _stream("contacts", "contact", "Contact", include=_WITH_DELETED, extra=(_ARCHIVED,)),
    _stream(
        "individual_appointments",
        "individual_appointment",
        "Individual Appointment",
        include=_WITH_CANCELLED,
        extra=(
            _ARCHIVED,
            ("cancelled", "Cancelled", BecameSet("cancelled_at"), "The appointment was cancelled."),
            (
                "rescheduled",
                "Rescheduled",
                Changed(("starts_at", "ends_at", "practitioner")),
                "Start, end or practitioner changed; `previous` holds the old values.",
            ),
            (
                "did_not_arrive",
                "Did Not Arrive",
                BecameValue("did_not_arrive", True),
                "The patient was marked as not arrived.",
            ),
            ("arrived", "Arrived", BecameValue("patient_arrived", True), "The patient was marked as arrived."),
        ),
    ),
    _stream("group_appointments", "group_appointment", "Group Appointment", include=_WITH_DELETED, extra=(_ARCHIVED,)),
    ResourceStream(
        "attendees",
        "attendee",
        "Attendee",
        _WITH_CANCELLED,
        (
            Trigger("attendee.created", "attendees", "Attendee Created", Created(), "A patient joined a booking."),
            Trigger(
                "attendee.cancelled",
                "attendees",
                "Attendee Cancelled",
                BecameSet("cancelled_at"),
                "A patient's place in a group appointment was cancelled.",
            ),
        ),
    ),
    _stream(
        "availability_blocks",
        "availability_block",
        "Availability Block",
        include=(),
        extra=(
            (
                "removed",
                "Removed",
                Removed(("starts_at", "ends_at", "practitioner", "business")),
                "A block the connector had seen is gone from Cliniko (deleted there: it leaves no trace in the "
                "list). Found by the reconciliation walk and confirmed by a 404; `previous` holds its last known "
                "times, practitioner and business, `data` is null.",
            ),
        ),
    ),
    _stream(
        "unavailable_blocks",
        "unavailable_block",
        "Unavailable Block",
        include=_WITH_DELETED,
        extra=(("archived", "Archived", BecameSet("archived_at"), "The block (a break) was archived or deleted."),),
    ),
    _stream(
        "invoices",
        "invoice",
        "Invoice",
        include=_WITH_DELETED,
        extra=(("paid", "Paid", BecameValue("status", 20), "The invoice's status became paid."),),
    ),
    _stream("products", "product", "Product", extra=(_ARCHIVED,)),
    ResourceStream(
        "medical_alerts",
        "medical_alert",
        "Medical Alert",
        _WITH_DELETED,
        (
            Trigger(
                "medical_alert.created", "medical_alerts", "Medical Alert Created", Created(), "A new medical alert."
            ),
        ),
    ),
    ResourceStream(
        "treatment_notes",
        "treatment_note",
        "Treatment Note",
        _WITH_DELETED,
        (
            Trigger("treatment_note.created", "treatment_notes", "Treatment Note Created", Created(), "A new note."),
            Trigger(
                "treatment_note.finalized",
                "treatment_notes",
                "Treatment Note Finalized",
                BecameSet("finalized_at"),
                "A draft note was finalized.",
            ),
        ),
    ),
    *_MORE,
)


# Changes the spec does not promise move the record's own `updated_at`: a child record changes a parent's
# derived fields. The regular poll sees such a change only when the record moves otherwise within the poll's
# overlap; the reconciliation walk (which compares every record with what the stream keeps) always does.
# trigger -> the change, for docs/events.md.
UNPROMISED_BUMPS: dict[str, str] = {
    "patient.updated": "a booking is made for the patient (its `latest_booking`)",
    "group_appointment.updated": "an attendee joins or leaves (its `patient_ids`)",
    "invoice.updated": "a payment or an invoice item changes its status or totals",
    "invoice.paid": "a payment settles it (its `status`)",
}

STREAMS_BY_RESOURCE: dict[str, ResourceStream] = {s.resource: s for s in STREAMS}
TRIGGERS: dict[str, Trigger] = {t.name: t for s in STREAMS for t in s.triggers}


def stream_for_trigger(name: str) -> ResourceStream:
    return STREAMS_BY_RESOURCE[TRIGGERS[name].resource]


def streams_for(trigger_names: tuple[str, ...] | list[str]) -> list[ResourceStream]:
    """The streams a set of enabled triggers needs, in catalog order."""
    wanted = {TRIGGERS[n].resource for n in trigger_names}
    return [s for s in STREAMS if s.resource in wanted]
