"""Every simulated Cliniko resource, declared as data, plus the few behaviours data can't express.

Field lists follow the official OpenAPI schemas; filter tables copy the spec's ``q[]`` parameter
descriptions; operations are exactly those the spec lists for each path.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from cliniko_tools.simulator.schema import (
    OPS_CRUD,
    Field,
    FilterKind,
    ListRoute,
    Record,
    RecordStore,
    ResourceDef,
    ValidationFailed,
    WriteContext,
)
from cliniko_tools.simulator.store import money

CANCELLATION_REASONS: dict[int, str] = {
    10: "Feeling Better",
    20: "Condition Worse",
    30: "Sick",
    31: "COVID-19 related",
    40: "Away",
    50: "Other",
    60: "Work",
}
INVOICE_STATUSES: dict[int, str] = {10: "Open", 20: "Paid", 30: "Closed", 40: "Open credit"}
COMMUNICATION_TYPES: dict[int, str] = {1: "SMS", 2: "Email", 3: "Phone call", 4: "Other"}
DIRECTIONS: dict[int, str] = {1: "Sent", 2: "Received"}
CONTACT_TYPES: dict[int, str] = {0: "Standard", 1: "Doctor", 2: "3rd Party Payer"}
COMMUNICATION_CATEGORIES: dict[int, str] = {
    1: "Appointment reminder",
    2: "Appointment confirmation",
    3: "Invoice",
    12: "Memo",
    13: "Cancellation",
    15: "Recall",
}
COUNTRIES: dict[str, str] = {
    "AU": "Australia",
    "NZ": "New Zealand",
    "GB": "United Kingdom",
    "US": "United States",
    "CA": "Canada",
    "IE": "Ireland",
    "ZA": "South Africa",
}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,63}$")
_COLOR_RE = re.compile(r"^#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})$")
_QUESTION_TYPES = frozenset({"bodycharts", "checkboxes", "date", "paragraph", "radiobuttons", "text"})
_PRONOUN_KEYS = ("accusative", "nominative", "predicative_possessive", "pronominal_possessive", "reflexive")
_LEAD_TIMES = (0, 1, 2, 4, 12, 18, 24, 48, 72, 168, 336, 504, 672)
BOOKING_SOURCES = ("individual_appointments", "group_appointments", "unavailable_blocks")


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# --------------------------------------------------------------------------- field helpers

ID = Field("id", "int", api=False)
CREATED = Field("created_at", "datetime", api=False)
UPDATED = Field("updated_at", "datetime", api=False)
ARCHIVED = Field("archived_at", "datetime", api=False)
DELETED = Field("deleted_at", "datetime", api=False)
COMMON = (ID, CREATED, UPDATED)


def S(name: str, *, api: bool = True, max_length: int | None = None, default: Any = None) -> Field:
    return Field(name, "str", api=api, max_length=max_length, default=default)


def B(name: str, *, api: bool = True, default: bool | None = None) -> Field:
    return Field(name, "bool", api=api, default=default)


def DT(name: str, *, api: bool = True) -> Field:
    return Field(name, "datetime", api=api)


def REF(name: str, target: str, *, api: bool = True, link: str | None = None) -> Field:
    return Field(name, "ref", api=api, target=target, link=link)


def _filters(*names: str, **kinds: FilterKind) -> dict[str, FilterKind]:
    """id + timestamps by default type, then the endpoint's own filters."""
    table: dict[str, FilterKind] = {}
    for name in names:
        if name == "id" or name.endswith("_id"):
            table[name] = "int64"
        elif name.endswith("_at"):
            table[name] = "date-time"
        else:
            raise ValueError(name)
    table.update(kinds)
    return table


REPEAT_RULE = Field("repeat_rule", "json")


# --------------------------------------------------------------------------- shared validation


def _check_email(ctx: WriteContext, name: str) -> None:
    value = ctx.changes.get(name)
    if isinstance(value, str) and value and not _EMAIL_RE.match(value):
        ctx.error(name, "is invalid")


def _check_time_zone(ctx: WriteContext, name: str) -> None:
    value = ctx.changes.get(name)
    if isinstance(value, str) and value not in _time_zones():
        ctx.error(name, "is not included in the list")


def _check_times(ctx: WriteContext) -> None:
    starts, ends = ctx.record.get("starts_at"), ctx.record.get("ends_at")
    if starts is not None and ends is not None and ends <= starts:
        ctx.error("ends_at", "must be after starts_at")


def _check_repeat_rule(ctx: WriteContext, max_repeats: int | None = None) -> None:
    rule = ctx.changes.get("repeat_rule")
    if not isinstance(rule, dict) or not rule:
        return
    if rule.get("repeat_type") not in (None, "Daily", "Weekly", "Monthly"):
        ctx.error("repeat_rule", "is invalid")
    for key in ("repeating_interval", "number_of_repeats"):
        value = rule.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            ctx.error("repeat_rule", "is invalid")
    repeats = rule.get("number_of_repeats")
    if max_repeats is not None and isinstance(repeats, int) and repeats > max_repeats:
        ctx.error("repeat_rule", "is invalid")


def _check_content(ctx: WriteContext, name: str = "content") -> None:
    content = ctx.changes.get(name)
    if content is None:
        return
    sections = content.get("sections", [])
    if not isinstance(sections, list):
        ctx.error(name, "is invalid")
        return
    for section in sections:
        questions = section.get("questions", []) if isinstance(section, dict) else None
        if not isinstance(questions, list):
            ctx.error(name, "is invalid")
            return
        for question in questions:
            if (
                not isinstance(question, dict)
                or not isinstance(question.get("name"), str)
                or question.get("type") not in _QUESTION_TYPES
            ):
                ctx.error(name, "is invalid")
                return


def _label(rec: Record) -> str:
    first = rec.get("preferred_first_name") or rec.get("first_name") or ""
    return " ".join(part for part in (first, rec.get("last_name") or "") if part)


# --------------------------------------------------------------------------- patients


def _validate_patient(ctx: WriteContext) -> None:
    _check_email(ctx, "email")
    _check_email(ctx, "invoice_email")
    _check_time_zone(ctx, "time_zone")
    pronouns = ctx.changes.get("pronouns")
    if pronouns is not None and not all(isinstance(pronouns.get(k), str) for k in _PRONOUN_KEYS):
        ctx.error("pronouns", "is invalid")
    dob = ctx.changes.get("date_of_birth")
    if isinstance(dob, str) and dob > datetime.fromtimestamp(ctx.store.clock.now_epoch(), UTC).date().isoformat():
        ctx.error("date_of_birth", "can't be in the future")
    ctx.record["label"] = f"{ctx.record.get('first_name', '')} {ctx.record.get('last_name', '')}".strip()
    # The request's unsubscribe_sms_marketing is an instruction, shown back as accepted_sms_marketing.
    if ctx.record.pop("unsubscribe_sms_marketing", None) is True:
        ctx.record["accepted_sms_marketing"] = False


