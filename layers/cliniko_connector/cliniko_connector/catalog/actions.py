"""Action catalog: every Cliniko action is one entry here, an input model plus a generic operation.

The action Lambda, its template resource, its sample event and its docs all come from this table.
There is no per-action code: each entry picks one of the few generic operations below (`Create`,
`Update`, `Get`, `Find`, `ListIds`, `Archive`, `Unarchive`, `Cancel`, `Delete`) and `usecases.actions.execute`
runs it. Input models follow the bodies of Cliniko's OpenAPI spec; see `docs/automations.md`.

Writes make exactly one Cliniko call, so an action is never half-applied; reads may page.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel

from cliniko_connector.catalog.hidden import STATES, hidden_filters
from cliniko_connector.catalog.inputs.base import ActionInput, EmailLookupInput, LookupInput, UpdateInput

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


@dataclass(frozen=True)
class Delete:
    """DELETE `{path}/{id}` (204), where the spec's DELETE is not deprecated: the record is gone (taxes,
    practitioner reference numbers), not archived."""

    path: str
    writes: ClassVar[bool] = True
    result: ClassVar[tuple[str, ...]] = ("deleted", "id")

    def calls(self) -> str:
        return f"`DELETE {self.path}/{{id}}`"


@dataclass(frozen=True)
class AppointmentDetails:
    """Read an individual appointment and what a message about it needs: GET the appointment (hidden ones
    too), then its practitioner and its business by their links; no write. The start time is given in the
    business's time zone (`time_zone_identifier`), else in the input's `time_zone`, else in UTC, and the
    result says which (`time_zone_from`). Three reads; a missing practitioner or business leaves its
    fields null rather than failing the reminder."""

    path: str = "/individual_appointments"
    writes: ClassVar[bool] = False
    result: ClassVar[tuple[str, ...]] = (
        "found",
        *STATES,
        "id",
        "patient_name",
        "practitioner_name",
        "business_name",
        "starts_at",
        "time_zone",
        "time_zone_from",
        "local_starts_at",
        "local_date",
        "local_time",
        "local_text",
    )

    def calls(self) -> str:
        return (
            f"`GET {self.path}/{{id}}{_hidden_query(self.path)}`, then `GET /practitioners/{{id}}` and "
            "`GET /businesses/{id}` (their links)"
        )


Operation = Create | Update | Get | Find | ListIds | Archive | Unarchive | Cancel | Delete | AppointmentDetails
# The input models' bases, for code that asks what kind of input an action takes.
__all__ = ["ACTIONS", "Action", "ActionInput", "EmailLookupInput", "LookupInput", "Operation", "UpdateInput"]


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
    model: type[BaseModel] | str
    """The input model, or where it lives under `catalog.inputs` (`"patients:PatientCreate"`): imported when
    `input_model` is first read, so a function imports the one it runs, not the catalog's forty."""
    operation: Operation
    sample_input: dict[str, Any]

    @cached_property
    def input_model(self) -> type[BaseModel]:
        if not isinstance(self.model, str):
            return self.model
        module, _, name = self.model.partition(":")
        found: type[BaseModel] = getattr(importlib.import_module(f"cliniko_connector.catalog.inputs.{module}"), name)
        return found

    @property
    def writes(self) -> bool:
        return self.operation.writes

    @property
    def function_suffix(self) -> str:
        """CamelCase part of the Lambda's logical id: `medical_alert.create` → `MedicalAlertCreate`."""
        return "".join(part.capitalize() for part in self.name.replace(".", "_").split("_"))


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
        model="medical_alerts:MedicalAlertCreate",
        operation=Create("/medical_alerts"),
        sample_input={"patient_id": _PATIENT, "name": "Penicillin allergy"},
    ),
    Action(
        name="medical_alert.update",
        resource="medical_alerts",
        description="Rename a medical alert (or move it to another patient).",
        model="medical_alerts:MedicalAlertUpdate",
        operation=Update("/medical_alerts"),
        sample_input={"id": "1000000000000000111", "name": "Severe penicillin allergy"},
    ),
    Action(
        name="medical_alert.find",
        resource="medical_alerts",
        description="Get a medical alert by id or API URL.",
        model="medical_alerts:MedicalAlertFind",
        operation=Get("/medical_alerts"),
        sample_input={"id": f"{_API}/medical_alerts/1000000000000000111"},
    ),
    Action(
        name="contact.create",
        resource="contacts",
        description="Create a contact (a referring doctor, a third-party payer, …).",
        model="contacts:ContactCreate",
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
        model="contacts:ContactUpdate",
        operation=Update("/contacts"),
        sample_input={"id": _CONTACT, "provider_number": "2426621B", "notes": "Prefers referrals by fax."},
    ),
    Action(
        name="contact.find",
        resource="contacts",
        description="Find a contact by id (archived and deleted too) or email (ignoring case; every match counted).",
        model="contacts:ContactFind",
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
        model="contacts:ContactRef",
        operation=Archive("/contacts"),
        sample_input={"id": _CONTACT},
    ),
    Action(
        name="patient.create",
        resource="patients",
        description="Create a patient.",
        model="patients:PatientCreate",
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
        model="patients:PatientUpdate",
        operation=Update("/patients"),
        sample_input={"id": _PATIENT, "occupation": "Teacher", "notes": "Prefers morning appointments."},
    ),
    Action(
        name="patient.find",
        resource="patients",
        description="Find a patient by id (archived too) or email (ignoring case; every match counted).",
        model="patients:PatientFind",
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
        model="patients:PatientRef",
        operation=Archive("/patients"),
        sample_input={"id": _PATIENT},
    ),
    Action(
        name="patient.archive",
        resource="patients",
        description="Archive a patient.",
        model="patients:PatientRef",
        operation=Archive("/patients"),
        sample_input={"id": _PATIENT},
    ),
    Action(
        name="patient.unarchive",
        resource="patients",
        description="Bring an archived patient back.",
        model="patients:PatientRef",
        operation=Unarchive("/patients"),
        sample_input={"id": f"{_API}/patients/{_PATIENT}"},
    ),
    Action(
        name="individual_appointment.create",
        resource="individual_appointments",
        description="Book an individual appointment (`ends_at` defaults from the appointment type).",
        model="appointments:IndividualAppointmentCreate",
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
        model="appointments:IndividualAppointmentUpdate",
        operation=Update("/individual_appointments"),
        sample_input={"id": _INDIVIDUAL, "starts_at": "2026-12-02T09:00:00Z", "ends_at": "2026-12-02T09:30:00Z"},
    ),
    Action(
        name="individual_appointment.cancel",
        resource="individual_appointments",
        description="Cancel an individual appointment with a reason (final: it can't be undone).",
        model="appointments:IndividualAppointmentCancel",
        operation=Cancel("/individual_appointments"),
        sample_input={"id": _INDIVIDUAL, "cancellation_reason": 50, "cancellation_note": "Cancelled by automation."},
    ),
    Action(
        name="group_appointment.create",
        resource="group_appointments",
        description="Create a group appointment (`ends_at` and `max_attendees` default from the type).",
        model="appointments:GroupAppointmentCreate",
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
        model="appointments:GroupAppointmentUpdate",
        operation=Update("/group_appointments"),
        sample_input={"id": _GROUP, "max_attendees": 10},
    ),
    Action(
        name="appointment.find",
        resource="appointments",
        description="Get an appointment by id: individual, else group (or the given `kind` only).",
        model="appointments:AppointmentFind",
        operation=Get(
            "/individual_appointments",
            kinds={"individual": "/individual_appointments", "group": "/group_appointments"},
        ),
        sample_input={"id": _INDIVIDUAL},
    ),
    Action(
        name="appointment.reminder_details",
        resource="individual_appointments",
        description=(
            "What a reminder needs: the appointment's practitioner (display name), business and start time "
            "in the business's time zone (reads only)."
        ),
        model="appointments:AppointmentReminderDetails",
        operation=AppointmentDetails(),
        sample_input={"id": _INDIVIDUAL, "time_zone": "Australia/Sydney"},
    ),
    Action(
        name="appointment_type.find",
        resource="appointment_types",
        description="Get an appointment type by id or API URL.",
        model="appointments:AppointmentTypeFind",
        operation=Get("/appointment_types"),
        sample_input={"id": f"{_API}/appointment_types/{_APPOINTMENT_TYPE}"},
    ),
    Action(
        name="attendee.create",
        resource="attendees",
        description="Add a patient to a group appointment.",
        model="appointments:AttendeeCreate",
        operation=Create("/attendees"),
        sample_input={"booking_id": _GROUP, "patient_id": _PATIENT, "notes": "Joined from the waitlist."},
    ),
    Action(
        name="attendee.cancel",
        resource="attendees",
        description="Cancel a patient's place in a group appointment (final).",
        model="appointments:AttendeeCancel",
        operation=Cancel("/attendees"),
        sample_input={"id": _ATTENDEE, "cancellation_reason": 30},
    ),
    Action(
        name="availability_block.create",
        resource="availability_blocks",
        description="Extra bookable time; for a break use unavailable_block.create",
        model="blocks:AvailabilityBlockCreate",
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
        model="blocks:AvailabilityBlockListIds",
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
        model="blocks:AvailabilityBlockGet",
        operation=Get("/availability_blocks"),
        sample_input={"id": "1000000000000001001"},
    ),
    Action(
        name="unavailable_block.create",
        resource="unavailable_blocks",
        description="A break, leave or a meeting: time a practitioner can't be booked",
        model="blocks:UnavailableBlockCreate",
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
        model="blocks:UnavailableBlockUpdate",
        operation=Update("/unavailable_blocks"),
        sample_input={"id": _UNAVAILABLE, "ends_at": "2026-12-05T02:30:00Z", "notes": "Long lunch"},
    ),
    Action(
        name="unavailable_block.get",
        resource="unavailable_blocks",
        description="Get an unavailable block (a break) by id or API URL.",
        model="blocks:UnavailableBlockRef",
        operation=Get("/unavailable_blocks"),
        sample_input={"id": f"{_API}/unavailable_blocks/{_UNAVAILABLE}"},
    ),
    Action(
        name="unavailable_block.list_ids",
        resource="unavailable_blocks",
        description="The ids of a practitioner's or a business's unavailable blocks (every page, up to `limit`).",
        model="blocks:UnavailableBlockListIds",
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
        model="blocks:UnavailableBlockRef",
        operation=Archive("/unavailable_blocks"),
        sample_input={"id": _UNAVAILABLE},
    ),
    Action(
        name="treatment_note.create",
        resource="treatment_notes",
        description="Write a treatment note from a template, answers optional (the key's user must be a practitioner).",
        model="treatment_notes:TreatmentNoteCreate",
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
        model="treatment_notes:TreatmentNoteFind",
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
        model="products:ProductCreate",
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
        model="products:ProductUpdate",
        operation=Update("/products"),
        sample_input={"id": "1000000000000001101", "price": "26.00"},
    ),
    Action(
        name="product.find",
        resource="products",
        description="Find a product by id, name or item code (item codes are matched client-side, page by page).",
        model="products:ProductFind",
        operation=Find("/products", by={"name": "name"}, match={"item_code": Match("item_code")}),
        sample_input={"item_code": "TB-M"},
    ),
    Action(
        name="communication.create",
        resource="communications",
        description="Record a memo in a patient's communications (Cliniko sends nothing).",
        model="people:CommunicationCreate",
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
        model="people:CommunicationFind",
        operation=Get("/communications"),
        sample_input={"id": "1000000000000001201"},
    ),
    Action(
        name="invoice.find",
        resource="invoices",
        description="Find an invoice by id or invoice number (optionally narrowed by patient and status).",
        model="people:InvoiceFind",
        operation=Find("/invoices", by={"number": "number", "patient_id": "patient_id", "status": "status"}),
        sample_input={"number": 1042},
    ),
    Action(
        name="practitioner.find",
        resource="practitioners",
        description="Find a practitioner, active or inactive, by id or by their user's email.",
        model="people:PractitionerFind",
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
        model="businesses:BusinessCreate",
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
        model="businesses:BusinessUpdate",
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
        model="businesses:BusinessFind",
        operation=Get("/businesses"),
        sample_input={"id": f"{_API}/businesses/{_BUSINESS}"},
    ),
)

