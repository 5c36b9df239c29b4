"""Real-world data reaches Cliniko (the simulator, over HTTP) in a form it accepts, and can be found again."""

from __future__ import annotations

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from tests.integration.actions.conftest import World, result

pytestmark = pytest.mark.integration


def test_a_patient_with_an_accented_apostrophed_name_an_extension_and_a_unicode_domain(world: World) -> None:
    patient = result(
        world,
        "patient.create",
        {
            "first_name": "Zoë-Renée",
            "last_name": "O'Brien-Núñez",
            "email": "zoe.obrien@bücher.example",
            "patient_phone_numbers": [
                {"phone_type": "Work", "number": "02 9000 0000 ext 12"},
                {"phone_type": "Other", "number": "1300 PHYSIO"},
            ],
        },
    )["record"]
    assert (patient["first_name"], patient["last_name"]) == ("Zoë-Renée", "O'Brien-Núñez")
    assert patient["email"] == "zoe.obrien@xn--bcher-kva.example"
    assert [p["number"] for p in patient["patient_phone_numbers"]] == ["02 9000 0000 ext 12", "1300 PHYSIO"]
    for typed in ("Zoe.OBrien@BÜCHER.example", "zoe.obrien@xn--bcher-kva.example"):
        found = result(world, "patient.find", {"email": typed})
        assert found["record"]["id"] == patient["id"] and found["matches"] == 1


def test_a_contact_with_a_lower_case_country_code(world: World) -> None:
    contact = result(
        world,
        "contact.create",
        {
            "first_name": "Seán",
            "last_name": "D'Arcy",
            "country_code": "ie",
            "phone_numbers": [{"phone_type": "Work", "number": "+353 1 234 5678 x 204"}],
        },
    )["record"]
    assert contact["country_code"] == "IE" and contact["last_name"] == "D'Arcy"
    business = result(world, "business.update", {"id": world.ids["businesses"], "country_code": "nz"})["record"]
    assert business["country_code"] == "NZ"
    sent = [r for r in world.sim.requests if r.method in {"POST", "PATCH"}]
    assert [r.status for r in sent] == [201, 200]


def test_an_email_cliniko_would_refuse_is_refused_before_calling_it(world: World) -> None:
    outcome = world.run(ACTIONS["patient.create"], {"first_name": "Zoë", "last_name": "Ng", "email": "zoë@example.com"})
    assert outcome["status"] == "failed" and outcome["error"]["type"] == "InputValidationError"
    assert "ASCII" in outcome["error"]["field_errors"]["email"]
    assert world.sim.requests == []


def test_a_treatment_note_from_its_template_alone(world: World) -> None:
    template = world.sim.get("treatment_note_templates", world.ids["treatment_note_templates"])
    assert template is not None
    note = result(
        world,
        "treatment_note.create",
        {"treatment_note_template_id": template["id"], "patient_id": world.ids["patients"]},
    )["record"]
    assert note["content"] == template["content"]  # Cliniko lays the note out from its template
    assert note["treatment_note_template"]["links"]["self"].endswith(f"/treatment_note_templates/{template['id']}")
    sent = world.sim.requests[-1]
    assert (sent.method, sent.status) == ("POST", 201)