PATIENTS = ResourceDef(
    name="patients",
    fields=(
        *COMMON,
        B("accepted_email_marketing"),
        B("accepted_privacy_policy"),
        B("accepted_sms_marketing", api=False),  # shown; changed by sending unsubscribe_sms_marketing
        S("address_1", max_length=255),
        S("address_2", max_length=255),
        S("address_3", max_length=255),
        S("appointment_notes"),
        ARCHIVED,
        S("city", max_length=255),
        REF("concession_type_id", "concession_types"),
        S("country"),
        Field("custom_fields", "json"),
        Field("date_of_birth", "date"),
        DELETED,
        S("dva_card_number"),
        S("email", max_length=255),
        S("emergency_contact", max_length=255),
        S("first_name", max_length=255),
        S("gender", api=False),
        S("gender_identity"),
        S("invoice_default_to"),
        S("invoice_email"),
        S("invoice_extra_information"),
        S("label", api=False),
        S("last_name", max_length=255),
        S("medicare", max_length=255),
        S("medicare_reference_number", max_length=255),
        DT("merged_at", api=False),
        REF("merged_with_patient_id", "patients", api=False),
        S("notes"),
        S("occupation", max_length=255),
        S("old_reference_id", max_length=255),
        Field("patient_phone_numbers", "phones", default=()),
        S("post_code"),
        S("preferred_first_name", max_length=255),
        Field("pronouns", "json"),
        B("receives_confirmation_emails"),
        S("referral_source", max_length=255),
        REF("latest_booking_id", "bookings", api=False, link="latest_booking"),
        REF("referring_doctor_id", "contacts"),
        Field("reminder_type", "str", choices=("None", "SMS", "Email", "SMS & Email")),
        S("sex"),
        S("state"),
        S("time_zone"),
        S("title", max_length=255),
        Field("unsubscribe_sms_marketing", "bool", render=False),
    ),
    filters=_filters(
        "id",
        "archived_at",
        "created_at",
        "updated_at",
        date_of_birth="date",
        email="string",
        first_name="string",
        last_name="string",
        old_reference_id="string",
        preferred_first_name="string",
    ),
    ops=OPS_CRUD | {"unarchive"},
    required=("first_name", "last_name"),
    collections=(
        ("appointments", "patients/{id}/appointments"),
        ("attendees", "patients/{id}/attendees"),
        ("invoices", "patients/{id}/invoices"),
        ("medical_alerts", "patients/{id}/medical_alerts"),
        ("patient_attachments", "patients/{id}/patient_attachments"),
    ),
    hide=("archived_at", "deleted_at"),
    validate=_validate_patient,
)


# --------------------------------------------------------------------------- contacts


def _validate_contact(ctx: WriteContext) -> None:
    _check_email(ctx, "email")
    code = ctx.record.get("country_code")
    if code is not None:
        if code not in COUNTRIES:
            ctx.error("country_code", "is not included in the list")
        ctx.record["country"] = COUNTRIES.get(code)
    type_code = ctx.record.get("type_code")
    ctx.record["type"] = CONTACT_TYPES.get(type_code) if type_code is not None else None
    if not any(ctx.record.get(k) for k in ("first_name", "last_name", "company_name")):
        ctx.error("base", "A contact needs a name or a company name")


CONTACTS = ResourceDef(
    name="contacts",
    fields=(
        *COMMON,
        S("address_1"),
        S("address_2"),
        S("address_3"),
        ARCHIVED,
        S("city"),
        S("company_name"),
        S("country", api=False),
        S("country_code"),
        DELETED,
        Field("doctor_type", "str", choices=("general_practitioner", "specialist")),
        S("email"),
        S("first_name"),
        S("last_name"),
        S("notes"),
        S("occupation"),
        Field("phone_numbers", "phones", default=()),
        S("post_code"),
        S("preferred_name"),
        S("provider_number"),
        S("state"),
        S("title"),
        S("type", api=False),
        Field("type_code", "int", choices=(0, 1, 2)),
    ),
    filters=_filters(
        "id",
        "archived_at",
        "created_at",
        "deleted_at",
        "updated_at",
        email="string",
        first_name="string",
        last_name="string",
        type_code="integer",
    ),
    get_filters=("archived_at", "deleted_at"),
    hide=("archived_at", "deleted_at"),
    validate=_validate_contact,
)


# --------------------------------------------------------------------------- appointment types


def _validate_appointment_type(ctx: WriteContext) -> None:
    rec = ctx.record
    rec.setdefault("duration_in_minutes", 30)
    rec.setdefault("max_attendees", 1)
    rec.setdefault("color", "#6aa5d8")
    duration = rec.get("duration_in_minutes")
    if not isinstance(duration, int) or not 1 <= duration <= 1439:
        ctx.error("duration_in_minutes", "must be between 1 and 1439")
    if not isinstance(rec.get("max_attendees"), int) or not 0 < rec["max_attendees"] < 100:
        ctx.error("max_attendees", "must be between 1 and 99")
    if not _COLOR_RE.match(str(rec.get("color"))):
        ctx.error("color", "is invalid")


APPOINTMENT_TYPES = ResourceDef(
    name="appointment_types",
    fields=(
        *COMMON,
        B("add_deposit_to_account_credit"),
        Field("appointment_confirmation_template_ids", "ids"),
        Field("appointment_reminder_template_ids", "ids"),
        ARCHIVED,
        REF("billable_item_id", "billable_items"),
        S("category"),
        S("color"),
        Field("deposit_price", "decimal"),
        S("description"),
        Field("duration_in_minutes", "int"),
        Field("max_attendees", "int"),
        S("name"),
        Field("online_bookings_lead_time_hours", "int", choices=_LEAD_TIMES),
        B("online_payments_enabled", api=False),
        Field("online_payments_mode", "str", choices=("deposit_required", "optional", "required")),
        REF("product_id", "products"),
        B("show_in_online_bookings"),
        B("telehealth_enabled"),
        REF("treatment_note_template_id", "treatment_note_templates"),
        Field("business_ids", "ids", target="businesses", render=False),
        Field("practitioner_ids", "ids", target="practitioners", render=False),
    ),
    filters=_filters(
        "id",
        "archived_at",
        "created_at",
        "updated_at",
        category="string",
        online_payments_mode="string",
        show_in_online_bookings="boolean",
        appointment_confirmation_template_ids="array",
        appointment_reminder_template_ids="array",
    ),
    required=("name",),
    collections=(("practitioners", "appointment_types/{id}/practitioners"),),
    validate=_validate_appointment_type,
)


# --------------------------------------------------------------------------- bookings


def _booking_refs(ctx: WriteContext, *, patient: bool) -> None:
    _check_times(ctx)
    _check_repeat_rule(ctx)
    if patient and ctx.record.get("patient_id") is not None:
        found = ctx.store.find("patients", ctx.record["patient_id"])
        if found is not None:
            ctx.record["patient_name"] = _label(found)
        ctx.record["patient_ids"] = [ctx.record["patient_id"]]


def _appointment_type_defaults(ctx: WriteContext, *, group: bool) -> None:
    rec = ctx.record
    appt_type = ctx.store.find("appointment_types", rec.get("appointment_type_id"))
    if appt_type is None:
        return
    if rec.get("ends_at") is None and rec.get("starts_at") is not None:
        rec["ends_at"] = rec["starts_at"] + 60 * int(appt_type.get("duration_in_minutes", 30))
    if group and rec.get("max_attendees") is None:
        # The spec's group schema wants 2..99 (exclusive bounds 1 and 100).
        rec["max_attendees"] = max(2, int(appt_type.get("max_attendees", 1)))