# --------------------------------------------------------------------------- issue 15: the rest of the spec

_PATIENT_FORM = "1000000000000001701"
_FORM_TEMPLATE = "1000000000000001751"
_CASE = "1000000000000001801"
_ATTACHMENT = "1000000000000001851"
_BILLABLE = "1000000000000001901"
_ADJUSTMENT = "1000000000000001951"
_CONCESSION = "1000000000000002001"
_SUPPLIER = "1000000000000002051"
_TAX = "1000000000000002101"
_REFERENCE = "1000000000000002151"
_PRODUCT = "1000000000000001101"
_NOTE = "1000000000000001401"
_INVOICE_ITEM = "1000000000000001501"


def _by_id(verb: str, singular: str, resource: str, model: str, record_id: str, description: str) -> Action:
    """An action that names one record by id: archive, unarchive, delete or get."""
    kinds: dict[str, type[Archive | Unarchive | Delete | Get]] = {
        "archive": Archive,
        "unarchive": Unarchive,
        "delete": Delete,
        "get": Get,
    }
    operation: Operation = kinds[verb](f"/{resource}")
    return Action(
        name=f"{singular}.{verb}",
        resource=resource,
        description=description,
        model=f"refs:{model}",
        operation=operation,
        sample_input={"id": record_id},
    )


