"""Action input models: patients (see `catalog.actions`)."""

from __future__ import annotations

from typing import Any

from cliniko_connector.catalog.inputs.base import ActionInput, EmailLookupInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    ConcessionTypeId,
    ContactId,
    Email,
    IsoDate,
    NonEmpty,
    PatientId,
    PhoneNumber,
    Pronouns,
    ReminderType,
    Text255,
    TimeZoneId,
)

# --------------------------------------------------------------------------- patients


class _PatientFields(ActionInput):
    title: Text255 | None = optional()
    first_name: Text255 = optional()
    last_name: Text255 = optional()
    preferred_first_name: Text255 | None = optional()
    date_of_birth: IsoDate | None = optional()
    sex: Text255 | None = optional()
    gender_identity: Text255 | None = optional()
    pronouns: Pronouns | None = optional()
    email: Email | None = optional()
    patient_phone_numbers: list[PhoneNumber] = optional()
    address_1: Text255 | None = optional()
    address_2: Text255 | None = optional()
    address_3: Text255 | None = optional()
    city: Text255 | None = optional()
    state: Text255 | None = optional()
    post_code: Text255 | None = optional()
    country: Text255 | None = optional()
    time_zone: TimeZoneId | None = optional()
    occupation: Text255 | None = optional()
    emergency_contact: Text255 | None = optional()
    notes: NonEmpty | None = optional()
    appointment_notes: NonEmpty | None = optional()
    old_reference_id: Text255 | None = optional()
    referral_source: Text255 | None = optional()
    referring_doctor_id: ContactId = optional()
    concession_type_id: ConcessionTypeId = optional()
    medicare: Text255 | None = optional()
    medicare_reference_number: Text255 | None = optional()
    dva_card_number: Text255 | None = optional()
    invoice_email: Email | None = optional()
    invoice_default_to: Text255 | None = optional()
    invoice_extra_information: NonEmpty | None = optional()
    reminder_type: ReminderType | None = optional()
    receives_confirmation_emails: bool | None = optional()
    accepted_privacy_policy: bool | None = optional()
    accepted_email_marketing: bool | None = optional()
    unsubscribe_sms_marketing: bool = optional()
    custom_fields: dict[str, Any] | None = optional()


class PatientCreate(_PatientFields):
    first_name: Text255
    last_name: Text255


class PatientUpdate(UpdateInput, _PatientFields):
    id: PatientId


class PatientFind(EmailLookupInput):
    id: PatientId = optional()


class PatientRef(ActionInput):
    id: PatientId