def _validate_individual_appointment(ctx: WriteContext) -> None:
    _appointment_type_defaults(ctx, group=False)
    _booking_refs(ctx, patient=True)


def _after_individual_appointment(store: RecordStore, rec: Record, old: Record | None) -> None:
    # Each individual appointment carries exactly one attendee (its patient's place in the booking).
    if old is None:
        attendee = store.insert_raw(
            "attendees",
            {
                "booking_id": rec["id"],
                "patient_id": rec["patient_id"],
                "created_at": rec["created_at"],
                "updated_at": rec["updated_at"],
            },
        )
        store.set_fields("individual_appointments", rec["id"], {"attendee_id": attendee["id"]}, touch=False)
        _latest_booking(store, rec["patient_id"], rec["id"])
        return
    attendee_id = rec.get("attendee_id")
    if rec.get("patient_id") != old.get("patient_id") and attendee_id is not None:
        store.set_fields("attendees", attendee_id, {"patient_id": rec["patient_id"]})


BOOKING_COMMON = (
    *COMMON,
    REF("appointment_type_id", "appointment_types"),
    ARCHIVED,
    REF("business_id", "businesses"),
    DELETED,
    DT("ends_at"),
    S("notes"),
    REF("practitioner_id", "practitioners"),
    REPEAT_RULE,
    REF("repeated_from_id", "bookings", api=False, link="repeated_from"),
    DT("starts_at"),
    S("telehealth_url", api=False),
)
BOOKING_FILTERS = _filters(
    "id",
    "archived_at",
    "created_at",
    "deleted_at",
    "updated_at",
    "appointment_type_id",
    "business_id",
    "ends_at",
    "practitioner_id",
    "repeated_from_id",
    "starts_at",
)

INDIVIDUAL_APPOINTMENTS = ResourceDef(
    name="individual_appointments",
    fields=(
        *BOOKING_COMMON,
        S("booking_ip_address", api=False),
        S("cancellation_note", api=False),
        Field("cancellation_reason", "int", api=False, choices=tuple(CANCELLATION_REASONS)),
        S("cancellation_reason_description", api=False),
        DT("cancelled_at", api=False),
        B("did_not_arrive", api=False, default=False),
        B("email_reminder_sent", api=False, default=False),
        B("has_patient_appointment_notes", api=False, default=False),
        Field("invoice_status", "int", api=False, choices=(10, 20, 30, 40)),
        B("online_booking_policy_accepted", api=False),
        REF("patient_id", "patients"),
        B("patient_arrived", api=False, default=False),
        REF("patient_case_id", "patient_cases"),
        S("patient_name", api=False),
        B("sms_reminder_sent", api=False, default=False),
        Field("treatment_note_status", "int", api=False, choices=(10, 90)),
        Field("patient_ids", "ids", api=False, render=False),
        Field("attendee_id", "ref", api=False, render=False, target="attendees"),
    ),
    filters={**BOOKING_FILTERS, **_filters("cancelled_at", "patient_id")},
    ops=OPS_CRUD | {"cancel", "conflicts"},
    get_filters=("archived_at", "deleted_at", "cancelled_at"),
    required=("starts_at", "patient_id", "practitioner_id", "appointment_type_id", "business_id"),
    sequence="bookings",
    collections=(
        ("attendees", "individual_appointments/{id}/attendees"),
        ("conflicts", "individual_appointments/{id}/conflicts"),
        ("repeats", "individual_appointments?q[]=repeated_from_id:={id}"),
    ),
    hide=("archived_at", "deleted_at", "cancelled_at"),
    validate=_validate_individual_appointment,
    after_write=_after_individual_appointment,
)


def _validate_group_appointment(ctx: WriteContext) -> None:
    _appointment_type_defaults(ctx, group=True)
    _booking_refs(ctx, patient=False)
    max_attendees = ctx.record.get("max_attendees")
    if max_attendees is not None and not 1 < max_attendees < 100:
        ctx.error("max_attendees", "must be between 2 and 99")


GROUP_APPOINTMENTS = ResourceDef(
    name="group_appointments",
    fields=(
        *BOOKING_COMMON,
        Field("max_attendees", "int"),
        Field("patient_ids", "ids", api=False, default=()),
    ),
    filters={**BOOKING_FILTERS, "patient_ids": "array"},
    ops=OPS_CRUD | {"conflicts"},
    get_filters=("archived_at", "deleted_at"),
    required=("starts_at", "practitioner_id", "appointment_type_id", "business_id"),
    sequence="bookings",
    collections=(
        ("attendees", "group_appointments/{id}/attendees"),
        ("conflicts", "group_appointments/{id}/conflicts"),
        ("repeats", "group_appointments?q[]=repeated_from_id:={id}"),
    ),
    hide=("archived_at", "deleted_at"),
    validate=_validate_group_appointment,
)


def _validate_unavailable_block(ctx: WriteContext) -> None:
    _check_times(ctx)
    _check_repeat_rule(ctx, max_repeats=51)  # the spec's bound for unavailable blocks


def _validate_availability_block(ctx: WriteContext) -> None:
    _check_times(ctx)
    _check_repeat_rule(ctx, max_repeats=100)  # the spec's bound for availability blocks


UNAVAILABLE_BLOCKS = ResourceDef(
    name="unavailable_blocks",
    fields=tuple(f for f in BOOKING_COMMON if f.name not in {"appointment_type_id", "telehealth_url"}),
    filters={k: v for k, v in BOOKING_FILTERS.items() if k != "appointment_type_id"},
    ops=OPS_CRUD | {"conflicts"},
    get_filters=("archived_at", "deleted_at"),
    required=("starts_at", "ends_at", "practitioner_id", "business_id"),
    sequence="bookings",
    collections=(
        ("conflicts", "unavailable_blocks/{id}/conflicts"),
        ("repeats", "unavailable_blocks?q[]=repeated_from_id:={id}"),
    ),
    hide=("archived_at", "deleted_at"),
    validate=_validate_unavailable_block,
)

AVAILABILITY_BLOCKS = ResourceDef(
    name="availability_blocks",
    fields=(
        *COMMON,
        REF("business_id", "businesses"),
        DT("ends_at"),
        REF("practitioner_id", "practitioners"),
        REPEAT_RULE,
        DT("starts_at"),
    ),
    filters=_filters("id", "created_at", "updated_at", "business_id", "practitioner_id", "starts_at"),
    ops=frozenset({"list", "get", "create"}),
    get_filters=(),
    required=("starts_at", "ends_at", "practitioner_id", "business_id"),
    hide=(),
    validate=_validate_availability_block,
)

BOOKINGS = ResourceDef(
    name="bookings",
    fields=(),
    filters={
        **BOOKING_FILTERS,
        **_filters("cancelled_at"),
        "patient_ids": "array",
        "did_not_arrive": "boolean",
    },
    ops=frozenset({"list", "get"}),
    get_filters=("archived_at", "deleted_at", "cancelled_at"),
    hide=("archived_at", "deleted_at", "cancelled_at"),
    union_of=BOOKING_SOURCES,
)


# --------------------------------------------------------------------------- attendees


