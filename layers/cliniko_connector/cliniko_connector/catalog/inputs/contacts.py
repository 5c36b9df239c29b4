"""Action input models: contacts (see `catalog.actions`)."""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from cliniko_connector.catalog.inputs.base import ActionInput, EmailLookupInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    ContactId,
    ContactType,
    CountryCode,
    DoctorType,
    Email,
    NonEmpty,
    PhoneNumber,
    Text255,
)

# --------------------------------------------------------------------------- contacts


class _ContactFields(ActionInput):
    title: Text255 | None = optional()
    first_name: Text255 | None = optional()
    last_name: Text255 | None = optional()
    preferred_name: Text255 | None = optional()
    company_name: Text255 | None = optional()
    occupation: Text255 | None = optional()
    email: Email | None = optional()
    phone_numbers: list[PhoneNumber] = optional()
    address_1: Text255 | None = optional()
    address_2: Text255 | None = optional()
    address_3: Text255 | None = optional()
    city: Text255 | None = optional()
    state: Text255 | None = optional()
    post_code: Text255 | None = optional()
    country_code: CountryCode | None = optional()
    provider_number: Text255 | None = optional()
    doctor_type: DoctorType | None = optional()
    type_code: ContactType | None = optional()
    notes: NonEmpty | None = optional()


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
    id: ContactId = optional()


class ContactRef(ActionInput):
    id: ContactId