_BY_ID: tuple[Action, ...] = (
    _by_id(
        "archive",
        "appointment_type",
        "appointment_types",
        "AppointmentTypeRef",
        _APPOINTMENT_TYPE,
        "Archive an appointment type (it can no longer be booked).",
    ),
    _by_id("archive", "attendee", "attendees", "AttendeeRef", _ATTENDEE, "Archive an attendee (Cliniko's delete)."),
    _by_id("archive", "billable_item", "billable_items", "BillableItemRef", _BILLABLE, "Archive a billable item."),
    _by_id("get", "billable_item", "billable_items", "BillableItemRef", _BILLABLE, "Get a billable item by id."),
    _by_id("archive", "business", "businesses", "BusinessRef", _BUSINESS, "Archive a business (a clinic location)."),
    _by_id("unarchive", "business", "businesses", "BusinessRef", _BUSINESS, "Bring an archived business back."),
    _by_id(
        "archive",
        "communication",
        "communications",
        "CommunicationRef",
        "1000000000000001201",
        "Archive a memo (Cliniko archives memos only).",
    ),
    _by_id(
        "get", "concession_type", "concession_types", "ConcessionTypeRef", _CONCESSION, "Get a concession type by id."
    ),
    _by_id(
        "archive",
        "group_appointment",
        "group_appointments",
        "GroupAppointmentRef",
        _GROUP,
        "Archive a group appointment (Cliniko's delete).",
    ),
    _by_id(
        "archive",
        "individual_appointment",
        "individual_appointments",
        "IndividualAppointmentRef",
        _INDIVIDUAL,
        "Archive an individual appointment (Cliniko's delete; to tell the patient, cancel it instead).",
    ),
    _by_id("get", "invoice_item", "invoice_items", "InvoiceItemRef", _INVOICE_ITEM, "Get an invoice item by id."),
    _by_id(
        "archive",
        "medical_alert",
        "medical_alerts",
        "MedicalAlertRef",
        "1000000000000000111",
        "Archive a medical alert.",
    ),
    _by_id(
        "archive",
        "patient_attachment",
        "patient_attachments",
        "PatientAttachmentRef",
        _ATTACHMENT,
        "Archive a patient's attachment (a file).",
    ),
    _by_id(
        "get",
        "patient_attachment",
        "patient_attachments",
        "PatientAttachmentRef",
        _ATTACHMENT,
        "Get a patient attachment's details (not the file) by id.",
    ),
    _by_id("archive", "patient_case", "patient_cases", "PatientCaseRef", _CASE, "Archive a patient case."),
    _by_id("get", "patient_case", "patient_cases", "PatientCaseRef", _CASE, "Get a patient case by id."),
    _by_id("archive", "patient_form", "patient_forms", "PatientFormRef", _PATIENT_FORM, "Archive a patient form."),
    _by_id(
        "get",
        "patient_form",
        "patient_forms",
        "PatientFormRef",
        _PATIENT_FORM,
        "Get a patient form (its answers, whether completed) by id.",
    ),
    _by_id(
        "archive",
        "patient_form_template",
        "patient_form_templates",
        "PatientFormTemplateRef",
        _FORM_TEMPLATE,
        "Archive a patient form template.",
    ),
    _by_id(
        "get",
        "patient_form_template",
        "patient_form_templates",
        "PatientFormTemplateRef",
        _FORM_TEMPLATE,
        "Get a patient form template by id.",
    ),
    _by_id(
        "delete",
        "practitioner_reference_number",
        "practitioner_reference_numbers",
        "PractitionerReferenceNumberRef",
        _REFERENCE,
        "Delete a practitioner's reference number (for good).",
    ),
    _by_id(
        "get",
        "practitioner_reference_number",
        "practitioner_reference_numbers",
        "PractitionerReferenceNumberRef",
        _REFERENCE,
        "Get a practitioner's reference number by id.",
    ),
    _by_id("archive", "product", "products", "ProductRef", _PRODUCT, "Archive a product."),
    _by_id(
        "archive",
        "product_supplier",
        "product_suppliers",
        "ProductSupplierRef",
        _SUPPLIER,
        "Archive a product supplier.",
    ),
    _by_id(
        "get", "product_supplier", "product_suppliers", "ProductSupplierRef", _SUPPLIER, "Get a product supplier by id."
    ),
    _by_id(
        "get",
        "stock_adjustment",
        "stock_adjustments",
        "StockAdjustmentRef",
        _ADJUSTMENT,
        "Get a stock adjustment by id.",
    ),
    _by_id("delete", "tax", "taxes", "TaxRef", _TAX, "Delete a tax (for good)."),
    _by_id("get", "tax", "taxes", "TaxRef", _TAX, "Get a tax by id."),
    _by_id("archive", "treatment_note", "treatment_notes", "TreatmentNoteRef", _NOTE, "Archive a treatment note."),
    _by_id(
        "archive",
        "treatment_note_template",
        "treatment_note_templates",
        "TreatmentNoteTemplateRef",
        _TEMPLATE,
        "Archive a treatment note template.",
    ),
    _by_id(
        "get",
        "treatment_note_template",
        "treatment_note_templates",
        "TreatmentNoteTemplateRef",
        _TEMPLATE,
        "Get a treatment note template by id.",
    ),
)


