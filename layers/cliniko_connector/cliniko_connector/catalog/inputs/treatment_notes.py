"""Action input models: treatment notes (see `catalog.actions`)."""

from __future__ import annotations

from cliniko_connector.catalog.inputs.base import ActionInput, LookupInput, optional
from cliniko_connector.catalog.types import (
    AttendeeId,
    BookingId,
    NoteContent,
    PatientId,
    Text255,
    TreatmentNoteId,
    TreatmentNoteTemplateId,
)

# --------------------------------------------------------------------------- treatment notes


class TreatmentNoteCreate(ActionInput):
    """`content` and `draft` are optional, as in the spec: without `content` Cliniko fills the note from its
    template; without `draft` Cliniko's default applies."""

    treatment_note_template_id: TreatmentNoteTemplateId
    patient_id: PatientId
    content: NoteContent | None = optional()
    draft: bool = optional()
    booking_id: BookingId = optional()
    attendee_id: AttendeeId = optional()
    title: Text255 = optional()


class TreatmentNoteFind(LookupInput):
    lookup_keys = ("patient_id", "booking_id", "attendee_id", "treatment_note_template_id", "draft")
    id: TreatmentNoteId = optional()
    patient_id: PatientId = optional()
    booking_id: BookingId = optional()
    attendee_id: AttendeeId = optional()
    treatment_note_template_id: TreatmentNoteTemplateId = optional()
    draft: bool = optional()
