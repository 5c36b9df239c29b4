"""Action input models that name one record by its id: archive, unarchive, delete and get (see `catalog.actions`)."""

from __future__ import annotations

from cliniko_connector.catalog.inputs.base import ActionInput
from cliniko_connector.catalog.types import (
    AppointmentTypeId,
    AttendeeId,
    BillableItemId,
    BusinessId,
    CommunicationId,
    ConcessionTypeId,
    GroupAppointmentId,
    IndividualAppointmentId,
    InvoiceItemId,
    MedicalAlertId,
    PatientAttachmentId,
    PatientCaseId,
    PatientFormId,
    PatientFormTemplateId,
    PractitionerReferenceNumberId,
    ProductId,
    ProductSupplierId,
    StockAdjustmentId,
    TaxId,
    TreatmentNoteId,
    TreatmentNoteTemplateId,
)


class AppointmentTypeRef(ActionInput):
    id: AppointmentTypeId


class AttendeeRef(ActionInput):
    id: AttendeeId


class BillableItemRef(ActionInput):
    id: BillableItemId


class BusinessRef(ActionInput):
    id: BusinessId


class CommunicationRef(ActionInput):
    id: CommunicationId


class ConcessionTypeRef(ActionInput):
    id: ConcessionTypeId


class GroupAppointmentRef(ActionInput):
    id: GroupAppointmentId


class IndividualAppointmentRef(ActionInput):
    id: IndividualAppointmentId


class InvoiceItemRef(ActionInput):
    id: InvoiceItemId


class MedicalAlertRef(ActionInput):
    id: MedicalAlertId


class PatientAttachmentRef(ActionInput):
    id: PatientAttachmentId


class PatientCaseRef(ActionInput):
    id: PatientCaseId


class PatientFormRef(ActionInput):
    id: PatientFormId


class PatientFormTemplateRef(ActionInput):
    id: PatientFormTemplateId


class PractitionerReferenceNumberRef(ActionInput):
    id: PractitionerReferenceNumberId


class ProductRef(ActionInput):
    id: ProductId


class ProductSupplierRef(ActionInput):
    id: ProductSupplierId


class StockAdjustmentRef(ActionInput):
    id: StockAdjustmentId


class TaxRef(ActionInput):
    id: TaxId


class TreatmentNoteRef(ActionInput):
    id: TreatmentNoteId


class TreatmentNoteTemplateRef(ActionInput):
    id: TreatmentNoteTemplateId