def _write(verb: str, singular: str, resource: str, model: str, sample: dict[str, Any], description: str) -> Action:
    """A create or an update: the input is the body the spec documents."""
    operation: Operation = Create(f"/{resource}") if verb == "create" else Update(f"/{resource}")
    return Action(f"{singular}.{verb}", resource, description, model, operation, sample)


_WRITES: tuple[Action, ...] = (
    _write(
        "create",
        "patient_form",
        "patient_forms",
        "forms:PatientFormCreate",
        {"patient_id": _PATIENT, "patient_form_template_id": _FORM_TEMPLATE, "attendee_id": _ATTENDEE},
        "Give a patient a form to fill in, from one of the clinic's form templates.",
    ),
    _write(
        "update",
        "patient_form",
        "patient_forms",
        "forms:PatientFormUpdate",
        {"id": _PATIENT_FORM, "completed": True},
        "Change a patient form (mark it completed, …).",
    ),
    _write(
        "create",
        "patient_form_template",
        "patient_form_templates",
        "forms:PatientFormTemplateCreate",
        {"name": "New patient intake", "email_to_patient_on_completion": True},
        "Create a patient form template.",
    ),
    _write(
        "update",
        "patient_form_template",
        "patient_form_templates",
        "forms:PatientFormTemplateUpdate",
        {"id": _FORM_TEMPLATE, "name": "New patient intake (2027)"},
        "Change a patient form template.",
    ),
    _write(
        "create",
        "patient_case",
        "patient_cases",
        "forms:PatientCaseCreate",
        {"patient_id": _PATIENT, "name": "Lower back pain", "issue_date": "2026-12-01", "max_sessions": 10},
        "Open a case for a patient (a course of treatment, a referral, a claim).",
    ),
    _write(
        "update",
        "patient_case",
        "patient_cases",
        "forms:PatientCaseUpdate",
        {"id": _CASE, "closed": True, "notes": "Discharged."},
        "Change a patient case (close it, …).",
    ),
    _write(
        "create",
        "billable_item",
        "billable_items",
        "billing:BillableItemCreate",
        {"name": "Standard consultation", "item_type": "Service", "price": "95.00", "item_code": "SC-30"},
        "Create a billable item (a service or product on invoices).",
    ),
    _write(
        "update",
        "billable_item",
        "billable_items",
        "billing:BillableItemUpdate",
        {"id": _BILLABLE, "price": "99.00"},
        "Change a billable item.",
    ),
    _write(
        "create",
        "concession_type",
        "concession_types",
        "billing:ConcessionTypeCreate",
        {"name": "Pensioner"},
        "Create a concession type.",
    ),
    _write(
        "update",
        "concession_type",
        "concession_types",
        "billing:ConcessionTypeUpdate",
        {"id": _CONCESSION, "name": "Pensioner (card holder)"},
        "Rename a concession type.",
    ),
    _write("create", "tax", "taxes", "billing:TaxCreate", {"name": "GST", "rate": 10}, "Create a tax."),
    _write("update", "tax", "taxes", "billing:TaxUpdate", {"id": _TAX, "rate": 12.5}, "Change a tax."),
    _write(
        "create",
        "stock_adjustment",
        "stock_adjustments",
        "billing:StockAdjustmentCreate",
        {"product_id": _PRODUCT, "adjustment_type": "Stock Purchase", "quantity": 12, "comment": "Delivery"},
        "Adjust a product's stock level (the only way Cliniko changes it).",
    ),
    _write(
        "create",
        "product_supplier",
        "product_suppliers",
        "billing:ProductSupplierCreate",
        {"name": "Rehab Supplies"},
        "Create a product supplier.",
    ),
    _write(
        "update",
        "product_supplier",
        "product_suppliers",
        "billing:ProductSupplierUpdate",
        {"id": _SUPPLIER, "name": "Rehab Supplies Pty Ltd"},
        "Rename a product supplier.",
    ),
    _write(
        "create",
        "practitioner_reference_number",
        "practitioner_reference_numbers",
        "billing:PractitionerReferenceNumberCreate",
        {
            "practitioner_id": _PRACTITIONER,
            "business_id": _BUSINESS,
            "name": "Provider number",
            "reference_number": "2426621B",
        },
        "Record a practitioner's reference number at a business (a provider number).",
    ),
    _write(
        "update",
        "practitioner_reference_number",
        "practitioner_reference_numbers",
        "billing:PractitionerReferenceNumberUpdate",
        {"id": _REFERENCE, "reference_number": "2426621C"},
        "Change a practitioner's reference number.",
    ),
)

