"""Action input models: patient forms, their templates and patient cases (see `catalog.actions`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cliniko_connector.catalog.inputs.base import ActionInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    AmountString,
    AttendeeId,
    ContactId,
    IsoDate,
    NonEmpty,
    NoteContent,
    PatientAttachmentId,
    PatientCaseId,
    PatientFormId,
    PatientFormTemplateId,
    PatientId,
    Text255,
)

# --------------------------------------------------------------------------- patient forms


class _PatientFormFields(ActionInput):
    patient_id: PatientId = optional()
    patient_form_template_id: PatientFormTemplateId = optional()
    attendee_id: AttendeeId = optional()
    name: Text255 = optional()
    content: NoteContent | None = optional()
    completed: bool = optional()
    email_to_patient_on_completion: bool | None = optional()
    restricted_to_practitioner: bool | None = optional()


class PatientFormCreate(_PatientFormFields):
    """A form for a patient to fill in, from one of the clinic's form templates (its name and questions)."""

    patient_id: PatientId
    patient_form_template_id: PatientFormTemplateId


class PatientFormUpdate(UpdateInput, _PatientFormFields):
    id: PatientFormId


class _PatientFormTemplateFields(ActionInput):
    name: Text255 = optional()
    content: NoteContent | None = optional()
    email_to_patient_on_completion: bool | None = optional()
    restricted_to_practitioner: bool | None = optional()


class PatientFormTemplateCreate(_PatientFormTemplateFields):
    name: Text255


class PatientFormTemplateUpdate(UpdateInput, _PatientFormTemplateFields):
    id: PatientFormTemplateId


# --------------------------------------------------------------------------- patient cases


class _PatientCaseFields(ActionInput):
    name: NonEmpty = optional()
    patient_id: PatientId = optional()
    notes: NonEmpty | None = optional()
    closed: bool | None = optional()
    contact_id: ContactId = optional()
    issue_date: IsoDate | None = optional()
    expiry_date: IsoDate | None = optional()
    max_sessions: Annotated[int, Field(ge=1, le=200)] | None = optional()
    max_invoiceable_amount: AmountString | None = optional()
    include_cancelled_attendees: bool | None = optional()
    include_dna_attendees: bool | None = optional()
    referral: bool | None = optional()
    referral_type: Literal["dva", "medicare"] | None = optional()
    attendee_ids: list[AttendeeId] | None = optional()
    patient_attachment_ids: list[PatientAttachmentId] = optional()


class PatientCaseCreate(_PatientCaseFields):
    name: NonEmpty
    patient_id: PatientId


class PatientCaseUpdate(UpdateInput, _PatientCaseFields):
    id: PatientCaseId