def _validate_attendee(ctx: WriteContext) -> None:
    if not ctx.creating:
        return
    booking_id = ctx.record.get("booking_id")
    owner = ctx.store.owner("bookings", booking_id) if booking_id is not None else None
    if owner is None:
        ctx.error("booking", "must exist")
        return
    if owner != "group_appointments":
        if not ctx.staff:
            ctx.error("booking", "must be a group appointment")
        return
    booking = ctx.store.find("group_appointments", booking_id) or {}
    if booking.get("cancelled_at") is not None or booking.get("archived_at") is not None:
        ctx.error("booking", "is not available")
    taken = sum(
        1
        for a in ctx.store.all_records("attendees")
        if a.get("booking_id") == booking_id and a.get("cancelled_at") is None and a.get("archived_at") is None
    )
    if taken >= int(booking.get("max_attendees", 1)):
        ctx.error("base", "The appointment is full")


def refresh_group_patients(store: RecordStore, booking_id: int) -> None:
    """A group appointment's ``patient_ids``: its attendees still booked in."""
    if store.find("group_appointments", booking_id) is None:
        return
    ids = [
        a["patient_id"]
        for a in store.all_records("attendees")
        if a.get("booking_id") == booking_id and a.get("cancelled_at") is None and a.get("archived_at") is None
    ]
    store.set_fields("group_appointments", booking_id, {"patient_ids": ids}, touch=store.behaviour.parent_bumps)


def _after_attendee(store: RecordStore, rec: Record, old: Record | None) -> None:
    refresh_group_patients(store, rec["booking_id"])
    if old is None and store.find("group_appointments", rec["booking_id"]) is not None:
        _latest_booking(store, rec["patient_id"], rec["booking_id"])


def _latest_booking(store: RecordStore, patient_id: int, booking_id: int) -> None:
    # A link derived from a child (the booking): whether Cliniko moves the patient's updated_at for it is not
    # documented, so it follows the parent-bumps switch.
    if store.find("patients", patient_id) is not None:
        store.set_fields("patients", patient_id, {"latest_booking_id": booking_id}, touch=store.behaviour.parent_bumps)


ATTENDEES = ResourceDef(
    name="attendees",
    fields=(
        *COMMON,
        ARCHIVED,
        B("arrived"),
        REF("booking_id", "bookings"),
        S("booking_ip_address", api=False),
        S("cancellation_note", api=False),
        Field("cancellation_reason", "int", api=False, choices=tuple(CANCELLATION_REASONS)),
        S("cancellation_reason_description", api=False),
        S("cancellation_url", api=False),
        DT("cancelled_at", api=False),
        DELETED,
        B("email_reminder_sent", api=False, default=False),
        Field("invoice_status", "int", api=False, choices=(10, 20, 30, 40)),
        S("notes"),
        B("online_booking_policy_accepted", api=False),
        REF("patient_id", "patients"),
        REF("patient_case_id", "patient_cases"),
        B("sms_reminder_sent", api=False, default=False),
        S("telehealth_url", api=False),
        Field("treatment_note_status", "int", api=False, choices=(10, 90)),
    ),
    filters=_filters(
        "id",
        "archived_at",
        "created_at",
        "deleted_at",
        "updated_at",
        "appointment_id",
        "booking_id",
        "cancelled_at",
        "patient_case_id",
        "patient_id",
    ),
    ops=OPS_CRUD | {"cancel"},
    get_filters=("archived_at", "deleted_at", "cancelled_at"),
    required=("booking_id", "patient_id"),
    update_fields=("arrived", "notes", "patient_case_id"),
    collections=(("invoices", "attendees/{id}/invoices"), ("patient_forms", "attendees/{id}/patient_forms")),
    hide=("archived_at", "deleted_at", "cancelled_at"),
    filter_attrs={"appointment_id": "booking_id"},
    validate=_validate_attendee,
    after_write=_after_attendee,
)


# --------------------------------------------------------------------------- invoices


def _validate_invoice(ctx: WriteContext) -> None:
    rec = ctx.record
    if ctx.creating:
        rec.setdefault("status", 10)
        if rec.get("number") is None:
            numbers = [r.get("number", 0) for r in ctx.store.all_records("invoices")]
            rec["number"] = max(numbers, default=0) + 1
        if rec.get("issue_date") is None:
            now = datetime.fromtimestamp(ctx.store.clock.now_epoch(), UTC)
            rec["issue_date"] = now.date().isoformat()
        for key in ("total_amount", "tax_amount", "net_amount", "discounted_amount"):
            rec.setdefault(key, "0.00")
    rec["status_description"] = INVOICE_STATUSES.get(rec.get("status", 10))
    booking = rec.get("appointment_id")
    if booking is not None and ctx.store.owner("bookings", booking) is None:
        ctx.error("appointment", "must exist")


INVOICES = ResourceDef(
    name="invoices",
    fields=(
        *COMMON,
        REF("appointment_id", "appointments", link="appointment"),
        ARCHIVED,
        REF("business_id", "businesses"),
        DT("closed_at"),
        DELETED,
        Field("discounted_amount", "decimal"),
        S("invoice_to"),
        Field("issue_date", "date"),
        Field("net_amount", "decimal"),
        S("notes"),
        Field("number", "int"),
        S("online_payment_url"),
        REF("patient_id", "patients"),
        S("patient_extra_information"),
        REF("practitioner_id", "practitioners"),
        Field("status", "int", choices=tuple(INVOICE_STATUSES)),
        S("status_description", api=False),
        Field("tax_amount", "decimal"),
        Field("total_amount", "decimal"),
        Field("attendee_id", "ref", target="attendees", render=False),  # for /attendees/{id}/invoices only
    ),
    filters=_filters(
        "id",
        "archived_at",
        "created_at",
        "deleted_at",
        "updated_at",
        "appointment_id",
        "business_id",
        "patient_id",
        "practitioner_id",
        issue_date="date",
        number="integer",
        status="integer",
    ),
    ops=frozenset({"list", "get"}),
    get_filters=("archived_at", "deleted_at"),
    required=("patient_id", "business_id"),
    collections=(("invoice_items", "invoices/{id}/invoice_items"),),
    hide=("archived_at", "deleted_at"),
    validate=_validate_invoice,
)


def _validate_invoice_item(ctx: WriteContext) -> None:
    rec = ctx.record
    rec.setdefault("quantity", 1)
    rec.setdefault("unit_price", "0.00")
    quantity = Decimal(int(rec["quantity"]))
    gross = Decimal(rec["unit_price"]) * quantity
    discount = Decimal(str(rec.get("discount_percentage") or 0)) / 100 * gross
    net = gross - discount
    rate = Decimal(str(rec.get("tax_rate") or 0))
    tax = net * rate / 100
    rec["discounted_amount"] = money(discount)
    rec["net_price"] = money(net)
    rec["tax_amount"] = float(money(tax))
    rec["total_including_tax"] = float(money(net + tax))


def recompute_invoice(store: RecordStore, invoice_id: int) -> None:
    """An invoice's money fields are the sums of its items."""
    items = [
        i
        for i in store.all_records("invoice_items")
        if i.get("invoice_id") == invoice_id and i.get("archived_at") is None
    ]
    net = sum((Decimal(i["net_price"]) for i in items), Decimal(0))
    tax = sum((Decimal(str(i["tax_amount"])) for i in items), Decimal(0))
    discount = sum((Decimal(i["discounted_amount"]) for i in items), Decimal(0))
    store.set_fields(
        "invoices",
        invoice_id,
        {
            "net_amount": money(net),
            "tax_amount": money(tax),
            "total_amount": money(net + tax),
            "discounted_amount": money(discount),
        },
        touch=store.behaviour.parent_bumps,
    )


