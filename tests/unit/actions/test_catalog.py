"""The action catalog: exactly the actions the product offers, each one consistent with its operation."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from cliniko_connector.catalog.actions import (
    ACTIONS,
    Action,
    ActionInput,
    AppointmentDetails,
    Archive,
    Cancel,
    Create,
    Delete,
    Find,
    Get,
    ListIds,
    LookupInput,
    Unarchive,
    Update,
    UpdateInput,
)
from cliniko_connector.errors import InputValidationError
from cliniko_connector.usecases.actions import validate_input

EXPECTED = {
    "medical_alert.create",
    "medical_alert.update",
    "medical_alert.find",
    "contact.create",
    "contact.update",
    "contact.find",
    "contact.delete",
    "patient.create",
    "patient.update",
    "patient.find",
    "patient.delete",
    "individual_appointment.create",
    "individual_appointment.update",
    "group_appointment.create",
    "group_appointment.update",
    "appointment.find",
    "appointment_type.find",
    "availability_block.create",
    "availability_block.list_ids",
    "availability_block.get",
    "treatment_note.create",
    "treatment_note.find",
    "product.create",
    "product.update",
    "product.find",
    "communication.find",
    "invoice.find",
    "practitioner.find",
    "business.create",
    "business.update",
    "business.find",
    "individual_appointment.cancel",
    "attendee.create",
    "attendee.cancel",
    "patient.archive",
    "patient.unarchive",
    "communication.create",
    # Breaks are unavailable blocks in Cliniko (issue 12 §2): every operation the spec gives them.
    "unavailable_block.create",
    "unavailable_block.update",
    "unavailable_block.get",
    "unavailable_block.list_ids",
    "unavailable_block.archive",
    # Issue 15: every other non-deprecated write of the spec, and a get by id for each resource it adds.
    "appointment_type.archive",
    "attendee.archive",
    "billable_item.archive",
    "billable_item.get",
    "business.archive",
    "business.unarchive",
    "communication.archive",
    "concession_type.get",
    "group_appointment.archive",
    "individual_appointment.archive",
    "invoice_item.get",
    "medical_alert.archive",
    "patient_attachment.archive",
    "patient_attachment.get",
    "patient_case.archive",
    "patient_case.get",
    "patient_form.archive",
    "patient_form.get",
    "patient_form_template.archive",
    "patient_form_template.get",
    "practitioner_reference_number.delete",
    "practitioner_reference_number.get",
    "product.archive",
    "product_supplier.archive",
    "product_supplier.get",
    "stock_adjustment.get",
    "tax.delete",
    "tax.get",
    "treatment_note.archive",
    "treatment_note_template.archive",
    "treatment_note_template.get",
    "patient_form.create",
    "patient_form.update",
    "patient_form_template.create",
    "patient_form_template.update",
    "patient_case.create",
    "patient_case.update",
    "billable_item.create",
    "billable_item.update",
    "concession_type.create",
    "concession_type.update",
    "tax.create",
    "tax.update",
    "stock_adjustment.create",
    "product_supplier.create",
    "product_supplier.update",
    "practitioner_reference_number.create",
    "practitioner_reference_number.update",
    "appointment_type.create",
    "appointment_type.update",
    "attendee.update",
    "communication.update",
    "treatment_note.update",
    "treatment_note_template.create",
    "treatment_note_template.update",
    # What a reminder needs in one read-only action (issue 17): practitioner's name, local start time.
    "appointment.reminder_details",
}
READS = {name for name in EXPECTED if name.endswith((".find", ".get", ".list_ids", ".reminder_details"))}
ALL = sorted(ACTIONS)


def test_the_catalog_holds_exactly_the_product_actions() -> None:
    assert set(ACTIONS) == EXPECTED
    assert len(ACTIONS) == 98


def test_the_first_action_stays_medical_alert_create() -> None:
    # The template's example automation and its tests build on the first entry.
    assert next(iter(ACTIONS)) == "medical_alert.create"


@pytest.mark.parametrize("name", ALL)
def test_sample_input_is_valid(name: str) -> None:
    action = ACTIONS[name]
    model = validate_input(action, action.sample_input)
    assert isinstance(model, action.input_model)


@pytest.mark.parametrize("name", ALL)
def test_writes_flag_and_function_suffix(name: str) -> None:
    action = ACTIONS[name]
    assert action.writes is (name not in READS)
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", action.function_suffix)
    assert action.name.split(".")[-1] in {
        "create",
        "update",
        "find",
        "get",
        "delete",
        "list_ids",
        "cancel",
        "archive",
        "unarchive",
        "reminder_details",
    }


def test_function_suffixes_are_unique() -> None:
    suffixes = [a.function_suffix for a in ACTIONS.values()]
    assert len(set(suffixes)) == len(suffixes)
    assert ACTIONS["availability_block.list_ids"].function_suffix == "AvailabilityBlockListIds"


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and every nested model it uses."""
    out = [model]
    for info in model.model_fields.values():
        for candidate in _annotation_models(info.annotation):
            if candidate not in out:
                out.extend(m for m in _models(candidate) if m not in out)
    return out


