"""Action catalog: every Cliniko action is one entry here, an input model plus a generic operation.

The action Lambda, its template resource, its sample event and its docs all come from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from cliniko_connector.catalog.types import STRICT_INPUT, ClinikoId, NonEmpty


@dataclass(frozen=True)
class Create:
    """POST the input as the body to `path`; the result is the created record."""

    path: str


@dataclass(frozen=True)
class Update:
    """PATCH `{path}/{id}` with every given field but `id`."""

    path: str


@dataclass(frozen=True)
class Get:
    """GET `{path}/{id}`; a 404 is `found: false`."""

    path: str


Operation = Create | Update | Get


@dataclass(frozen=True)
class Action:
    name: str
    resource: str
    description: str
    input_model: type[BaseModel]
    operation: Operation
    sample_input: dict[str, Any]

    @property
    def writes(self) -> bool:
        return not isinstance(self.operation, Get)

    @property
    def function_suffix(self) -> str:
        """CamelCase part of the Lambda's logical id: `medical_alert.create` → `MedicalAlertCreate`."""
        return "".join(part.capitalize() for part in self.name.replace(".", "_").split("_"))


class MedicalAlertCreate(BaseModel):
    model_config = STRICT_INPUT
    patient_id: ClinikoId
    name: NonEmpty


_ACTIONS: tuple[Action, ...] = (
    Action(
        name="medical_alert.create",
        resource="medical_alerts",
        description="Create a medical alert on a patient.",
        input_model=MedicalAlertCreate,
        operation=Create("/medical_alerts"),
        sample_input={"patient_id": "1000000000000000001", "name": "Penicillin allergy"},
    ),
)

ACTIONS: dict[str, Action] = {a.name: a for a in _ACTIONS}