def _after_invoice_item(store: RecordStore, rec: Record, old: Record | None) -> None:
    recompute_invoice(store, rec["invoice_id"])


INVOICE_ITEMS = ResourceDef(
    name="invoice_items",
    fields=(
        *COMMON,
        ARCHIVED,
        REF("billable_item_id", "billable_items"),
        S("code"),
        S("concession_type_name"),
        DELETED,
        Field("discount_percentage", "float"),
        Field("discounted_amount", "decimal", api=False),
        REF("invoice_id", "invoices"),
        B("is_monetary_discount", default=False),
        S("name"),
        Field("net_price", "decimal", api=False),
        REF("product_id", "products"),
        Field("quantity", "int"),
        Field("tax_amount", "float", api=False),
        S("tax_name"),
        Field("tax_rate", "float"),
        Field("total_including_tax", "float", api=False),
        Field("unit_price", "decimal"),
    ),
    filters=_filters("id", "archived_at", "created_at", "deleted_at", "updated_at", "invoice_id"),
    ops=frozenset({"list", "get"}),
    get_filters=("archived_at", "deleted_at"),
    required=("invoice_id", "unit_price"),
    hide=("archived_at", "deleted_at"),
    validate=_validate_invoice_item,
    after_write=_after_invoice_item,
)


# --------------------------------------------------------------------------- products


def _validate_product(ctx: WriteContext) -> None:
    price = ctx.record.get("price")
    if price is not None:
        ctx.record["price_ex_tax"] = price
        ctx.record["price_including_tax"] = price


PRODUCTS = ResourceDef(
    name="products",
    fields=(
        *COMMON,
        ARCHIVED,
        Field("cost_price", "decimal"),
        S("item_code"),
        S("name"),
        S("notes"),
        Field("price", "decimal", render=False),
        Field("price_includes_tax", "bool", render=False),
        Field("price_ex_tax", "decimal", api=False),
        Field("price_including_tax", "decimal", api=False),
        REF("product_supplier_id", "product_suppliers", api=False),
        S("product_supplier_name"),
        S("serial_number"),
        Field("stock_level", "int"),
        REF("tax_id", "taxes"),
    ),
    filters=_filters("id", "archived_at", "created_at", "updated_at", "tax_id", name="string"),
    required=("name",),
    update_fields=(
        "cost_price",
        "item_code",
        "name",
        "notes",
        "price",
        "price_includes_tax",
        "product_supplier_name",
        "serial_number",
        "stock_level",
        "tax_id",
    ),
    validate=_validate_product,
)


# --------------------------------------------------------------------------- medical alerts

MEDICAL_ALERTS = ResourceDef(
    name="medical_alerts",
    fields=(*COMMON, ARCHIVED, DELETED, S("name", max_length=255), REF("patient_id", "patients")),
    filters=_filters("id", "archived_at", "created_at", "deleted_at", "updated_at", "patient_id"),
    get_filters=("archived_at", "deleted_at"),
    required=("name", "patient_id"),
    hide=("archived_at", "deleted_at"),
)


# --------------------------------------------------------------------------- treatment notes


def _validate_treatment_note(ctx: WriteContext) -> None:
    rec = ctx.record
    _check_content(ctx)
    if ctx.creating:
        rec.setdefault("draft", True)
        if rec.get("practitioner_id") is None and ctx.user_id is not None:
            for practitioner in ctx.store.all_records("practitioners"):
                if practitioner.get("user_id") == ctx.user_id:
                    rec["practitioner_id"] = practitioner["id"]
                    break
        if rec.get("title") is None:
            template = ctx.store.find("treatment_note_templates", rec.get("treatment_note_template_id"))
            rec["title"] = (template or {}).get("name") or "Treatment Note"
        if rec.get("content") is None and rec.get("treatment_note_template_id") is not None:
            template = ctx.store.find("treatment_note_templates", rec["treatment_note_template_id"])
            rec["content"] = (template or {}).get("content")
    if rec.get("draft") is False and rec.get("finalized_at") is None:
        rec["finalized_at"] = ctx.store.clock.now_epoch()
    author = ctx.store.find("practitioners", rec.get("practitioner_id"))
    if author is not None:
        rec["author_name"] = author.get("label") or _label(author)
    if rec.get("attendee_id") is not None and rec.get("booking_id") is None:
        found = ctx.store.find("attendees", rec["attendee_id"])
        rec["booking_id"] = found.get("booking_id") if found is not None else None


TREATMENT_NOTES = ResourceDef(
    name="treatment_notes",
    fields=(
        *COMMON,
        ARCHIVED,
        REF("attendee_id", "attendees"),
        S("author_name", api=False),
        REF("booking_id", "bookings"),
        Field("content", "json"),
        DELETED,
        B("draft"),
        DT("finalized_at", api=False),
        REF("patient_id", "patients"),
        DT("pinned_at", api=False),
        REF("practitioner_id", "practitioners", api=False),
        S("title", max_length=255),
        REF("treatment_note_template_id", "treatment_note_templates"),
    ),
    filters=_filters(
        "id",
        "archived_at",
        "created_at",
        "deleted_at",
        "updated_at",
        "attendee_id",
        "booking_id",
        "patient_id",
        "practitioner_id",
        "treatment_note_template_id",
        draft="boolean",
    ),
    get_filters=("archived_at", "deleted_at"),
    required=("patient_id",),
    hide=("archived_at", "deleted_at"),
    validate=_validate_treatment_note,
)


def _validate_template(ctx: WriteContext) -> None:
    ctx.record.setdefault("content", {"sections": []})
    _check_content(ctx)


TREATMENT_NOTE_TEMPLATES = ResourceDef(
    name="treatment_note_templates",
    fields=(
        *COMMON,
        ARCHIVED,
        Field("content", "json"),
        DELETED,
        S("name", max_length=255),
        Field("print_settings", "json"),
    ),
    filters=_filters("id", "archived_at", "created_at", "deleted_at", "updated_at"),
    get_filters=("archived_at", "deleted_at"),
    required=("name",),
    hide=("archived_at", "deleted_at"),
    validate=_validate_template,
)


# --------------------------------------------------------------------------- communications


def _validate_communication(ctx: WriteContext) -> None:
    rec = ctx.record
    if ctx.creating:
        rec.setdefault("category_code", 12)
    elif not ctx.staff and rec.get("category_code") != 12:
        ctx.error("base", "Only memos can be updated")
    if not ctx.staff and rec.get("category_code") != 12:
        ctx.error("category_code", "must be 12 (memo)")
    rec["category"] = COMMUNICATION_CATEGORIES.get(rec.get("category_code", 12), "Other")
    rec["type"] = COMMUNICATION_TYPES.get(rec.get("type_code", 4))
    rec["direction_description"] = DIRECTIONS.get(rec.get("direction_code", 1))