def _annotation_models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _annotation_models(arg)]


@pytest.mark.parametrize("name", ALL)
def test_every_input_model_is_strict_and_closed(name: str) -> None:
    action = ACTIONS[name]
    assert issubclass(action.input_model, ActionInput)
    for model in _models(action.input_model):
        assert model.model_config.get("extra") == "forbid", model
        assert model.model_config.get("strict") is True, model
    action.input_model.model_json_schema()  # the CLI prints it


@pytest.mark.parametrize("name", ALL)
def test_operation_matches_the_resource(name: str) -> None:
    action = ACTIONS[name]
    op = action.operation
    assert op.path.startswith("/")
    if isinstance(op, Get) and op.kinds:
        assert op.path in op.kinds.values()
    else:
        assert op.path == f"/{action.resource}"


@pytest.mark.parametrize("name", ALL)
def test_ids_are_required_exactly_where_the_operation_needs_one(name: str) -> None:
    action = ACTIONS[name]
    fields = action.input_model.model_fields
    op = action.operation
    if isinstance(op, Update | Archive | Unarchive | Cancel | Delete | Get):
        assert fields["id"].is_required()
    if isinstance(op, Create | ListIds):
        assert "id" not in fields
    if isinstance(op, Find):
        assert "id" in fields and not fields["id"].is_required()


@pytest.mark.parametrize("name", [n for n in ALL if isinstance(ACTIONS[n].operation, Update)])
def test_updates_need_an_id_and_something_to_change(name: str) -> None:
    action = ACTIONS[name]
    model = action.input_model
    assert issubclass(model, UpdateInput)
    assert [f for f, info in model.model_fields.items() if info.is_required()] == ["id"]
    with pytest.raises(InputValidationError) as caught:
        validate_input(action, {"id": action.sample_input["id"]})
    assert caught.value.field_errors
    with pytest.raises(InputValidationError):
        validate_input(action, {k: v for k, v in action.sample_input.items() if k != "id"})


@pytest.mark.parametrize("name", [n for n in ALL if isinstance(ACTIONS[n].operation, Find | ListIds)])
def test_lookup_fields_are_the_ones_the_operation_uses(name: str) -> None:
    action = ACTIONS[name]
    model = action.input_model
    op = action.operation
    assert issubclass(model, LookupInput)
    if isinstance(op, Find):
        assert set(model.lookup_keys) == op.lookup_fields
        # `include_archived` widens a search that reads every match; it is not a lookup key of its own.
        extra = {"include_archived"} if op.every_match else set()
        assert set(model.model_fields) == {"id", *model.lookup_keys, *extra}
    else:
        assert isinstance(op, ListIds)
        assert set(op.by) | {op.limit_field} == set(model.model_fields)
        assert set(model.lookup_keys) <= set(op.by)
    with pytest.raises(InputValidationError):
        validate_input(action, {})


@pytest.mark.parametrize("name", [n for n in ALL if isinstance(ACTIONS[n].operation, Find)])
def test_a_find_is_by_id_or_by_the_other_keys_never_both(name: str) -> None:
    action = ACTIONS[name]
    validate_input(action, {"id": "123"})
    with pytest.raises(InputValidationError):
        validate_input(action, {"id": "123", **action.sample_input})


def test_deletes_archive() -> None:
    for name in ("patient.delete", "contact.delete", "patient.archive"):
        assert isinstance(ACTIONS[name].operation, Archive)


def test_a_memo_is_always_category_12() -> None:
    op = ACTIONS["communication.create"].operation
    assert isinstance(op, Create) and op.fixed == {"category_code": 12}


def test_every_action_is_its_own_entry() -> None:
    # One Action object per name; the same operation *type* is shared, never per-action code.
    actions: list[Action] = list(ACTIONS.values())
    assert len({id(a) for a in actions}) == len(actions)
    assert {type(a.operation) for a in actions} == {
        Create,
        Update,
        Get,
        Find,
        ListIds,
        Archive,
        Unarchive,
        Cancel,
        Delete,
        AppointmentDetails,  # the one composite read: a reminder's details (issue 17)
    }
