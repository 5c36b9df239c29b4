"""Action input models: appointment types, treatment note templates, and the updates of attendees, memos and
treatment notes (see `catalog.actions`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from cliniko_connector.catalog.inputs.base import ActionInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    AmountString,
    AppointmentTypeId,
    AttendeeId,
    BillableItemId,
    BookingId,
    BusinessId,
    ClinikoId,
    CommunicationDirection,
    CommunicationId,
    CommunicationType,
    NonEmpty,
    NoteContent,
    PatientCaseId,
    PatientId,
    PractitionerId,
    ProductId,
    Text255,
    TreatmentNoteId,
    TreatmentNoteTemplateId,
)

Color = Annotated[str, StringConstraints(pattern=r"^#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})$")]
LeadTimeHours = Literal[0, 1, 2, 4, 12, 18, 24, 48, 72, 168, 336, 504, 672]


def _optional_as(alias: str) -> Any:
    """An optional field sent to Cliniko under another name (`from`, a Python keyword)."""
    return Field(default=None, alias=alias)


# --------------------------------------------------------------------------- appointment types


class _AppointmentTypeFields(ActionInput):
    name: Text255 = optional()
    category: NonEmpty | None = optional()
    color: Color = optional()
    description: NonEmpty | None = optional()
    duration_in_minutes: Annotated[int, Field(ge=1, le=1439)] = optional()
    max_attendees: Annotated[int, Field(ge=1, le=99)] = optional()
    show_in_online_bookings: bool | None = optional()
    telehealth_enabled: bool | None = optional()
    online_bookings_lead_time_hours: LeadTimeHours | None = optional()
    online_payments_mode: Literal["deposit_required", "optional", "required"] | None = optional()
    deposit_price: AmountString | None = optional()
    add_deposit_to_account_credit: bool | None = optional()
    billable_item_id: BillableItemId = optional()
    product_id: ProductId = optional()
    treatment_note_template_id: TreatmentNoteTemplateId = optional()
    practitioner_ids: list[PractitionerId] = optional()
    business_ids: list[BusinessId] = optional()
    appointment_confirmation_template_ids: list[ClinikoId] | None = optional()
    appointment_reminder_template_ids: list[ClinikoId] | None = optional()


class AppointmentTypeCreate(_AppointmentTypeFields):
    name: Text255


class AppointmentTypeUpdate(UpdateInput, _AppointmentTypeFields):
    id: AppointmentTypeId


# --------------------------------------------------------------------------- updates of existing resources


class AttendeeUpdate(UpdateInput):
    """Cliniko changes only these three on an attendee."""

    id: AttendeeId
    arrived: bool | None = optional()
    notes: NonEmpty | None = optional()
    patient_case_id: PatientCaseId = optional()


class CommunicationUpdate(UpdateInput):
    """A memo only (Cliniko refuses to change other communications)."""

    id: CommunicationId
    patient_id: PatientId = optional()
    content: NonEmpty = optional()
    type_code: CommunicationType = optional()
    direction_code: CommunicationDirection = optional()
    from_: Text255 = _optional_as("from")
    to: Text255 = optional()
    confidential: bool = optional()


class TreatmentNoteUpdate(UpdateInput):
    """`draft: false` finalizes the note (then it can't be changed in Cliniko's UI)."""

    id: TreatmentNoteId
    content: NoteContent | None = optional()
    draft: bool = optional()
    title: Text255 = optional()
    patient_id: PatientId = optional()
    booking_id: BookingId = optional()
    attendee_id: AttendeeId = optional()
    treatment_note_template_id: TreatmentNoteTemplateId = optional()


class _TreatmentNoteTemplateFields(ActionInput):
    name: Text255 = optional()
    content: NoteContent = optional()
    print_settings: dict[str, Any] = optional()


class TreatmentNoteTemplateCreate(_TreatmentNoteTemplateFields):
    name: Text255


class TreatmentNoteTemplateUpdate(UpdateInput, _TreatmentNoteTemplateFields):
    id: TreatmentNoteTemplateId