COMMUNICATIONS = ResourceDef(
    name="communications",
    fields=(
        *COMMON,
        ARCHIVED,
        REF("attendee_id", "attendees", api=False),
        REF("booking_id", "bookings", api=False),
        S("category", api=False),
        Field("category_code", "int"),
        B("confidential"),
        S("content"),
        S("content_subject", api=False),
        Field("direction_code", "int", choices=(1, 2)),
        S("direction_description", api=False),
        S("from"),
        REF("invoice_id", "invoices", api=False),
        REF("letter_id", "letters", api=False),
        REF("patient_id", "patients"),
        REF("payment_id", "payments", api=False),
        S("to"),
        S("type", api=False),
        Field("type_code", "int", choices=(1, 2, 3, 4)),
    ),
    filters=_filters("id", "archived_at", "created_at", "updated_at", "patient_id", category_code="integer"),
    ops=frozenset({"list", "get", "create", "update", "archive"}),
    required=("confidential", "content", "direction_code", "from", "patient_id", "to", "type_code"),
    validate=_validate_communication,
)


# --------------------------------------------------------------------------- people & places


def _validate_practitioner(ctx: WriteContext) -> None:
    rec = ctx.record
    rec.setdefault("active", True)
    rec.setdefault("show_in_online_bookings", True)
    name = _label(rec)
    rec["label"] = " ".join(p for p in (rec.get("title"), name) if p)
    if not rec.get("display_name"):
        rec["display_name"] = rec["label"]


PRACTITIONERS = ResourceDef(
    name="practitioners",
    fields=(
        *COMMON,
        B("active"),
        REF("default_appointment_type_id", "appointment_types", link="default_appointment_type"),
        S("description"),
        S("designation"),
        S("display_name"),
        S("first_name"),
        S("label", api=False),
        S("last_name"),
        B("show_in_online_bookings"),
        S("title"),
        REF("user_id", "users"),
        Field("business_ids", "ids", target="businesses", render=False),
    ),
    filters=_filters("id", "created_at", "updated_at", "user_id", show_in_online_bookings="boolean"),
    ops=frozenset({"list", "get"}),
    get_filters=(),
    required=("first_name", "last_name"),
    collections=(
        ("appointment_types", "practitioners/{id}/appointment_types"),
        ("appointments", "practitioners/{id}/appointments"),
        ("invoices", "practitioners/{id}/invoices"),
        ("practitioner_reference_numbers", "practitioners/{id}/practitioner_reference_numbers"),
    ),
    hide=(),
    validate=_validate_practitioner,
)


def _validate_business(ctx: WriteContext) -> None:
    rec = ctx.record
    _check_email(ctx, "email_reply_to")
    code = rec.get("country_code")
    if code is not None:
        if code not in COUNTRIES:
            ctx.error("country_code", "is not included in the list")
        rec["country"] = COUNTRIES.get(code)
    identifier = ctx.changes.get("time_zone_identifier")
    if isinstance(identifier, str):
        _check_time_zone(ctx, "time_zone_identifier")
        rec.setdefault("time_zone", identifier.rsplit("/", 1)[-1].replace("_", " "))
    rec.setdefault("show_in_online_bookings", False)
    rec["label"] = rec.get("display_name") or rec.get("business_name")


BUSINESSES = ResourceDef(
    name="businesses",
    fields=(
        *COMMON,
        S("additional_information"),
        S("additional_invoice_information"),
        S("address_1"),
        S("address_2"),
        B("appointment_reminders_enabled"),
        Field("appointment_type_ids", "ids", target="appointment_types"),
        ARCHIVED,
        S("business_name"),
        S("business_registration_name"),
        S("business_registration_value"),
        S("city"),
        S("contact_information"),
        S("country", api=False),
        S("country_code"),
        DELETED,
        S("display_name"),
        S("email_reply_to"),
        S("label", api=False),
        Field("logo", "str", render=False),  # base64 upload: accepted, never shown back
        Field("logo_height", "int", render=False),
        S("post_code"),
        Field("remove_logo", "bool", render=False),
        B("show_in_online_bookings"),
        S("state"),
        S("time_zone"),
        S("time_zone_identifier"),
        S("website_address"),
    ),
    filters=_filters(
        "id",
        "archived_at",
        "created_at",
        "deleted_at",
        "updated_at",
        appointment_type_ids="array",
        show_in_online_bookings="boolean",
    ),
    ops=OPS_CRUD | {"unarchive"},
    get_filters=("archived_at", "deleted_at"),
    required=("business_name",),
    collections=(
        ("appointments", "businesses/{id}/appointments"),
        ("practitioners", "businesses/{id}/practitioners"),
    ),
    hide=("archived_at", "deleted_at"),
    validate=_validate_business,
)


def _validate_user(ctx: WriteContext) -> None:
    rec = ctx.record
    _check_email(ctx, "email")
    rec.setdefault("active", True)
    rec.setdefault("user_active", True)
    rec.setdefault("role", "practitioner")
    rec.setdefault("time_zone", "Melbourne")
    rec.setdefault("time_zone_identifier", "Australia/Melbourne")
    if ctx.changes.get("time_zone_identifier") is not None:
        _check_time_zone(ctx, "time_zone_identifier")


USERS = ResourceDef(
    name="users",
    fields=(
        *COMMON,
        B("active"),
        S("email"),
        S("first_name"),
        S("last_name"),
        B("new_ui_enabled", default=True),
        Field("phone_numbers", "phones", default=()),
        Field("privacy_policy_accepted", "float"),
        Field(
            "role",
            "str",
            choices=("administrator", "bookkeeper", "power receptionist", "practitioner", "receptionist", "scheduler"),
        ),
        S("time_zone"),
        S("time_zone_identifier"),
        S("title"),
        B("user_active"),
    ),
    filters=_filters("id", "created_at", "updated_at"),
    ops=frozenset({"list", "get"}),
    get_filters=(),
    required=("first_name", "last_name", "email"),
    hide=(),
    validate=_validate_user,
)


# --------------------------------------------------------------------------- issue 15: forms, cases, stock, setup

_ADJUSTMENT_TYPES = ("Stock Purchase", "Returned", "Other", "Damaged", "Out of Date", "Item Sold")
# Adjustments that take stock away; the others add it (Cliniko's UI shows the quantity with that sign).
_STOCK_OUT = frozenset({"Damaged", "Out of Date", "Item Sold"})


def _validate_patient_form(ctx: WriteContext) -> None:
    rec = ctx.record
    template = ctx.store.find("patient_form_templates", rec.get("patient_form_template_id"))
    if ctx.creating and template is not None:
        for key in ("name", "content", "email_to_patient_on_completion", "restricted_to_practitioner"):
            if rec.get(key) is None:
                rec[key] = template.get(key)
    if ctx.creating and rec.get("name") is None:
        ctx.error("name", "can't be blank")
    completed = ctx.changes.get("completed")
    if completed is True and rec.get("completed_at") is None:
        rec["completed_at"] = ctx.store.clock.now_epoch()
    elif completed is False:
        rec["completed_at"] = None
    rec.pop("completed", None)
    if rec.get("attendee_id") is not None:
        attendee = ctx.store.find("attendees", rec["attendee_id"])
        rec["booking_id"] = (attendee or {}).get("booking_id")
    if ctx.creating:
        rec["url"] = (
            f"https://forms.cliniko.example/patient_forms/{rec.get('patient_id')}-{ctx.store.clock.now_epoch()}"
        )
    _check_content(ctx)


