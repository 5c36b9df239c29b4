"""Every implemented operation, request and response checked against the official OpenAPI spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cliniko_tools.simulator import Simulator
from tests.simulator.spec_check import ContractClient

NOTE_CONTENT = {"sections": [{"name": "S", "questions": [{"name": "Q", "type": "text", "answer": "fine"}]}]}


@dataclass
class World:
    """Ids of one record of every kind, created through the staff API on top of the demo seed."""

    ids: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.ids[key]


@pytest.fixture
def world(demo: Simulator) -> World:
    def first(resource: str) -> str:
        return str(demo.list(resource)[0]["id"])

    ids = {
        "business": first("businesses"),
        "practitioner": first("practitioners"),
        "appointment_type": first("appointment_types"),
        "patient": first("patients"),
        "user": first("users"),
        "template": first("treatment_note_templates"),
    }
    common = {
        "practitioner_id": ids["practitioner"],
        "appointment_type_id": ids["appointment_type"],
        "business_id": ids["business"],
    }
    appointment = demo.create(
        "individual_appointments", {**common, "patient_id": ids["patient"], "starts_at": "2030-01-01T09:00:00Z"}
    )
    group = demo.create("group_appointments", {**common, "starts_at": "2030-01-02T09:00:00Z", "max_attendees": 5})
    attendee = demo.create("attendees", {"booking_id": group["id"], "patient_id": ids["patient"]})
    invoice = demo.create(
        "invoices",
        {
            "patient_id": ids["patient"],
            "business_id": ids["business"],
            "practitioner_id": ids["practitioner"],
            "appointment_id": appointment["id"],
            "attendee_id": attendee["id"],
        },
    )
    item = demo.create("invoice_items", {"invoice_id": invoice["id"], "name": "Consult", "unit_price": "95.50"})
    ids.update(
        appointment=appointment["id"],
        group=group["id"],
        attendee=attendee["id"],
        invoice=invoice["id"],
        invoice_item=item["id"],
        block=demo.create(
            "unavailable_blocks",
            {
                "practitioner_id": ids["practitioner"],
                "business_id": ids["business"],
                "starts_at": "2030-01-03T09:00:00Z",
                "ends_at": "2030-01-03T10:00:00Z",
            },
        )["id"],
        availability=demo.create(
            "availability_blocks",
            {
                "practitioner_id": ids["practitioner"],
                "business_id": ids["business"],
                "starts_at": "2030-01-04T09:00:00Z",
                "ends_at": "2030-01-04T12:00:00Z",
            },
        )["id"],
        contact=demo.create("contacts", {"first_name": "Gregory", "last_name": "House", "type_code": 1})["id"],
        product=demo.create("products", {"name": "Theraband", "price": "12.5", "stock_level": 4})["id"],
        alert=demo.list("medical_alerts")[0]["id"],
        note=demo.create(
            "treatment_notes",
            {"patient_id": ids["patient"], "content": NOTE_CONTENT, "practitioner_id": ids["practitioner"]},
        )["id"],
        communication=demo.create(
            "communications",
            {
                "patient_id": ids["patient"],
                "content": "Called about referral",
                "confidential": False,
                "direction_code": 1,
                "type_code": 3,
                "from": "Clinic",
                "to": "Patient",
            },
        )["id"],
    )
    form_template = demo.create("patient_form_templates", {"name": "Intake", "content": NOTE_CONTENT})
    tax = demo.create("taxes", {"name": "GST", "rate": 10.0})
    ids.update(
        form_template=form_template["id"],
        form=demo.create(
            "patient_forms",
            {
                "patient_id": ids["patient"],
                "patient_form_template_id": form_template["id"],
                "attendee_id": attendee["id"],
            },
        )["id"],
        case=demo.create("patient_cases", {"patient_id": ids["patient"], "name": "Knee"})["id"],
        attachment=demo.create(
            "patient_attachments", {"patient_id": ids["patient"], "upload_url": "https://uploads.example.com/a.pdf"}
        )["id"],
        tax=tax["id"],
        billable_item=demo.create(
            "billable_items", {"name": "Consult", "item_type": "Service", "price": "95.00", "tax_id": tax["id"]}
        )["id"],
        adjustment=demo.create(
            "stock_adjustments", {"product_id": ids["product"], "adjustment_type": "Stock Purchase", "quantity": 2}
        )["id"],
        concession_type=demo.create("concession_types", {"name": "Pensioner"})["id"],
        supplier=demo.create("product_suppliers", {"name": "Supplies Co"})["id"],
        reference_number=demo.create(
            "practitioner_reference_numbers",
            {"practitioner_id": ids["practitioner"], "business_id": ids["business"], "reference_number": "1"},
        )["id"],
    )
    return World(ids)


Case = tuple[str, str, Callable[[World], Any], int]  # method, path template, body factory, status


def _appointment_body(w: World) -> dict[str, Any]:
    return {
        "starts_at": "2030-02-01T10:00:00Z",
        "patient_id": w["patient"],
        "practitioner_id": w["practitioner"],
        "appointment_type_id": w["appointment_type"],
        "business_id": w["business"],
        "notes": "first visit",
    }


NONE: Callable[[World], Any] = lambda w: None  # noqa: E731

CASES: dict[str, Case] = {
    # patients
    "list_patients": ("GET", "/patients", NONE, 200),
    "get_patient": ("GET", "/patients/{patient}", NONE, 200),
    "create_patient": (
        "POST",
        "/patients",
        lambda w: {
            "first_name": "Mary",
            "last_name": "Shelley",
            "email": "mary@example.com",
            "date_of_birth": "1997-08-30",
            "patient_phone_numbers": [{"phone_type": "Mobile", "number": "0400 123 456"}],
            "reminder_type": "SMS",
            "pronouns": {
                "accusative": "her",
                "nominative": "she",
                "predicative_possessive": "hers",
                "pronominal_possessive": "her",
                "reflexive": "herself",
            },
            "referring_doctor_id": w["contact"],
        },
        201,
    ),
    "create_patient_invalid": ("POST", "/patients", lambda w: {"first_name": "Mary"}, 422),
    "create_patient_not_an_object": ("POST", "/patients", lambda w: ["Mary"], 422),
    "update_patient": ("PATCH", "/patients/{patient}", lambda w: {"email": "new@example.com"}, 200),
    "update_patient_invalid": ("PATCH", "/patients/{patient}", lambda w: {"date_of_birth": "yesterday"}, 422),
    "archive_patient": ("POST", "/patients/{patient}/archive", NONE, 204),
    "unarchive_patient": ("POST", "/patients/{patient}/unarchive", NONE, 200),
    "delete_patient": ("DELETE", "/patients/{patient}", NONE, 204),
    "patient_medical_alerts": ("GET", "/patients/{patient}/medical_alerts", NONE, 200),
    "patient_invoices": ("GET", "/patients/{patient}/invoices", NONE, 200),
    "patient_treatment_notes": ("GET", "/patients/{patient}/treatment_notes", NONE, 200),
    # contacts
    "list_contacts": ("GET", "/contacts", NONE, 200),
    "get_contact": ("GET", "/contacts/{contact}", NONE, 200),
    "create_contact": (
        "POST",
        "/contacts",
        lambda w: {"first_name": "Lisa", "last_name": "Cuddy", "country_code": "AU", "doctor_type": "specialist"},
        201,
    ),
    "create_contact_invalid": ("POST", "/contacts", lambda w: {"type_code": 7}, 422),
    "update_contact": ("PATCH", "/contacts/{contact}", lambda w: {"company_name": "PPTH"}, 200),
    "archive_contact": ("POST", "/contacts/{contact}/archive", NONE, 204),
    "delete_contact": ("DELETE", "/contacts/{contact}", NONE, 204),
    # appointment types
    "list_appointment_types": ("GET", "/appointment_types", NONE, 200),
    "get_appointment_type": ("GET", "/appointment_types/{appointment_type}", NONE, 200),
    "create_appointment_type": (
        "POST",
        "/appointment_types",
        lambda w: {"name": "Massage", "duration_in_minutes": 45, "color": "#aabbcc", "max_attendees": 1},
        201,
    ),
    "create_appointment_type_invalid": ("POST", "/appointment_types", lambda w: {"name": "X", "color": "red"}, 422),
    "update_appointment_type": ("PATCH", "/appointment_types/{appointment_type}", lambda w: {"description": "d"}, 200),
    "archive_appointment_type": ("POST", "/appointment_types/{appointment_type}/archive", NONE, 204),
    "delete_appointment_type": ("DELETE", "/appointment_types/{appointment_type}", NONE, 204),
    "practitioner_appointment_types": ("GET", "/practitioners/{practitioner}/appointment_types", NONE, 200),
    # individual appointments
    "list_individual_appointments": ("GET", "/individual_appointments", NONE, 200),
    "get_individual_appointment": ("GET", "/individual_appointments/{appointment}", NONE, 200),
    "create_individual_appointment": ("POST", "/individual_appointments", _appointment_body, 201),
    "create_individual_appointment_invalid": (
        "POST",
        "/individual_appointments",
        lambda w: {**_appointment_body(w), "patient_id": "999"},
        422,
    ),
    "update_individual_appointment": (
        "PATCH",
        "/individual_appointments/{appointment}",
        lambda w: {"notes": "moved"},
        200,
    ),
    "cancel_individual_appointment": (
        "PATCH",
        "/individual_appointments/{appointment}/cancel",
        lambda w: {"cancellation_reason": 40, "cancellation_note": "away"},
        204,
    ),
    "cancel_individual_appointment_invalid": (
        "PATCH",
        "/individual_appointments/{appointment}/cancel",
        lambda w: {"cancellation_reason": 11},
        422,
    ),
    "individual_appointment_conflicts": ("GET", "/individual_appointments/{appointment}/conflicts", NONE, 200),
    "individual_appointment_attendees": ("GET", "/individual_appointments/{appointment}/attendees", NONE, 200),
    "archive_individual_appointment": ("POST", "/individual_appointments/{appointment}/archive", NONE, 204),
    "delete_individual_appointment": ("DELETE", "/individual_appointments/{appointment}", NONE, 204),
    # group appointments
    "list_group_appointments": ("GET", "/group_appointments", NONE, 200),
    "get_group_appointment": ("GET", "/group_appointments/{group}", NONE, 200),
    "create_group_appointment": (
        "POST",
        "/group_appointments",
        lambda w: {k: v for k, v in _appointment_body(w).items() if k != "patient_id"} | {"max_attendees": 8},
        201,
    ),
    "create_group_appointment_invalid": ("POST", "/group_appointments", lambda w: {"notes": "x"}, 422),
    "update_group_appointment": ("PATCH", "/group_appointments/{group}", lambda w: {"max_attendees": 6}, 200),
    "group_appointment_conflicts": ("GET", "/group_appointments/{group}/conflicts", NONE, 200),
    "group_appointment_attendees": ("GET", "/group_appointments/{group}/attendees", NONE, 200),
    "archive_group_appointment": ("POST", "/group_appointments/{group}/archive", NONE, 204),
    "delete_group_appointment": ("DELETE", "/group_appointments/{group}", NONE, 204),
    # attendees
    "list_attendees": ("GET", "/attendees", NONE, 200),
    "get_attendee": ("GET", "/attendees/{attendee}", NONE, 200),
    "create_attendee": ("POST", "/attendees", lambda w: {"booking_id": w["group"], "patient_id": w["patient"]}, 201),
    "create_attendee_invalid": ("POST", "/attendees", lambda w: {"booking_id": w["group"]}, 422),
    "update_attendee": ("PATCH", "/attendees/{attendee}", lambda w: {"arrived": True, "notes": "on time"}, 200),
    "cancel_attendee": ("PATCH", "/attendees/{attendee}/cancel", lambda w: {"cancellation_reason": 30}, 204),
    "archive_attendee": ("POST", "/attendees/{attendee}/archive", NONE, 204),
    "delete_attendee": ("DELETE", "/attendees/{attendee}", NONE, 204),
    "attendee_invoices": ("GET", "/attendees/{attendee}/invoices", NONE, 200),
    # availability & unavailability
    "list_availability_blocks": ("GET", "/availability_blocks", NONE, 200),
    "get_availability_block": ("GET", "/availability_blocks/{availability}", NONE, 200),
    "create_availability_block": (
        "POST",
        "/availability_blocks",
        lambda w: {
            "practitioner_id": w["practitioner"],
            "business_id": w["business"],
            "starts_at": "2030-03-01T09:00:00Z",
            "ends_at": "2030-03-01T11:00:00Z",
            "repeat_rule": {"repeat_type": "Weekly", "repeating_interval": 1, "number_of_repeats": 4},
        },
        201,
    ),
    "create_availability_block_invalid": (
        "POST",
        "/availability_blocks",
        lambda w: {
            "practitioner_id": w["practitioner"],
            "business_id": w["business"],
            "starts_at": "2030-03-01T11:00:00Z",
            "ends_at": "2030-03-01T09:00:00Z",
        },
        422,
    ),
    "list_unavailable_blocks": ("GET", "/unavailable_blocks", NONE, 200),
    "get_unavailable_block": ("GET", "/unavailable_blocks/{block}", NONE, 200),
    "create_unavailable_block": (
        "POST",
        "/unavailable_blocks",
        lambda w: {
            "practitioner_id": w["practitioner"],
            "business_id": w["business"],
            "starts_at": "2030-03-02T09:00:00Z",
            "ends_at": "2030-03-02T10:00:00Z",
            "notes": "training",
        },
        201,
    ),
    "update_unavailable_block": ("PATCH", "/unavailable_blocks/{block}", lambda w: {"notes": "lunch"}, 200),
    "unavailable_block_conflicts": ("GET", "/unavailable_blocks/{block}/conflicts", NONE, 200),
    "archive_unavailable_block": ("POST", "/unavailable_blocks/{block}/archive", NONE, 204),
    "delete_unavailable_block": ("DELETE", "/unavailable_blocks/{block}", NONE, 204),
    "create_unavailable_block_invalid": (
        "POST",
        "/unavailable_blocks",
        lambda w: {
            "practitioner_id": w["practitioner"],
            "business_id": w["business"],
            "starts_at": "2030-03-02T09:00:00Z",
            "ends_at": "2030-03-02T10:00:00Z",
            "repeat_rule": {"repeat_type": "Weekly", "repeating_interval": 1, "number_of_repeats": 52},
        },
        422,
    ),
    "update_unavailable_block_invalid": (
        "PATCH",
        "/unavailable_blocks/{block}",
        lambda w: {"ends_at": "2030-01-03T08:00:00Z"},
        422,
    ),
    # bookings
    "list_bookings": ("GET", "/bookings", NONE, 200),
    "get_booking": ("GET", "/bookings/{appointment}", NONE, 200),
    "get_group_booking": ("GET", "/bookings/{group}", NONE, 200),
    "get_block_booking": ("GET", "/bookings/{block}", NONE, 200),
    # invoices
    "list_invoices": ("GET", "/invoices", NONE, 200),
    "get_invoice": ("GET", "/invoices/{invoice}", NONE, 200),
    "invoice_items_of_invoice": ("GET", "/invoices/{invoice}/invoice_items", NONE, 200),
    "appointment_invoices": ("GET", "/appointments/{appointment}/invoices", NONE, 200),
    "practitioner_invoices": ("GET", "/practitioners/{practitioner}/invoices", NONE, 200),
    "list_invoice_items": ("GET", "/invoice_items", NONE, 200),
    "get_invoice_item": ("GET", "/invoice_items/{invoice_item}", NONE, 200),
    # products
    "list_products": ("GET", "/products", NONE, 200),
    "get_product": ("GET", "/products/{product}", NONE, 200),
    "create_product": ("POST", "/products", lambda w: {"name": "Heat pack", "price": 19.95, "stock_level": 3}, 201),
    "create_product_invalid": ("POST", "/products", lambda w: {"price": "abc"}, 422),
    "update_product": ("PATCH", "/products/{product}", lambda w: {"name": "Heat pack XL", "price": 24}, 200),
    "archive_product": ("POST", "/products/{product}/archive", NONE, 204),
    "delete_product": ("DELETE", "/products/{product}", NONE, 204),
    # medical alerts
    "list_medical_alerts": ("GET", "/medical_alerts", NONE, 200),
    "get_medical_alert": ("GET", "/medical_alerts/{alert}", NONE, 200),
    "create_medical_alert": ("POST", "/medical_alerts", lambda w: {"name": "Asthma", "patient_id": w["patient"]}, 201),
    "create_medical_alert_invalid": ("POST", "/medical_alerts", lambda w: {"name": "Asthma"}, 422),
    "update_medical_alert": ("PATCH", "/medical_alerts/{alert}", lambda w: {"name": "Severe asthma"}, 200),
    "archive_medical_alert": ("POST", "/medical_alerts/{alert}/archive", NONE, 204),
    "delete_medical_alert": ("DELETE", "/medical_alerts/{alert}", NONE, 204),
    # treatment notes
    "list_treatment_notes": ("GET", "/treatment_notes", NONE, 200),
    "get_treatment_note": ("GET", "/treatment_notes/{note}", NONE, 200),
    "create_treatment_note": (
        "POST",
        "/treatment_notes",
        lambda w: {
            "patient_id": w["patient"],
            "treatment_note_template_id": w["template"],
            "booking_id": w["appointment"],
            "title": "Follow up",
            "draft": True,
            "content": NOTE_CONTENT,
        },
        201,
    ),
    "create_treatment_note_invalid": (
        "POST",
        "/treatment_notes",
        lambda w: {"patient_id": w["patient"], "content": "not an object"},
        422,
    ),
    "update_treatment_note": ("PATCH", "/treatment_notes/{note}", lambda w: {"draft": False}, 200),
    "archive_treatment_note": ("POST", "/treatment_notes/{note}/archive", NONE, 204),
    "delete_treatment_note": ("DELETE", "/treatment_notes/{note}", NONE, 204),
    # treatment note templates
    "list_treatment_note_templates": ("GET", "/treatment_note_templates", NONE, 200),
    "get_treatment_note_template": ("GET", "/treatment_note_templates/{template}", NONE, 200),
    "create_treatment_note_template": (
        "POST",
        "/treatment_note_templates",
        lambda w: {"name": "Short", "content": NOTE_CONTENT, "print_settings": {"title": "Note"}},
        201,
    ),
    "create_treatment_note_template_invalid": ("POST", "/treatment_note_templates", lambda w: {"content": {}}, 422),
    "update_treatment_note_template": (
        "PATCH",
        "/treatment_note_templates/{template}",
        lambda w: {"name": "Long"},
        200,
    ),
    "archive_treatment_note_template": ("POST", "/treatment_note_templates/{template}/archive", NONE, 204),
    "delete_treatment_note_template": ("DELETE", "/treatment_note_templates/{template}", NONE, 204),
    # communications
    "list_communications": ("GET", "/communications", NONE, 200),
    "get_communication": ("GET", "/communications/{communication}", NONE, 200),
    "create_communication": (
        "POST",
        "/communications",
        lambda w: {
            "patient_id": w["patient"],
            "content": "Left a voicemail",
            "confidential": True,
            "direction_code": 1,
            "type_code": 3,
            "from": "Reception",
            "to": "Patient",
        },
        201,
    ),
    "create_communication_invalid": ("POST", "/communications", lambda w: {"patient_id": w["patient"]}, 422),
    "update_communication": ("PATCH", "/communications/{communication}", lambda w: {"content": "Called back"}, 200),
    "archive_communication": ("POST", "/communications/{communication}/archive", NONE, 204),
    # practitioners
    "list_practitioners": ("GET", "/practitioners", NONE, 200),
    "list_inactive_practitioners": ("GET", "/practitioners/inactive", NONE, 200),
    "get_practitioner": ("GET", "/practitioners/{practitioner}", NONE, 200),
    "business_practitioners": ("GET", "/businesses/{business}/practitioners", NONE, 200),
    "business_inactive_practitioners": ("GET", "/businesses/{business}/practitioners/inactive", NONE, 200),
    "appointment_type_practitioners": ("GET", "/appointment_types/{appointment_type}/practitioners", NONE, 200),
    "appointment_type_inactive_practitioners": (
        "GET",
        "/appointment_types/{appointment_type}/practitioners/inactive",
        NONE,
        200,
    ),
    # businesses
    "list_businesses": ("GET", "/businesses", NONE, 200),
    "get_business": ("GET", "/businesses/{business}", NONE, 200),
    "create_business": (
        "POST",
        "/businesses",
        lambda w: {"business_name": "Second Site", "country_code": "NZ", "time_zone_identifier": "Pacific/Auckland"},
        201,
    ),
    "create_business_invalid": ("POST", "/businesses", lambda w: {"city": "Nowhere"}, 422),
    "update_business": ("PATCH", "/businesses/{business}", lambda w: {"website_address": "https://x.example"}, 200),
    "archive_business": ("POST", "/businesses/{business}/archive", NONE, 204),
    "unarchive_business": ("POST", "/businesses/{business}/unarchive", NONE, 200),
    "delete_business": ("DELETE", "/businesses/{business}", NONE, 204),
    # patient forms and their templates (issue 15)
    "list_patient_forms": ("GET", "/patient_forms", NONE, 200),
    "get_patient_form": ("GET", "/patient_forms/{form}", NONE, 200),
    "create_patient_form": (
        "POST",
        "/patient_forms",
        lambda w: {"patient_id": w["patient"], "patient_form_template_id": w["form_template"]},
        201,
    ),
    "create_patient_form_invalid": ("POST", "/patient_forms", lambda w: {"name": "No patient"}, 422),
    "update_patient_form": ("PATCH", "/patient_forms/{form}", lambda w: {"completed": True}, 200),
    "archive_patient_form": ("POST", "/patient_forms/{form}/archive", NONE, 204),
    "list_patient_form_templates": ("GET", "/patient_form_templates", NONE, 200),
    "get_patient_form_template": ("GET", "/patient_form_templates/{form_template}", NONE, 200),
    "create_patient_form_template": ("POST", "/patient_form_templates", lambda w: {"name": "Consent"}, 201),
    "update_patient_form_template": ("PATCH", "/patient_form_templates/{form_template}", lambda w: {"name": "X"}, 200),
    "archive_patient_form_template": ("POST", "/patient_form_templates/{form_template}/archive", NONE, 204),
    # patient cases and attachments
    "list_patient_cases": ("GET", "/patient_cases", NONE, 200),
    "get_patient_case": ("GET", "/patient_cases/{case}", NONE, 200),
    "create_patient_case": (
        "POST",
        "/patient_cases",
        lambda w: {"patient_id": w["patient"], "name": "Shoulder", "max_sessions": 6, "issue_date": "2030-01-01"},
        201,
    ),
    "create_patient_case_invalid": ("POST", "/patient_cases", lambda w: {"name": "No patient"}, 422),
    "update_patient_case": ("PATCH", "/patient_cases/{case}", lambda w: {"closed": True}, 200),
    "archive_patient_case": ("POST", "/patient_cases/{case}/archive", NONE, 204),
    "list_patient_attachments": ("GET", "/patient_attachments", NONE, 200),
    "get_patient_attachment": ("GET", "/patient_attachments/{attachment}", NONE, 200),
    "archive_patient_attachment": ("POST", "/patient_attachments/{attachment}/archive", NONE, 204),
    # billing and stock
    "list_billable_items": ("GET", "/billable_items", NONE, 200),
    "get_billable_item": ("GET", "/billable_items/{billable_item}", NONE, 200),
    "create_billable_item": (
        "POST",
        "/billable_items",
        lambda w: {"name": "Review", "item_type": "Service", "price": "60.00"},
        201,
    ),
    "create_billable_item_invalid": ("POST", "/billable_items", lambda w: {"name": "No type"}, 422),
    "update_billable_item": ("PATCH", "/billable_items/{billable_item}", lambda w: {"price": "65.00"}, 200),
    "archive_billable_item": ("POST", "/billable_items/{billable_item}/archive", NONE, 204),
    "list_stock_adjustments": ("GET", "/stock_adjustments", NONE, 200),
    "get_stock_adjustment": ("GET", "/stock_adjustments/{adjustment}", NONE, 200),
    "create_stock_adjustment": (
        "POST",
        "/stock_adjustments",
        lambda w: {"product_id": w["product"], "adjustment_type": "Item Sold", "quantity": 1},
        201,
    ),
    "create_stock_adjustment_invalid": (
        "POST",
        "/stock_adjustments",
        lambda w: {"product_id": w["product"], "adjustment_type": "Item Sold", "quantity": 0},
        422,
    ),
    "list_concession_types": ("GET", "/concession_types", NONE, 200),
    "get_concession_type": ("GET", "/concession_types/{concession_type}", NONE, 200),
    "create_concession_type": ("POST", "/concession_types", lambda w: {"name": "Student"}, 201),
    "update_concession_type": ("PATCH", "/concession_types/{concession_type}", lambda w: {"name": "Students"}, 200),
    "list_product_suppliers": ("GET", "/product_suppliers", NONE, 200),
    "get_product_supplier": ("GET", "/product_suppliers/{supplier}", NONE, 200),
    "create_product_supplier": ("POST", "/product_suppliers", lambda w: {"name": "Other Co"}, 201),
    "update_product_supplier": ("PATCH", "/product_suppliers/{supplier}", lambda w: {"name": "Other Pty"}, 200),
    "archive_product_supplier": ("POST", "/product_suppliers/{supplier}/archive", NONE, 204),
    "list_taxes": ("GET", "/taxes", NONE, 200),
    "get_tax": ("GET", "/taxes/{tax}", NONE, 200),
    "create_tax": ("POST", "/taxes", lambda w: {"name": "VAT", "rate": 20.0}, 201),
    "update_tax": ("PATCH", "/taxes/{tax}", lambda w: {"rate": 15.0}, 200),
    "delete_tax": ("DELETE", "/taxes/{tax}", NONE, 204),
    "list_practitioner_reference_numbers": ("GET", "/practitioner_reference_numbers", NONE, 200),
    "get_practitioner_reference_number": ("GET", "/practitioner_reference_numbers/{reference_number}", NONE, 200),
    "create_practitioner_reference_number": (
        "POST",
        "/practitioner_reference_numbers",
        lambda w: {"practitioner_id": w["practitioner"], "business_id": w["business"], "reference_number": "2"},
        201,
    ),
    "update_practitioner_reference_number": (
        "PATCH",
        "/practitioner_reference_numbers/{reference_number}",
        lambda w: {"name": "Provider"},
        200,
    ),
    "delete_practitioner_reference_number": (
        "DELETE",
        "/practitioner_reference_numbers/{reference_number}",
        NONE,
        204,
    ),
    # users
    "get_current_user": ("GET", "/user", NONE, 200),
    "list_users": ("GET", "/users", NONE, 200),
    "get_user": ("GET", "/users/{user}", NONE, 200),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_operation_conforms_to_the_official_spec(case: str, demo_api: ContractClient, world: World) -> None:
    method, template, body_factory, status = CASES[case]
    response = demo_api.call(method, template.format_map(world.ids), json_body=body_factory(world))
    assert response.status_code == status, response.text
    if status == 204:
        assert response.content == b""
    if status == 422:
        assert response.json()["message"]
    if status == 200 and method == "GET" and "{" not in template.split("/")[-1] and not template.endswith("}"):
        payload = response.json()
        if "total_entries" in payload:
            assert payload["total_entries"] >= 0


def test_unarchive_returns_the_record_with_archived_at_cleared(demo_api: ContractClient, world: World) -> None:
    assert demo_api.post(f"/patients/{world['patient']}/archive").status_code == 204
    body = demo_api.post(f"/patients/{world['patient']}/unarchive").json()
    assert body["id"] == world["patient"]
    assert body["archived_at"] is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/invoices"),
        ("PATCH", "/practitioners/{practitioner}"),
        ("POST", "/practitioners"),
        ("PATCH", "/availability_blocks/{availability}"),
        ("POST", "/availability_blocks/{availability}/archive"),
        ("DELETE", "/communications/{communication}"),
        ("POST", "/medical_alerts/{alert}/unarchive"),
        ("PATCH", "/group_appointments/{group}/cancel"),
        ("PUT", "/patients/{patient}"),
        ("GET", "/patients/{patient}/nonsense"),
        ("GET", "/no_such_resource"),
    ],
)
def test_operations_the_spec_lacks_answer_404_html(
    method: str, path: str, demo_api: ContractClient, world: World
) -> None:
    response = demo_api.call(method, path.format_map(world.ids), json_body={}, validate=False)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html" in response.text
