"""Action input models: communications, invoices, people (see `catalog.actions`)."""

from __future__ import annotations

from pydantic import Field

from cliniko_connector.catalog.inputs.base import ActionInput, LookupInput, optional
from cliniko_connector.catalog.types import (
    CommunicationDirection,
    CommunicationId,
    CommunicationType,
    Email,
    InvoiceId,
    InvoiceNumber,
    InvoiceStatus,
    NonEmpty,
    PatientId,
    PractitionerId,
    Text255,
)

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
    id: InvoiceId = optional()
    number: InvoiceNumber = optional()
    patient_id: PatientId = optional()
    status: InvoiceStatus = optional()


class PractitionerFind(LookupInput):
    lookup_keys = ("email",)
    id: PractitionerId = optional()
    email: Email = optional()