_UPDATES: tuple[Action, ...] = (
    _write(
        "create",
        "appointment_type",
        "appointment_types",
        "setup:AppointmentTypeCreate",
        {
            "name": "Initial consultation",
            "duration_in_minutes": 45,
            "color": "#6aa5d8",
            "show_in_online_bookings": True,
        },
        "Create an appointment type.",
    ),
    _write(
        "update",
        "appointment_type",
        "appointment_types",
        "setup:AppointmentTypeUpdate",
        {"id": _APPOINTMENT_TYPE, "duration_in_minutes": 60},
        "Change an appointment type.",
    ),
    _write(
        "update",
        "attendee",
        "attendees",
        "setup:AttendeeUpdate",
        {"id": _ATTENDEE, "arrived": True},
        "Mark a patient arrived at a booking, or change the attendee's notes.",
    ),
    _write(
        "update",
        "communication",
        "communications",
        "setup:CommunicationUpdate",
        {"id": "1000000000000001201", "content": "Called back; left a message."},
        "Change a memo.",
    ),
    _write(
        "update",
        "treatment_note",
        "treatment_notes",
        "setup:TreatmentNoteUpdate",
        {"id": _NOTE, "draft": False},
        "Change a treatment note (`draft: false` finalizes it).",
    ),
    _write(
        "create",
        "treatment_note_template",
        "treatment_note_templates",
        "setup:TreatmentNoteTemplateCreate",
        {
            "name": "Follow-up consultation",
            "content": {
                "sections": [{"name": "Progress", "questions": [{"name": "Since last visit", "type": "paragraph"}]}]
            },
        },
        "Create a treatment note template.",
    ),
    _write(
        "update",
        "treatment_note_template",
        "treatment_note_templates",
        "setup:TreatmentNoteTemplateUpdate",
        {"id": _TEMPLATE, "name": "Standard consultation (2027)"},
        "Change a treatment note template.",
    ),
)

ACTIONS: dict[str, Action] = {a.name: a for a in (*_ACTIONS, *_BY_ID, *_WRITES, *_UPDATES)}
