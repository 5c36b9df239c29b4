"""Action catalog: every Cliniko action is one entry here, an input model plus a generic operation.

The action Lambda, its template resource, its sample event and its docs all come from this table.
There is no per-action code: each entry picks one of the few generic operations below (`Create`,
`Update`, `Get`, `Find`, `ListIds`, `Archive`, `Unarchive`, `Cancel`) and `usecases.actions.execute`
runs it. Input models follow the bodies of Cliniko's OpenAPI spec; see `docs/automations.md`.

Writes make exactly one Cliniko call, so an action is never half-applied; reads may page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, Field, model_validator

from cliniko_connector.catalog.hidden import STATES, hidden_filters
from cliniko_connector.catalog.types import (
    STRICT_INPUT,
    AmountNumber,
    AmountString,
    AppointmentId,
    AppointmentKind,
    AppointmentRepeatRule,
    AppointmentTypeId,
    AttendeeId,
    AvailabilityBlockId,
    BlockRepeatRule,
    BookingId,
    BusinessId,
    CancellationReason,
    CommunicationDirection,
    CommunicationId,
    CommunicationType,
    ConcessionTypeId,
    ContactId,
    ContactType,
    CountryCode,
    DoctorType,
    Email,
    GroupAppointmentId,
    IndividualAppointmentId,
    InvoiceId,
    InvoiceNumber,
    InvoiceStatus,
    IsoDate,
    MedicalAlertId,
    NonEmpty,
    NoteContent,
    PatientCaseId,
    PatientId,
    PhoneNumber,
    PractitionerId,
    ProductId,
    Pronouns,
    ReminderType,
    TaxId,
    Text100,
    Text255,
    Text5000,
    TimeZoneId,
    TreatmentNoteId,
    TreatmentNoteTemplateId,
    UnavailableBlockId,
    UtcTimestamp,
)

# --------------------------------------------------------------------------- generic operations


@dataclass(frozen=True)
class Match:
    """Compare an input field with a record field client-side (for lookups Cliniko can't filter on)."""

    field: str
    ignore_case: bool = False


@dataclass(frozen=True)
class Create:
    """POST the input as the body to `path` (plus `fixed` values); the result is the created record."""

    path: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    writes: ClassVar[bool] = True
    result: ClassVar[tuple[str, ...]] = ("record",)

    def calls(self) -> str:
        return f"`POST {self.path}`"


@dataclass(frozen=True)
class Update:
    """PATCH `{path}/{id}` with every given field but `id`; the result is the updated record."""

    path: str
    writes: ClassVar[bool] = True
    result: ClassVar[tuple[str, ...]] = ("record",)

    def calls(self) -> str:
        return f"`PATCH {self.path}/{{id}}`"


@dataclass(frozen=True)
class Get:
    """GET `{path}/{id}`; a 404 is `found: false`.

    With `kinds` (kind → path, in the order to try), the record may live under several paths: the input's
    `kind` picks one, else each is tried in turn, and the result names the `kind` found."""

    path: str
    kinds: Mapping[str, str] = field(default_factory=dict)
    writes: ClassVar[bool] = False
    result: ClassVar[tuple[str, ...]] = ("found", "record", *STATES)

    def paths(self, kind: str | None = None) -> list[tuple[str | None, str]]:
        if not self.kinds:
            return [(None, self.path)]
        if kind is not None:
            return [(kind, self.kinds[kind])]
        return list(self.kinds.items())

    def calls(self) -> str:
        return ", then ".join(f"`GET {path}/{{id}}{_hidden_query(path)}`" for _, path in self.paths())


@dataclass(frozen=True)
class Via:
    """Resolve some lookup fields on another resource first (`path`, matched with `by`/`match`); the id of
    the first record that matches then filters the main list as `link`."""

    path: str
    link: str
    by: Mapping[str, str] = field(default_factory=dict)
    match: Mapping[str, Match] = field(default_factory=dict)
    own: str | None = None
    """A path answering with the API key's own record (`/user`), tried first: it needs no permission to
    list `path`, so a key whose own record matches works without an administrator's rights."""

    @property
    def fields(self) -> set[str]:
        return set(self.by) | set(self.match)


@dataclass(frozen=True)
class Find:
    """Look a record up: by `id` → GET `{path}/{id}`; else list `path` and return the first match.

    `by`: input field → Cliniko filter, `"field"` (sent as `q[]=field:=value`) or `"field:op"`.
    `match`: input fields compared client-side on every page (fields Cliniko can't filter on).
    `via`: fields resolved on another resource first (a practitioner by its user's email).
    `sort`: which match is the record, `field` (the least) or `field:desc` (the greatest): every page is read
    and the connector decides (Cliniko documents `sort`, not which columns an endpoint sorts by). Without it,
    the first match in Cliniko's documented default order (`created_at`, oldest first).
    `every_match`: read every matching record (every page): the result carries `matches` and `ids`, and
    `record` is the most recently updated one that isn't archived/cancelled/deleted (else the most recently
    updated of them). With it, the input's `include_archived` asks the list for hidden records too.
    `inactive`: a second list searched when `path` has no match (`/practitioners/inactive`); the result says
    `inactive`.
    By id, hidden records are always asked for (`q[]=<state>_at:*` where the spec allows it), and every
    found result carries the record's `archived`, `cancelled` and `deleted` flags.
    Nothing matching is `found: false`, never an error."""

    path: str
    by: Mapping[str, str] = field(default_factory=dict)
    match: Mapping[str, Match] = field(default_factory=dict)
    via: Via | None = None
    sort: str | None = None
    every_match: bool = False
    inactive: str | None = None
    writes: ClassVar[bool] = False

    @property
    def result(self) -> tuple[str, ...]:
        keys: tuple[str, ...] = ("found", "record", *STATES)
        if self.every_match:
            keys += ("matches", "ids")
        if self.inactive:
            keys += ("inactive",)
        return keys

    @property
    def lookup_fields(self) -> set[str]:
        return set(self.by) | set(self.match) | (self.via.fields if self.via else set())

    def calls(self) -> str:
        out = [f"`GET {self.path}/{{id}}{_hidden_query(self.path)}`"]
        if self.via is not None:
            own = f"`GET {self.via.own}`, else " if self.via.own else ""
            lists = f"`GET {self.path}?q[]={self.via.link}:=…`"
            if self.inactive:
                lists += f", then `GET {self.inactive}?q[]={self.via.link}:=…`"
            out.append(f"{own}`GET {self.via.path}` (matched client-side, every page) then {lists}")
        if self.by:
            filters = "&".join("q[]={}:{}…".format(*filter_of(spec)) for spec in self.by.values())
            scope = " (every page)" if self.every_match or self.sort else ""
            out.append(f"`GET {self.path}?{filters}`{scope}")
        unfiltered = {k: m for k, m in self.match.items() if k not in self.by}
        if unfiltered:
            out.append(f"`GET {self.path}` pages, matching {', '.join(f'`{m.field}`' for m in unfiltered.values())}")
        return " or ".join(out)


@dataclass(frozen=True)
class ListIds:
    """The ids of every record of `path` matching the `by` filters, following pagination up to `limit`."""

    path: str
    by: Mapping[str, str] = field(default_factory=dict)
    limit_field: str = "limit"
    writes: ClassVar[bool] = False
    result: ClassVar[tuple[str, ...]] = ("ids", "truncated")

    def calls(self) -> str:
        return f"`GET {self.path}?q[]=…` (every page)"


@dataclass(frozen=True)
class Archive:
    """POST `{path}/{id}/archive` (204). Cliniko's `DELETE` is deprecated and archives too."""

    path: str
    writes: ClassVar[bool] = True
    result: ClassVar[tuple[str, ...]] = ("archived", "id")

    def calls(self) -> str:
        return f"`POST {self.path}/{{id}}/archive`"


@dataclass(frozen=True)
class Unarchive:
    """POST `{path}/{id}/unarchive`; Cliniko answers with the record."""

    path: str
    writes: ClassVar[bool] = True
    result: ClassVar[tuple[str, ...]] = ("unarchived", "id", "record")

    def calls(self) -> str:
        return f"`POST {self.path}/{{id}}/unarchive`"


@dataclass(frozen=True)
class Cancel:
    """PATCH `{path}/{id}/cancel` with every given field but `id` (204). A cancellation is final."""

    path: str
    writes: ClassVar[bool] = True
    result: ClassVar[tuple[str, ...]] = ("cancelled", "id")

    def calls(self) -> str:
        return f"`PATCH {self.path}/{{id}}/cancel`"


Operation = Create | Update | Get | Find | ListIds | Archive | Unarchive | Cancel


def _hidden_query(path: str) -> str:
    fields = hidden_filters(path)
    return "?" + "&".join(f"q[]={name}:*" for name in fields) if fields else ""


def filter_of(spec: str) -> tuple[str, str]:
    """`"email"` → (`email`, `=`); `"starts_at:>="` → (`starts_at`, `>=`)."""
    name, _, op = spec.partition(":")
    return name, op or "="


@dataclass(frozen=True)
class Action:
    name: str
    resource: str
    description: str
    input_model: type[BaseModel]
    operation: Operation
    sample_input: dict[str, Any]

    @property
    def writes(self) -> bool:
        return self.operation.writes

    @property
    def function_suffix(self) -> str:
        """CamelCase part of the Lambda's logical id: `medical_alert.create` → `MedicalAlertCreate`."""
        return "".join(part.capitalize() for part in self.name.replace(".", "_").split("_"))


# --------------------------------------------------------------------------- input model bases


def _opt() -> Any:
    """An optional field that may be left out but not sent as null (Cliniko doesn't accept null there)."""
    return Field(default=None)


class ActionInput(BaseModel):
    """Base of every action input: strict, unknown fields rejected."""

    model_config = STRICT_INPUT

    @classmethod
    def rule(cls) -> str | None:
        """A constraint across fields, for the docs."""
        return None


class UpdateInput(ActionInput):
    """`id` plus at least one field to change (null clears a field where Cliniko allows it)."""

    @classmethod
    def rule(cls) -> str | None:
        return "`id` and at least one field to change"

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_fields_set - {"id"}:
            raise ValueError("give at least one field to change besides `id`")
        return self


class LookupInput(ActionInput):
    """A find by `id` alone, or by one or more of `lookup_keys` (combined with AND)."""

    lookup_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def rule(cls) -> str | None:
        keys = ", ".join(f"`{k}`" for k in cls.lookup_keys)
        if "id" not in cls.model_fields:
            return f"at least one of {keys}"
        return f"`id` alone, or at least one of {keys}"

    @model_validator(mode="after")
    def _one_way_to_look(self) -> Self:
        given = [k for k in self.lookup_keys if k in self.model_fields_set]
        by_id = "id" in self.model_fields_set
        if by_id and given:
            raise ValueError(f"look up by `id` alone, or by {', '.join(self.lookup_keys)}; not both")
        if not by_id and not given:
            raise ValueError(f"give {self.rule()}")
        return self


class EmailLookupInput(LookupInput):
    """A find by `id`, or by `email` (compared ignoring case); searches may include archived records."""

    lookup_keys = ("email",)
    email: Email = _opt()
    include_archived: bool = Field(
        default=False,
        description="Email searches only: also match archived (and deleted) records. A lookup by id always does.",
    )


class _EndsAfterStarts(ActionInput):
    @model_validator(mode="after")
    def _ends_after_starts(self) -> Self:
        starts, ends = getattr(self, "starts_at", None), getattr(self, "ends_at", None)
        if starts is not None and ends is not None and ends <= starts:
            raise ValueError("`ends_at` must be after `starts_at`")
        return self


# --------------------------------------------------------------------------- medical alerts


class _MedicalAlertFields(ActionInput):
    patient_id: PatientId = _opt()
    name: Text255 = _opt()


class MedicalAlertCreate(_MedicalAlertFields):
    patient_id: PatientId
    name: Text255


class MedicalAlertUpdate(UpdateInput, _MedicalAlertFields):
    id: MedicalAlertId


class MedicalAlertFind(ActionInput):
    id: MedicalAlertId


# --------------------------------------------------------------------------- contacts


class _ContactFields(ActionInput):
    title: Text255 | None = _opt()
    first_name: Text255 | None = _opt()
    last_name: Text255 | None = _opt()
    preferred_name: Text255 | None = _opt()
    company_name: Text255 | None = _opt()
    occupation: Text255 | None = _opt()
    email: Email | None = _opt()
    phone_numbers: list[PhoneNumber] = _opt()
    address_1: Text255 | None = _opt()
    address_2: Text255 | None = _opt()
    address_3: Text255 | None = _opt()
    city: Text255 | None = _opt()
    state: Text255 | None = _opt()
    post_code: Text255 | None = _opt()
    country_code: CountryCode | None = _opt()
    provider_number: Text255 | None = _opt()
    doctor_type: DoctorType | None = _opt()
    type_code: ContactType | None = _opt()
    notes: NonEmpty | None = _opt()


class ContactCreate(_ContactFields):
    @classmethod
    def rule(cls) -> str | None:
        return "at least one of `first_name`, `last_name`, `company_name`"

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not (self.first_name or self.last_name or self.company_name):
            raise ValueError("a contact needs a `first_name`, `last_name` or `company_name`")
        return self


class ContactUpdate(UpdateInput, _ContactFields):
    id: ContactId


class ContactFind(EmailLookupInput):
    id: ContactId = _opt()


class ContactRef(ActionInput):
    id: ContactId


# --------------------------------------------------------------------------- patients


class _PatientFields(ActionInput):
    title: Text255 | None = _opt()
    first_name: Text255 = _opt()
    last_name: Text255 = _opt()
    preferred_first_name: Text255 | None = _opt()
    date_of_birth: IsoDate | None = _opt()
    sex: Text255 | None = _opt()
    gender_identity: Text255 | None = _opt()
    pronouns: Pronouns | None = _opt()
    email: Email | None = _opt()
    patient_phone_numbers: list[PhoneNumber] = _opt()
    address_1: Text255 | None = _opt()
    address_2: Text255 | None = _opt()
    address_3: Text255 | None = _opt()
    city: Text255 | None = _opt()
    state: Text255 | None = _opt()
    post_code: Text255 | None = _opt()
    country: Text255 | None = _opt()
    time_zone: TimeZoneId | None = _opt()
    occupation: Text255 | None = _opt()
    emergency_contact: Text255 | None = _opt()
    notes: NonEmpty | None = _opt()
    appointment_notes: NonEmpty | None = _opt()
    old_reference_id: Text255 | None = _opt()
    referral_source: Text255 | None = _opt()
    referring_doctor_id: ContactId = _opt()
    concession_type_id: ConcessionTypeId = _opt()
    medicare: Text255 | None = _opt()
    medicare_reference_number: Text255 | None = _opt()
    dva_card_number: Text255 | None = _opt()
    invoice_email: Email | None = _opt()
    invoice_default_to: Text255 | None = _opt()
    invoice_extra_information: NonEmpty | None = _opt()
    reminder_type: ReminderType | None = _opt()
    receives_confirmation_emails: bool | None = _opt()
    accepted_privacy_policy: bool | None = _opt()
    accepted_email_marketing: bool | None = _opt()
    unsubscribe_sms_marketing: bool = _opt()
    custom_fields: dict[str, Any] | None = _opt()


class PatientCreate(_PatientFields):
    first_name: Text255
    last_name: Text255


class PatientUpdate(UpdateInput, _PatientFields):
    id: PatientId


class PatientFind(EmailLookupInput):
    id: PatientId = _opt()


class PatientRef(ActionInput):
    id: PatientId


# --------------------------------------------------------------------------- appointments


class _IndividualAppointmentFields(_EndsAfterStarts):
    starts_at: UtcTimestamp = _opt()
    ends_at: UtcTimestamp = _opt()
    patient_id: PatientId = _opt()
    practitioner_id: PractitionerId = _opt()
    appointment_type_id: AppointmentTypeId = _opt()
    business_id: BusinessId = _opt()
    patient_case_id: PatientCaseId = _opt()
    notes: NonEmpty | None = _opt()
    repeat_rule: AppointmentRepeatRule | None = _opt()


class IndividualAppointmentCreate(_IndividualAppointmentFields):
    starts_at: UtcTimestamp
    patient_id: PatientId
    practitioner_id: PractitionerId
    appointment_type_id: AppointmentTypeId
    business_id: BusinessId


class IndividualAppointmentUpdate(UpdateInput, _IndividualAppointmentFields):
    id: IndividualAppointmentId


class _GroupAppointmentFields(_EndsAfterStarts):
    starts_at: UtcTimestamp = _opt()
    ends_at: UtcTimestamp = _opt()
    practitioner_id: PractitionerId = _opt()
    appointment_type_id: AppointmentTypeId = _opt()
    business_id: BusinessId = _opt()
    max_attendees: Annotated[int, Field(ge=2, le=99)] = _opt()
    notes: NonEmpty | None = _opt()
    repeat_rule: AppointmentRepeatRule | None = _opt()


class GroupAppointmentCreate(_GroupAppointmentFields):
    starts_at: UtcTimestamp
    practitioner_id: PractitionerId
    appointment_type_id: AppointmentTypeId
    business_id: BusinessId


class GroupAppointmentUpdate(UpdateInput, _GroupAppointmentFields):
    id: GroupAppointmentId


class AppointmentFind(ActionInput):
    id: AppointmentId
    kind: AppointmentKind = _opt()


class AppointmentTypeFind(ActionInput):
    id: AppointmentTypeId


class IndividualAppointmentCancel(ActionInput):
    id: IndividualAppointmentId
    cancellation_reason: CancellationReason
    cancellation_note: NonEmpty = _opt()
    apply_to_repeats: bool = _opt()


class AttendeeCreate(ActionInput):
    booking_id: GroupAppointmentId
    patient_id: PatientId
    arrived: bool | None = _opt()
    notes: NonEmpty | None = _opt()
    patient_case_id: PatientCaseId = _opt()


class AttendeeCancel(ActionInput):
    id: AttendeeId
    cancellation_reason: CancellationReason
    cancellation_note: NonEmpty = _opt()
    apply_to_repeats: bool = _opt()


# --------------------------------------------------------------------------- availability blocks


class AvailabilityBlockCreate(_EndsAfterStarts):
    starts_at: UtcTimestamp
    ends_at: UtcTimestamp
    practitioner_id: PractitionerId
    business_id: BusinessId
    repeat_rule: BlockRepeatRule | None = _opt()


class AvailabilityBlockListIds(LookupInput):
    lookup_keys = ("practitioner_id", "business_id")
    practitioner_id: PractitionerId = _opt()
    business_id: BusinessId = _opt()
    starts_from: UtcTimestamp = _opt()
    starts_before: UtcTimestamp = _opt()
    limit: Annotated[int, Field(ge=1, le=5000)] = 1000


class AvailabilityBlockGet(ActionInput):
    id: AvailabilityBlockId


# --------------------------------------------------------------------------- unavailable blocks (breaks)


class _UnavailableBlockFields(_EndsAfterStarts):
    starts_at: UtcTimestamp = _opt()
    ends_at: UtcTimestamp = _opt()
    practitioner_id: PractitionerId = _opt()
    business_id: BusinessId = _opt()
    notes: NonEmpty | None = _opt()
    repeat_rule: AppointmentRepeatRule | None = _opt()


class UnavailableBlockCreate(_UnavailableBlockFields):
    """A break: time a practitioner can't be booked (the spec's repeat rule allows up to 51 repeats here)."""

    starts_at: UtcTimestamp
    ends_at: UtcTimestamp
    practitioner_id: PractitionerId
    business_id: BusinessId


class UnavailableBlockUpdate(UpdateInput, _UnavailableBlockFields):
    id: UnavailableBlockId


class UnavailableBlockListIds(AvailabilityBlockListIds):
    pass


class UnavailableBlockRef(ActionInput):
    id: UnavailableBlockId


# --------------------------------------------------------------------------- treatment notes


class TreatmentNoteCreate(ActionInput):
    """`content` and `draft` are optional, as in the spec: without `content` Cliniko fills the note from its
    template; without `draft` Cliniko's default applies."""

    treatment_note_template_id: TreatmentNoteTemplateId
    patient_id: PatientId
    content: NoteContent | None = _opt()
    draft: bool = _opt()
    booking_id: BookingId = _opt()
    attendee_id: AttendeeId = _opt()
    title: Text255 = _opt()


class TreatmentNoteFind(LookupInput):
    lookup_keys = ("patient_id", "booking_id", "attendee_id", "treatment_note_template_id", "draft")
    id: TreatmentNoteId = _opt()
    patient_id: PatientId = _opt()
    booking_id: BookingId = _opt()
    attendee_id: AttendeeId = _opt()
    treatment_note_template_id: TreatmentNoteTemplateId = _opt()
    draft: bool = _opt()


# --------------------------------------------------------------------------- products


class _ProductFields(ActionInput):
    name: Text255 = _opt()
    item_code: Text100 | None = _opt()
    serial_number: Text255 | None = _opt()
    price: AmountNumber = _opt()
    price_includes_tax: bool | None = _opt()
    cost_price: AmountString | None = _opt()
    tax_id: TaxId = _opt()
    product_supplier_name: Text255 | None = _opt()
    notes: NonEmpty | None = _opt()


class ProductCreate(_ProductFields):
    name: Text255
    stock_level: Annotated[int, Field(gt=-4_000_000_000, lt=4_000_000_000)] | None = _opt()


class ProductUpdate(UpdateInput, _ProductFields):
    """Cliniko doesn't change `stock_level` here (stock adjustments do), so it isn't accepted."""

    id: ProductId


class ProductFind(LookupInput):
    lookup_keys = ("name", "item_code")
    id: ProductId = _opt()
    name: Text255 = _opt()
    item_code: Text100 = _opt()


# --------------------------------------------------------------------------- communications, invoices, people


class CommunicationFind(ActionInput):
    id: CommunicationId


class CommunicationCreate(ActionInput):
    """A memo: it records a communication in the patient's file; Cliniko sends nothing."""

    patient_id: PatientId
    content: NonEmpty
    type_code: CommunicationType
    direction_code: CommunicationDirection
    from_: Text255 = Field(alias="from")
    to: Text255
    confidential: bool


class InvoiceFind(LookupInput):
    lookup_keys = ("number", "patient_id", "status")
    id: InvoiceId = _opt()
    number: InvoiceNumber = _opt()
    patient_id: PatientId = _opt()
    status: InvoiceStatus = _opt()


class PractitionerFind(LookupInput):
    lookup_keys = ("email",)
    id: PractitionerId = _opt()
    email: Email = _opt()


# --------------------------------------------------------------------------- businesses


class _BusinessFields(ActionInput):
    business_name: Text255 | None = _opt()
    display_name: Text255 | None = _opt()
    address_1: Text255 | None = _opt()
    address_2: Text255 | None = _opt()
    city: Text255 | None = _opt()
    state: Text255 | None = _opt()
    post_code: Text255 | None = _opt()
    country_code: CountryCode | None = _opt()
    time_zone: Text255 | None = _opt()
    time_zone_identifier: TimeZoneId | None = _opt()
    contact_information: NonEmpty | None = _opt()
    email_reply_to: Email | None = _opt()
    website_address: Text255 | None = _opt()
    business_registration_name: Text255 | None = _opt()
    business_registration_value: Text255 | None = _opt()
    additional_information: Text5000 | None = _opt()
    additional_invoice_information: Text5000 | None = _opt()
    appointment_reminders_enabled: bool | None = _opt()
    show_in_online_bookings: bool | None = _opt()
    appointment_type_ids: list[AppointmentTypeId] | None = _opt()


class BusinessCreate(_BusinessFields):
    business_name: Text255


class BusinessUpdate(UpdateInput, _BusinessFields):
    id: BusinessId


class BusinessFind(ActionInput):
    id: BusinessId


# --------------------------------------------------------------------------- the catalog

# Sample ids (what the demo's ids look like: 64-bit integers, as strings).
_PATIENT = "1000000000000000101"
_CONTACT = "1000000000000000201"
_PRACTITIONER = "1000000000000000301"
_BUSINESS = "1000000000000000401"
_APPOINTMENT_TYPE = "1000000000000000501"
_INDIVIDUAL = "1000000000000000601"
_GROUP = "1000000000000000701"
_ATTENDEE = "1000000000000000801"
_TEMPLATE = "1000000000000000901"
_UNAVAILABLE = "1000000000000001051"
# Both kinds of block list by practitioner, business and start time alike.
_BLOCK_FILTERS = {
    "practitioner_id": "practitioner_id",
    "business_id": "business_id",
    "starts_from": "starts_at:>=",
    "starts_before": "starts_at:<",
}
_API = "https://api.au1.cliniko.com/v1"

_ACTIONS: tuple[Action, ...] = (
    Action(
        name="medical_alert.create",
        resource="medical_alerts",
        description="Create a medical alert on a patient.",
        input_model=MedicalAlertCreate,
        operation=Create("/medical_alerts"),
        sample_input={"patient_id": _PATIENT, "name": "Penicillin allergy"},
    ),
    Action(
        name="medical_alert.update",
        resource="medical_alerts",
        description="Rename a medical alert (or move it to another patient).",
        input_model=MedicalAlertUpdate,
        operation=Update("/medical_alerts"),
        sample_input={"id": "1000000000000000111", "name": "Severe penicillin allergy"},
    ),
    Action(
        name="medical_alert.find",
        resource="medical_alerts",
        description="Get a medical alert by id or API URL.",
        input_model=MedicalAlertFind,
        operation=Get("/medical_alerts"),
        sample_input={"id": f"{_API}/medical_alerts/1000000000000000111"},
    ),
    Action(
        name="contact.create",
        resource="contacts",
        description="Create a contact (a referring doctor, a third-party payer, …).",
        input_model=ContactCreate,
        operation=Create("/contacts"),
        sample_input={
            "title": "Dr",
            "first_name": "Morgan",
            "last_name": "Reid",
            "company_name": "Harbour Medical Centre",
            "email": "morgan.reid@harbourmedical.example",
            "phone_numbers": [{"phone_type": "Work", "number": "+61 2 9000 0000"}],
            "country_code": "AU",
            "doctor_type": "general_practitioner",
            "type_code": 1,
        },
    ),
    Action(
        name="contact.update",
        resource="contacts",
        description="Change fields of a contact.",
        input_model=ContactUpdate,
        operation=Update("/contacts"),
        sample_input={"id": _CONTACT, "provider_number": "2426621B", "notes": "Prefers referrals by fax."},
    ),
    Action(
        name="contact.find",
        resource="contacts",
        description="Find a contact by id (archived and deleted too) or email (ignoring case; every match counted).",
        input_model=ContactFind,
        operation=Find(
            "/contacts",
            by={"email": "email:~"},
            match={"email": Match("email", ignore_case=True)},
            every_match=True,
        ),
        sample_input={"email": "morgan.reid@harbourmedical.example"},
    ),
    Action(
        name="contact.delete",
        resource="contacts",
        description="Delete a contact: Cliniko archives it (its DELETE is deprecated and archives too).",
        input_model=ContactRef,
        operation=Archive("/contacts"),
        sample_input={"id": _CONTACT},
    ),
    Action(
        name="patient.create",
        resource="patients",
        description="Create a patient.",
        input_model=PatientCreate,
        operation=Create("/patients"),
        sample_input={
            "first_name": "Jane",
            "last_name": "Citizen",
            "date_of_birth": "1984-03-09",
            "email": "jane.citizen@example.com",
            "patient_phone_numbers": [{"phone_type": "Mobile", "number": "+61 400 000 000"}],
            "time_zone": "Australia/Sydney",
            "reminder_type": "SMS & Email",
            "accepted_privacy_policy": True,
        },
    ),
    Action(
        name="patient.update",
        resource="patients",
        description="Change fields of a patient (null clears a field where Cliniko allows it).",
        input_model=PatientUpdate,
        operation=Update("/patients"),
        sample_input={"id": _PATIENT, "occupation": "Teacher", "notes": "Prefers morning appointments."},
    ),
    Action(
        name="patient.find",
        resource="patients",
        description="Find a patient by id (archived too) or email (ignoring case; every match counted).",
        input_model=PatientFind,
        operation=Find(
            "/patients",
            by={"email": "email:~"},
            match={"email": Match("email", ignore_case=True)},
            every_match=True,
        ),
        sample_input={"email": "jane.citizen@example.com"},
    ),
    Action(
        name="patient.delete",
        resource="patients",
        description="Delete a patient: Cliniko archives it (its DELETE is deprecated and archives too).",
        input_model=PatientRef,
        operation=Archive("/patients"),
        sample_input={"id": _PATIENT},
    ),
    Action(
        name="patient.archive",
        resource="patients",
        description="Archive a patient.",
        input_model=PatientRef,
        operation=Archive("/patients"),
        sample_input={"id": _PATIENT},
    ),
    Action(
        name="patient.unarchive",
        resource="patients",
        description="Bring an archived patient back.",
        input_model=PatientRef,
        operation=Unarchive("/patients"),
        sample_input={"id": f"{_API}/patients/{_PATIENT}"},
    ),
    Action(
        name="individual_appointment.create",
        resource="individual_appointments",
        description="Book an individual appointment (`ends_at` defaults from the appointment type).",
        input_model=IndividualAppointmentCreate,
        operation=Create("/individual_appointments"),
        sample_input={
            "starts_at": "2026-12-01T09:00:00+11:00",
            "patient_id": _PATIENT,
            "practitioner_id": _PRACTITIONER,
            "appointment_type_id": _APPOINTMENT_TYPE,
            "business_id": _BUSINESS,
            "notes": "Booked by automation.",
        },
    ),
    Action(
        name="individual_appointment.update",
        resource="individual_appointments",
        description="Change an individual appointment (reschedule, change notes, …).",
        input_model=IndividualAppointmentUpdate,
        operation=Update("/individual_appointments"),
        sample_input={"id": _INDIVIDUAL, "starts_at": "2026-12-02T09:00:00Z", "ends_at": "2026-12-02T09:30:00Z"},
    ),
    Action(
        name="individual_appointment.cancel",
        resource="individual_appointments",
        description="Cancel an individual appointment with a reason (final: it can't be undone).",
        input_model=IndividualAppointmentCancel,
        operation=Cancel("/individual_appointments"),
        sample_input={"id": _INDIVIDUAL, "cancellation_reason": 50, "cancellation_note": "Cancelled by automation."},
    ),
    Action(
        name="group_appointment.create",
        resource="group_appointments",
        description="Create a group appointment (`ends_at` and `max_attendees` default from the type).",
        input_model=GroupAppointmentCreate,
        operation=Create("/group_appointments"),
        sample_input={
            "starts_at": "2026-12-03T18:00:00+11:00",
            "practitioner_id": _PRACTITIONER,
            "appointment_type_id": _APPOINTMENT_TYPE,
            "business_id": _BUSINESS,
            "max_attendees": 8,
            "notes": "Pilates class",
        },
    ),
    Action(
        name="group_appointment.update",
        resource="group_appointments",
        description="Change a group appointment.",
        input_model=GroupAppointmentUpdate,
        operation=Update("/group_appointments"),
        sample_input={"id": _GROUP, "max_attendees": 10},
    ),
    Action(
        name="appointment.find",
        resource="appointments",
        description="Get an appointment by id: individual, else group (or the given `kind` only).",
        input_model=AppointmentFind,
        operation=Get(
            "/individual_appointments",
            kinds={"individual": "/individual_appointments", "group": "/group_appointments"},
        ),
        sample_input={"id": _INDIVIDUAL},
    ),
    Action(
        name="appointment_type.find",
        resource="appointment_types",
        description="Get an appointment type by id or API URL.",
        input_model=AppointmentTypeFind,
        operation=Get("/appointment_types"),
        sample_input={"id": f"{_API}/appointment_types/{_APPOINTMENT_TYPE}"},
    ),
    Action(
        name="attendee.create",
        resource="attendees",
        description="Add a patient to a group appointment.",
        input_model=AttendeeCreate,
        operation=Create("/attendees"),
        sample_input={"booking_id": _GROUP, "patient_id": _PATIENT, "notes": "Joined from the waitlist."},
    ),
    Action(
        name="attendee.cancel",
        resource="attendees",
        description="Cancel a patient's place in a group appointment (final).",
        input_model=AttendeeCancel,
        operation=Cancel("/attendees"),
        sample_input={"id": _ATTENDEE, "cancellation_reason": 30},
    ),
    Action(
        name="availability_block.create",
        resource="availability_blocks",
        description="Extra bookable time; for a break use unavailable_block.create",
        input_model=AvailabilityBlockCreate,
        operation=Create("/availability_blocks"),
        sample_input={
            "starts_at": "2026-12-05T09:00:00+11:00",
            "ends_at": "2026-12-05T12:00:00+11:00",
            "practitioner_id": _PRACTITIONER,
            "business_id": _BUSINESS,
        },
    ),
    Action(
        name="availability_block.list_ids",
        resource="availability_blocks",
        description="The ids of a practitioner's or a business's availability blocks (every page, up to `limit`).",
        input_model=AvailabilityBlockListIds,
        operation=ListIds(
            "/availability_blocks",
            by=_BLOCK_FILTERS,
        ),
        sample_input={"practitioner_id": _PRACTITIONER, "starts_from": "2026-12-01T00:00:00Z"},
    ),
    Action(
        name="availability_block.get",
        resource="availability_blocks",
        description="Get an availability block by id or API URL.",
        input_model=AvailabilityBlockGet,
        operation=Get("/availability_blocks"),
        sample_input={"id": "1000000000000001001"},
    ),
    Action(
        name="unavailable_block.create",
        resource="unavailable_blocks",
        description="A break, leave or a meeting: time a practitioner can't be booked",
        input_model=UnavailableBlockCreate,
        operation=Create("/unavailable_blocks"),
        sample_input={
            "starts_at": "2026-12-05T12:30:00+11:00",
            "ends_at": "2026-12-05T13:15:00+11:00",
            "practitioner_id": _PRACTITIONER,
            "business_id": _BUSINESS,
            "notes": "Lunch break",
        },
    ),
    Action(
        name="unavailable_block.update",
        resource="unavailable_blocks",
        description="Move, shorten or re-note an unavailable block (a break).",
        input_model=UnavailableBlockUpdate,
        operation=Update("/unavailable_blocks"),
        sample_input={"id": _UNAVAILABLE, "ends_at": "2026-12-05T02:30:00Z", "notes": "Long lunch"},
    ),
    Action(
        name="unavailable_block.get",
        resource="unavailable_blocks",
        description="Get an unavailable block (a break) by id or API URL.",
        input_model=UnavailableBlockRef,
        operation=Get("/unavailable_blocks"),
        sample_input={"id": f"{_API}/unavailable_blocks/{_UNAVAILABLE}"},
    ),
    Action(
        name="unavailable_block.list_ids",
        resource="unavailable_blocks",
        description="The ids of a practitioner's or a business's unavailable blocks (every page, up to `limit`).",
        input_model=UnavailableBlockListIds,
        operation=ListIds(
            "/unavailable_blocks",
            by=_BLOCK_FILTERS,
        ),
        sample_input={"practitioner_id": _PRACTITIONER, "starts_from": "2026-12-01T00:00:00Z"},
    ),
    Action(
        name="unavailable_block.archive",
        resource="unavailable_blocks",
        description="Remove an unavailable block (a break): Cliniko archives it and the time is bookable again.",
        input_model=UnavailableBlockRef,
        operation=Archive("/unavailable_blocks"),
        sample_input={"id": _UNAVAILABLE},
    ),
    Action(
        name="treatment_note.create",
        resource="treatment_notes",
        description="Write a treatment note from a template, answers optional (the key's user must be a practitioner).",
        input_model=TreatmentNoteCreate,
        operation=Create("/treatment_notes"),
        sample_input={
            "treatment_note_template_id": _TEMPLATE,
            "patient_id": _PATIENT,
            "booking_id": _INDIVIDUAL,
            "draft": True,
            "content": {
                "sections": [
                    {
                        "name": "Subjective",
                        "questions": [
                            {"name": "Presenting complaint", "type": "paragraph", "answer": "Lower back pain."}
                        ],
                    }
                ]
            },
        },
    ),
    Action(
        name="treatment_note.find",
        resource="treatment_notes",
        description="Find a treatment note by id, or the newest one of a patient, booking, attendee or template.",
        input_model=TreatmentNoteFind,
        operation=Find(
            "/treatment_notes",
            by={
                "patient_id": "patient_id",
                "booking_id": "booking_id",
                "attendee_id": "attendee_id",
                "treatment_note_template_id": "treatment_note_template_id",
                "draft": "draft",
            },
            sort="created_at:desc",
        ),
        sample_input={"patient_id": _PATIENT, "booking_id": _INDIVIDUAL},
    ),
    Action(
        name="product.create",
        resource="products",
        description="Create a product.",
        input_model=ProductCreate,
        operation=Create("/products"),
        sample_input={
            "name": "Therapy band (medium)",
            "item_code": "TB-M",
            "price": 24.95,
            "cost_price": "11.50",
            "stock_level": 40,
            "product_supplier_name": "Rehab Supplies",
        },
    ),
    Action(
        name="product.update",
        resource="products",
        description="Change a product (not its stock level: Cliniko changes that through stock adjustments).",
        input_model=ProductUpdate,
        operation=Update("/products"),
        sample_input={"id": "1000000000000001101", "price": "26.00"},
    ),
    Action(
        name="product.find",
        resource="products",
        description="Find a product by id, name or item code (item codes are matched client-side, page by page).",
        input_model=ProductFind,
        operation=Find("/products", by={"name": "name"}, match={"item_code": Match("item_code")}),
        sample_input={"item_code": "TB-M"},
    ),
    Action(
        name="communication.create",
        resource="communications",
        description="Record a memo in a patient's communications (Cliniko sends nothing).",
        input_model=CommunicationCreate,
        operation=Create("/communications", fixed={"category_code": 12}),
        sample_input={
            "patient_id": _PATIENT,
            "content": "Appointment cancelled; offered the next available slot.",
            "type_code": 4,
            "direction_code": 1,
            "from": "Cliniko connector",
            "to": "Jane Citizen",
            "confidential": False,
        },
    ),
    Action(
        name="communication.find",
        resource="communications",
        description="Get a communication by id or API URL.",
        input_model=CommunicationFind,
        operation=Get("/communications"),
        sample_input={"id": "1000000000000001201"},
    ),
    Action(
        name="invoice.find",
        resource="invoices",
        description="Find an invoice by id or invoice number (optionally narrowed by patient and status).",
        input_model=InvoiceFind,
        operation=Find("/invoices", by={"number": "number", "patient_id": "patient_id", "status": "status"}),
        sample_input={"number": 1042},
    ),
    Action(
        name="practitioner.find",
        resource="practitioners",
        description="Find a practitioner, active or inactive, by id or by their user's email.",
        input_model=PractitionerFind,
        operation=Find(
            "/practitioners",
            via=Via("/users", link="user_id", match={"email": Match("email", ignore_case=True)}, own="/user"),
            inactive="/practitioners/inactive",
        ),
        sample_input={"email": "jordan.lee@harbourside.example"},
    ),
    Action(
        name="business.create",
        resource="businesses",
        description="Create a business (a clinic location).",
        input_model=BusinessCreate,
        operation=Create("/businesses"),
        sample_input={
            "business_name": "Harbourside Physio North",
            "address_1": "12 Ocean Street",
            "city": "Manly",
            "state": "NSW",
            "post_code": "2095",
            "country_code": "AU",
            "time_zone_identifier": "Australia/Sydney",
            "email_reply_to": "north@harbourside.example",
        },
    ),
    Action(
        name="business.update",
        resource="businesses",
        description="Change a business.",
        input_model=BusinessUpdate,
        operation=Update("/businesses"),
        sample_input={
            "id": _BUSINESS,
            "website_address": "https://harbourside.example",
            "show_in_online_bookings": True,
        },
    ),
    Action(
        name="business.find",
        resource="businesses",
        description="Get a business by id or API URL.",
        input_model=BusinessFind,
        operation=Get("/businesses"),
        sample_input={"id": f"{_API}/businesses/{_BUSINESS}"},
    ),
)

ACTIONS: dict[str, Action] = {a.name: a for a in _ACTIONS}
