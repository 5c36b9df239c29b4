"""Action input models: appointments (see `catalog.actions`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cliniko_connector.catalog.inputs.base import ActionInput, EndsAfterStarts, UpdateInput, optional
from cliniko_connector.catalog.types import (
    AppointmentId,
    AppointmentKind,
    AppointmentRepeatRule,
    AppointmentTypeId,
    AttendeeId,
    BusinessId,
    CancellationReason,
    GroupAppointmentId,
    IndividualAppointmentId,
    NonEmpty,
    PatientCaseId,
    PatientId,
    PractitionerId,
    TimeZoneId,
    UtcTimestamp,
)

# --------------------------------------------------------------------------- appointments


class _IndividualAppointmentFields(EndsAfterStarts):
    starts_at: UtcTimestamp = optional()
    ends_at: UtcTimestamp = optional()
    patient_id: PatientId = optional()
    practitioner_id: PractitionerId = optional()
    appointment_type_id: AppointmentTypeId = optional()
    business_id: BusinessId = optional()
    patient_case_id: PatientCaseId = optional()
    notes: NonEmpty | None = optional()
    repeat_rule: AppointmentRepeatRule | None = optional()


class IndividualAppointmentCreate(_IndividualAppointmentFields):
    starts_at: UtcTimestamp
    patient_id: PatientId
    practitioner_id: PractitionerId
    appointment_type_id: AppointmentTypeId
    business_id: BusinessId


class IndividualAppointmentUpdate(UpdateInput, _IndividualAppointmentFields):
    id: IndividualAppointmentId


class _GroupAppointmentFields(EndsAfterStarts):
    starts_at: UtcTimestamp = optional()
    ends_at: UtcTimestamp = optional()
    practitioner_id: PractitionerId = optional()
    appointment_type_id: AppointmentTypeId = optional()
    business_id: BusinessId = optional()
    max_attendees: Annotated[int, Field(ge=2, le=99)] = optional()
    notes: NonEmpty | None = optional()
    repeat_rule: AppointmentRepeatRule | None = optional()


class GroupAppointmentCreate(_GroupAppointmentFields):
    starts_at: UtcTimestamp
    practitioner_id: PractitionerId
    appointment_type_id: AppointmentTypeId
    business_id: BusinessId


class GroupAppointmentUpdate(UpdateInput, _GroupAppointmentFields):
    id: GroupAppointmentId


class AppointmentFind(ActionInput):
    id: AppointmentId
    kind: AppointmentKind = optional()


class AppointmentReminderDetails(ActionInput):
    id: IndividualAppointmentId
    time_zone: TimeZoneId | None = Field(
        default=None,
        description=(
            "The zone to give the time in when the business has no `time_zone_identifier` "
            "(Cliniko keeps it per business only with advanced time-zone support); default UTC."
        ),
    )


class AppointmentTypeFind(ActionInput):
    id: AppointmentTypeId


class IndividualAppointmentCancel(ActionInput):
    id: IndividualAppointmentId
    cancellation_reason: CancellationReason
    cancellation_note: NonEmpty = optional()
    apply_to_repeats: bool = optional()


class AttendeeCreate(ActionInput):
    booking_id: GroupAppointmentId
    patient_id: PatientId
    arrived: bool | None = optional()
    notes: NonEmpty | None = optional()
    patient_case_id: PatientCaseId = optional()


class AttendeeCancel(ActionInput):
    id: AttendeeId
    cancellation_reason: CancellationReason
    cancellation_note: NonEmpty = optional()
    apply_to_repeats: bool = optional()
