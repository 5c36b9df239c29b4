"""Action input models: businesses (see `catalog.actions`)."""

from __future__ import annotations

from cliniko_connector.catalog.inputs.base import ActionInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    AppointmentTypeId,
    BusinessId,
    CountryCode,
    Email,
    NonEmpty,
    Text255,
    Text5000,
    TimeZoneId,
)

# --------------------------------------------------------------------------- businesses


class _BusinessFields(ActionInput):
    business_name: Text255 | None = optional()
    display_name: Text255 | None = optional()
    address_1: Text255 | None = optional()
    address_2: Text255 | None = optional()
    city: Text255 | None = optional()
    state: Text255 | None = optional()
    post_code: Text255 | None = optional()
    country_code: CountryCode | None = optional()
    time_zone: Text255 | None = optional()
    time_zone_identifier: TimeZoneId | None = optional()
    contact_information: NonEmpty | None = optional()
    email_reply_to: Email | None = optional()
    website_address: Text255 | None = optional()
    business_registration_name: Text255 | None = optional()
    business_registration_value: Text255 | None = optional()
    additional_information: Text5000 | None = optional()
    additional_invoice_information: Text5000 | None = optional()
    appointment_reminders_enabled: bool | None = optional()
    show_in_online_bookings: bool | None = optional()
    appointment_type_ids: list[AppointmentTypeId] | None = optional()


class BusinessCreate(_BusinessFields):
    business_name: Text255


class BusinessUpdate(UpdateInput, _BusinessFields):
    id: BusinessId


class BusinessFind(ActionInput):
    id: BusinessId