PATIENT_FORMS = ResourceDef(
    name="patient_forms",
    fields=(
        *COMMON,
        # Archiving hides a form; the spec shows no `archived_at` on it and lists can't ask for archived ones.
        Field("archived_at", "datetime", api=False, render=False),
        REF("attendee_id", "attendees"),
        REF("booking_id", "bookings", api=False),
        Field("completed", "bool", render=False),
        DT("completed_at", api=False),
        Field("content", "json"),
        B("email_to_patient_on_completion"),
        S("name", max_length=255),
        REF("patient_id", "patients"),
        Field("patient_form_template_id", "ref", target="patient_form_templates", render=False),
        B("restricted_to_practitioner"),
        S("url", api=False),
    ),
    filters=_filters("id", "created_at", "updated_at", "attendee_id", "completed_at", "patient_id"),
    ops=frozenset({"list", "get", "create", "update", "archive"}),
    get_filters=(),
    required=("patient_id",),
    collections=(("signatures", "patient_forms/{id}/signatures"),),
    hide=("archived_at",),
    validate=_validate_patient_form,
)

PATIENT_FORM_TEMPLATES = ResourceDef(
    name="patient_form_templates",
    fields=(
        *COMMON,
        ARCHIVED,
        Field("content", "json"),
        B("email_to_patient_on_completion"),
        S("name", max_length=255),
        B("restricted_to_practitioner"),
    ),
    filters=_filters("id", "archived_at", "created_at", "updated_at"),
    ops=frozenset({"list", "get", "create", "update", "archive"}),
    required=("name",),
    validate=_validate_template,
)


def _validate_patient_case(ctx: WriteContext) -> None:
    rec = ctx.record
    sessions = rec.get("max_sessions")
    if sessions is not None and not 1 <= sessions <= 200:
        ctx.error("max_sessions", "must be between 1 and 200")
    amount = rec.get("max_invoiceable_amount")
    if amount is not None and Decimal(str(amount)) <= 0:
        ctx.error("max_invoiceable_amount", "must be greater than 0")
    rec.setdefault("closed", False)


PATIENT_CASES = ResourceDef(
    name="patient_cases",
    fields=(
        *COMMON,
        ARCHIVED,
        Field("attendee_ids", "ids", target="attendees"),
        B("closed"),
        REF("contact_id", "contacts"),
        Field("expiry_date", "date"),
        B("include_cancelled_attendees"),
        B("include_dna_attendees"),
        Field("issue_date", "date"),
        Field("max_invoiceable_amount", "decimal"),
        Field("max_sessions", "int"),
        S("name"),
        S("notes"),
        REF("patient_id", "patients"),
        Field("patient_attachment_ids", "ids", target="patient_attachments", render=False),
        B("referral"),
        Field("referral_type", "str", choices=("dva", "medicare")),
    ),
    filters=_filters("id", "archived_at", "created_at", "updated_at", "patient_id", expiry_date="date"),
    ops=frozenset({"list", "get", "create", "update", "archive"}),
    required=("name", "patient_id"),
    collections=(
        ("attendees", "patient_cases/{id}/attendees"),
        ("bookings", "patient_cases/{id}/bookings"),
        ("invoices", "patient_cases/{id}/invoices"),
        ("patient_attachments", "patient_cases/{id}/patient_attachments"),
    ),
    validate=_validate_patient_case,
)


def _validate_patient_attachment(ctx: WriteContext) -> None:
    rec = ctx.record
    if ctx.creating:
        url = rec.pop("upload_url", None)
        if not isinstance(url, str) or not url.startswith("https://"):
            ctx.error("upload_url", "is invalid")
            return
        rec["filename"] = url.rsplit("/", 1)[-1] or "upload"
        rec.setdefault("content_type", "application/pdf")
        rec.setdefault("size", 1024)
        rec["processed_at"] = ctx.store.clock.now_epoch()
        rec["processing_completed"] = True
        rec["user_id"] = ctx.user_id


PATIENT_ATTACHMENTS = ResourceDef(
    name="patient_attachments",
    fields=(
        *COMMON,
        ARCHIVED,
        S("content_type", api=False),
        S("description", max_length=255),
        S("filename", api=False),
        REF("patient_id", "patients"),
        DT("pinned_at", api=False),
        DT("processed_at", api=False),
        B("processing_completed", api=False),
        Field("size", "int", api=False),
        Field("upload_url", "str", render=False),
        REF("user_id", "users", api=False),
    ),
    filters=_filters(
        "id",
        "archived_at",
        "created_at",
        "processed_at",
        "updated_at",
        "patient_id",
        "user_id",
        content_type="string",
        description="string",
        filename="string",
        size="integer",
    ),
    ops=frozenset({"list", "get", "create", "archive", "delete"}),
    required=("patient_id", "upload_url"),
    collections=(("content", "patient_attachments/{id}/content"),),
    validate=_validate_patient_attachment,
)


def _validate_billable_item(ctx: WriteContext) -> None:
    price = ctx.record.get("price")
    if price is not None and not -4_000_000_000 <= Decimal(str(price)) < 4_000_000_000:
        ctx.error("price", "is out of range")


BILLABLE_ITEMS = ResourceDef(
    name="billable_items",
    fields=(
        *COMMON,
        ARCHIVED,
        S("item_code", max_length=100),
        Field("item_type", "str", choices=("Product", "Service", "Other")),
        S("name", max_length=255),
        Field("price", "decimal"),
        REF("tax_id", "taxes"),
    ),
    filters=_filters("id", "archived_at", "created_at", "updated_at", "tax_id"),
    required=("name", "item_type", "price"),
    validate=_validate_billable_item,
)


def _validate_stock_adjustment(ctx: WriteContext) -> None:
    rec = ctx.record
    if rec.get("quantity") is None:
        ctx.error("quantity", "can't be blank")
    elif rec["quantity"] <= 0:
        ctx.error("quantity", "must be greater than 0")
    product = ctx.store.find("products", rec.get("product_id"))
    if product is None:
        ctx.error("product", "must exist")
    rec["user_id"] = ctx.user_id


def _after_stock_adjustment(store: RecordStore, rec: Record, old: Record | None) -> None:
    # The product's stock level moves with every adjustment (and so does its updated_at: its own field changed).
    if old is not None:
        return
    product = store.find("products", rec["product_id"])
    if product is None:
        return
    sign = -1 if rec.get("adjustment_type") in _STOCK_OUT else 1
    level = int(product.get("stock_level") or 0) + sign * int(rec["quantity"])
    store.set_fields("products", product["id"], {"stock_level": level})


STOCK_ADJUSTMENTS = ResourceDef(
    name="stock_adjustments",
    fields=(
        *COMMON,
        Field("adjustment_type", "str", choices=_ADJUSTMENT_TYPES),
        S("comment"),
        REF("product_id", "products"),
        Field("quantity", "int"),
        REF("user_id", "users", api=False),
    ),
    filters=_filters("id", "created_at", "updated_at", "product_id"),
    ops=frozenset({"list", "get", "create"}),
    get_filters=(),
    required=("adjustment_type", "product_id"),
    hide=(),
    validate=_validate_stock_adjustment,
    after_write=_after_stock_adjustment,
)

