"""Action input models: medical alerts (see `catalog.actions`)."""

from __future__ import annotations

from cliniko_connector.catalog.inputs.base import ActionInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    MedicalAlertId,
    PatientId,
    Text255,
)

# --------------------------------------------------------------------------- medical alerts


class _MedicalAlertFields(ActionInput):
    patient_id: PatientId = optional()
    name: Text255 = optional()


class MedicalAlertCreate(_MedicalAlertFields):
    patient_id: PatientId
    name: Text255


class MedicalAlertUpdate(UpdateInput, _MedicalAlertFields):
    id: MedicalAlertId


class MedicalAlertFind(ActionInput):
    id: MedicalAlertId