CONCESSION_TYPES = ResourceDef(
    name="concession_types",
    fields=(*COMMON, S("name", max_length=255)),
    filters=_filters("id", "created_at", "updated_at"),
    ops=frozenset({"list", "get", "create", "update"}),
    get_filters=(),
    required=("name",),
    hide=(),
)

PRODUCT_SUPPLIERS = ResourceDef(
    name="product_suppliers",
    # Archiving hides a supplier; the spec shows no `archived_at` on it and lists can't ask for archived ones.
    fields=(*COMMON, Field("archived_at", "datetime", api=False, render=False), S("name")),
    filters=_filters("id", "created_at", "updated_at", name="string"),
    ops=frozenset({"list", "get", "create", "update", "archive", "delete"}),
    get_filters=(),
    required=("name",),
)


def _validate_tax(ctx: WriteContext) -> None:
    for key in ("amount", "rate"):
        value = ctx.record.get(key)
        if value is not None and not 0 <= value < 4_000_000_000:
            ctx.error(key, "is out of range")


TAXES = ResourceDef(
    name="taxes",
    fields=(*COMMON, Field("amount", "float", default=0.0), S("name"), Field("rate", "float", default=0.0)),
    filters=_filters("id", "created_at", "updated_at"),
    ops=frozenset({"list", "get", "create", "update", "delete"}),
    get_filters=(),
    required=("name",),
    hide=(),
    validate=_validate_tax,
)

PRACTITIONER_REFERENCE_NUMBERS = ResourceDef(
    name="practitioner_reference_numbers",
    fields=(
        *COMMON,
        REF("business_id", "businesses"),
        S("name"),
        REF("practitioner_id", "practitioners"),
        S("reference_number"),
    ),
    filters=_filters("id", "created_at", "updated_at", "business_id", "practitioner_id", reference_number="string"),
    ops=frozenset({"list", "get", "create", "update", "delete"}),
    get_filters=(),
    required=("practitioner_id", "business_id"),
    hide=(),
)


RESOURCES: dict[str, ResourceDef] = {
    r.name: r
    for r in (
        PATIENTS,
        CONTACTS,
        APPOINTMENT_TYPES,
        INDIVIDUAL_APPOINTMENTS,
        GROUP_APPOINTMENTS,
        UNAVAILABLE_BLOCKS,
        AVAILABILITY_BLOCKS,
        BOOKINGS,
        ATTENDEES,
        INVOICES,
        INVOICE_ITEMS,
        PRODUCTS,
        MEDICAL_ALERTS,
        TREATMENT_NOTES,
        TREATMENT_NOTE_TEMPLATES,
        COMMUNICATIONS,
        PRACTITIONERS,
        BUSINESSES,
        USERS,
        PATIENT_FORMS,
        PATIENT_FORM_TEMPLATES,
        PATIENT_CASES,
        PATIENT_ATTACHMENTS,
        BILLABLE_ITEMS,
        STOCK_ADJUSTMENTS,
        CONCESSION_TYPES,
        PRODUCT_SUPPLIERS,
        TAXES,
        PRACTITIONER_REFERENCE_NUMBERS,
    )
}

# Nested and scoped list endpoints: path (after /v1/) -> route. "{id}" is the parent id.
LIST_ROUTES: dict[str, ListRoute] = {
    **{name: ListRoute(name) for name, r in RESOURCES.items() if "list" in r.ops and name != "practitioners"},
    "practitioners": ListRoute("practitioners", scope=("active", True)),
    "practitioners/inactive": ListRoute("practitioners", scope=("active", False)),
    "patients/{id}/medical_alerts": ListRoute(
        "medical_alerts", "patients", child_attr="patient_id", exclude_filters=("patient_id",)
    ),
    "patients/{id}/invoices": ListRoute(
        "invoices", "patients", child_attr="patient_id", exclude_filters=("patient_id",)
    ),
    "patients/{id}/treatment_notes": ListRoute(
        "treatment_notes", "patients", child_attr="patient_id", exclude_filters=("patient_id",)
    ),
    "individual_appointments/{id}/attendees": ListRoute(
        "attendees", "individual_appointments", child_attr="booking_id"
    ),
    "group_appointments/{id}/attendees": ListRoute("attendees", "group_appointments", child_attr="booking_id"),
    "attendees/{id}/invoices": ListRoute("invoices", "attendees", child_attr="attendee_id"),
    "appointments/{id}/invoices": ListRoute(
        "invoices", "bookings", child_attr="appointment_id", exclude_filters=("appointment_id",)
    ),
    "invoices/{id}/invoice_items": ListRoute(
        "invoice_items", "invoices", child_attr="invoice_id", exclude_filters=("invoice_id",)
    ),
    "practitioners/{id}/appointment_types": ListRoute(
        "appointment_types", "practitioners", child_attr="practitioner_ids"
    ),
    "practitioners/{id}/invoices": ListRoute(
        "invoices", "practitioners", child_attr="practitioner_id", exclude_filters=("practitioner_id",)
    ),
    "businesses/{id}/practitioners": ListRoute(
        "practitioners", "businesses", child_attr="business_ids", scope=("active", True)
    ),
    "businesses/{id}/practitioners/inactive": ListRoute(
        "practitioners", "businesses", child_attr="business_ids", scope=("active", False)
    ),
    "appointment_types/{id}/practitioners": ListRoute(
        "practitioners", "appointment_types", parent_attr="practitioner_ids", scope=("active", True)
    ),
    "appointment_types/{id}/practitioners/inactive": ListRoute(
        "practitioners", "appointment_types", parent_attr="practitioner_ids", scope=("active", False)
    ),
}


def cancel_booking_or_attendee(
    store: RecordStore, resource: str, record_id: int, reason: Any, note: Any, *, staff: bool
) -> Record:
    """PATCH /individual_appointments/{id}/cancel and /attendees/{id}/cancel."""
    errors: dict[str, str] = {}
    if reason is None:
        errors["cancellation_reason"] = "can't be blank"
    elif (
        isinstance(reason, bool)
        or not isinstance(reason, int | str)
        or str(reason) not in {str(k) for k in CANCELLATION_REASONS}
    ):
        errors["cancellation_reason"] = "is not included in the list"
    if note is not None and not isinstance(note, str):
        errors["cancellation_note"] = "is invalid"
    rec = store.find(resource, record_id)
    if rec is None:
        raise KeyError(record_id)
    if resource == "attendees" and not staff and store.owner("bookings", rec["booking_id"]) != "group_appointments":
        errors.setdefault("base", "Only attendees of group appointments can be cancelled this way")
    if errors:
        raise ValidationFailed(errors)
    if rec.get("cancelled_at") is not None:
        return rec  # a cancellation is final: cancelled_at never moves
    code = int(str(reason))
    values = {
        "cancelled_at": store.clock.now_epoch(),
        "cancellation_reason": code,
        "cancellation_reason_description": CANCELLATION_REASONS[code],
        "cancellation_note": note,
    }
    updated = store.set_fields(resource, record_id, values)
    if resource == "individual_appointments":
        attendee = store.find("attendees", rec.get("attendee_id"))
        if attendee is not None and attendee.get("cancelled_at") is None:
            store.set_fields("attendees", attendee["id"], values)
    else:
        refresh_group_patients(store, rec["booking_id"])
    return updated
