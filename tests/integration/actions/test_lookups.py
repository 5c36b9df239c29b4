"""The read paths beyond "get by id", and write details, against the simulator over HTTP."""

from __future__ import annotations

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from tests.integration.actions.conftest import MISSING_ID, World, result

pytestmark = pytest.mark.integration


def test_patient_and_contact_by_email(world: World) -> None:
    found = result(world, "patient.find", {"email": ACTIONS["patient.find"].sample_input["email"]})
    assert found["found"] and found["record"]["id"] == world.ids["patients"]
    nobody = result(world, "patient.find", {"email": "nobody@example.com"})
    assert nobody == {"found": False, "record": None, "matches": 0, "ids": []}
    contact = result(world, "contact.find", {"email": ACTIONS["contact.find"].sample_input["email"]})
    assert contact["record"]["id"] == world.ids["contacts"]
    assert ("GET", "/patients", 200) in world.statuses()


def test_product_by_item_code_scans_every_page(world: World) -> None:
    for i in range(130):
        world.sim.create("products", {"name": f"Filler {i}", "item_code": f"F-{i}", "price": "1.00"})
    target = world.sim.create("products", {"name": "Foam roller", "item_code": "FR-90", "price": "39.00"})
    world.sim.requests_clear()
    found = result(world, "product.find", {"item_code": "FR-90"})
    assert found["record"]["id"] == target["id"]
    assert len([s for s in world.statuses() if s[1] == "/products"]) == 2
    assert result(world, "product.find", {"item_code": "fr-90"})["found"] is False
    assert result(world, "product.find", {"name": "Foam roller"})["record"]["id"] == target["id"]
    both = result(world, "product.find", {"name": "Foam roller", "item_code": "F-1"})
    assert both == {"found": False, "record": None}


def test_invoice_by_number_patient_and_status(world: World) -> None:
    number = ACTIONS["invoice.find"].sample_input["number"]
    assert result(world, "invoice.find", {"number": str(number)})["record"]["id"] == world.ids["invoices"]
    narrowed = result(world, "invoice.find", {"patient_id": world.ids["patients"], "status": 10})
    assert narrowed["record"]["id"] == world.ids["invoices"]
    assert result(world, "invoice.find", {"number": number, "status": 20})["found"] is False


def test_practitioner_by_their_users_email(world: World) -> None:
    email = ACTIONS["practitioner.find"].sample_input["email"]
    found = result(world, "practitioner.find", {"email": email.upper()})
    assert found["record"]["id"] == world.ids["practitioners"] and found["inactive"] is False
    # The key's own user (an administrator here) is someone else: the user list is read next.
    assert [path for _, path, _ in world.statuses()] == ["/user", "/users", "/practitioners"]
    world.sim.create("users", {"first_name": "Rae", "last_name": "Desk", "email": "rae@harbourside.example"})
    assert result(world, "practitioner.find", {"email": "rae@harbourside.example"})["found"] is False
    assert result(world, "practitioner.find", {"email": "ghost@harbourside.example"})["found"] is False


def test_treatment_note_find_returns_the_newest_match(world: World) -> None:
    world.sim.clock.advance(60)
    newer = world.sim.create(
        "treatment_notes",
        {
            "patient_id": world.ids["patients"],
            "treatment_note_template_id": world.ids["treatment_note_templates"],
            "content": {"sections": []},
            "draft": False,
        },
    )
    assert result(world, "treatment_note.find", {"patient_id": world.ids["patients"]})["record"]["id"] == newer["id"]
    by_booking = result(world, "treatment_note.find", {"booking_id": world.ids["individual_appointments"]})
    assert by_booking["record"]["id"] == world.ids["treatment_notes"]
    drafts = result(world, "treatment_note.find", {"patient_id": world.ids["patients"], "draft": True})
    assert drafts["record"]["id"] == world.ids["treatment_notes"]


def test_appointment_find_individual_group_and_kind(world: World) -> None:
    group = result(world, "appointment.find", {"id": world.ids["group_appointments"]})
    assert group["kind"] == "group" and group["record"]["id"] == world.ids["group_appointments"]
    individual = result(world, "appointment.find", {"id": world.ids["individual_appointments"]})
    assert individual["kind"] == "individual"
    only = result(world, "appointment.find", {"id": world.ids["group_appointments"], "kind": "individual"})
    assert only == {"found": False, "record": None}


def test_list_ids_follows_pagination_filters_and_limits(world: World) -> None:
    practitioner, business = world.ids["practitioners"], world.ids["businesses"]
    for day in range(1, 29):
        for hour in range(8):
            world.sim.create(
                "availability_blocks",
                {
                    "practitioner_id": practitioner,
                    "business_id": business,
                    "starts_at": f"2027-02-{day:02d}T{hour:02d}:00:00Z",
                    "ends_at": f"2027-02-{day:02d}T{hour:02d}:30:00Z",
                },
            )
    world.sim.requests_clear()
    everything = result(world, "availability_block.list_ids", {"practitioner_id": practitioner})
    assert len(everything["ids"]) == 28 * 8 + 1 and len(set(everything["ids"])) == len(everything["ids"])
    assert everything["truncated"] is False and len(world.statuses()) == 3
    february = result(
        world,
        "availability_block.list_ids",
        {"business_id": business, "starts_from": "2027-02-01T11:00:00+11:00", "starts_before": "2027-02-02T00:00:00Z"},
    )
    assert len(february["ids"]) == 8
    limited = result(world, "availability_block.list_ids", {"practitioner_id": practitioner, "limit": 150})
    assert len(limited["ids"]) == 150 and limited["truncated"] is True


def test_archive_then_unarchive_a_patient(world: World) -> None:
    patient = world.ids["patients"]
    assert result(world, "patient.archive", {"id": patient}) == {"archived": True, "id": patient}
    archived = result(world, "patient.find", {"id": patient})  # by id, archived records are found and flagged
    assert archived["found"] is True and archived["archived"] is True
    assert result(world, "patient.delete", {"id": patient}) == {"archived": True, "id": patient}
    back = result(world, "patient.unarchive", {"id": f"{world.sim.base_url}/patients/{patient}"})
    assert back["unarchived"] is True and back["record"]["archived_at"] is None
    assert result(world, "patient.find", {"id": patient})["archived"] is False
    assert ("POST", f"/patients/{patient}/archive", 204) in world.statuses()


def test_updates_send_only_given_fields_and_null_clears(world: World) -> None:
    patient = world.ids["patients"]
    result(world, "patient.update", {"id": patient, "notes": "Call first.", "occupation": "Nurse"})
    cleared = result(world, "patient.update", {"id": patient, "notes": None})["record"]
    assert cleared["notes"] is None and cleared["occupation"] == "Nurse" and cleared["first_name"] == "Jane"


def test_times_reach_cliniko_in_utc_and_ids_as_urls(world: World) -> None:
    data = world.materialize(ACTIONS["individual_appointment.create"])
    data["patient_id"] = f"{world.sim.base_url}/patients/{data['patient_id']}"
    data["starts_at"] = "2027-03-01T09:00:00+11:00"
    record = result(world, "individual_appointment.create", data)["record"]
    assert record["starts_at"] == "2027-02-28T22:00:00Z"
    assert record["patient"]["links"]["self"].endswith(f"/patients/{world.ids['patients']}")


def test_cancel_is_final_and_repeatable(world: World) -> None:
    appointment = world.ids["individual_appointments"]
    data = {"id": appointment, "cancellation_reason": 31, "cancellation_note": "Isolating."}
    assert result(world, "individual_appointment.cancel", data) == {"cancelled": True, "id": appointment}
    assert result(world, "individual_appointment.cancel", {**data, "cancellation_reason": 50})["cancelled"] is True
    stored = world.sim.get("individual_appointments", appointment)
    assert stored is not None and stored["cancellation_reason"] == 31
    found = result(world, "appointment.find", {"id": appointment})  # cancelled, and still found by id
    assert found["found"] is True and found["cancelled"] is True and found["kind"] == "individual"


def test_a_group_attendee_can_be_added_and_cancelled(world: World) -> None:
    added = result(
        world,
        "attendee.create",
        {
            "booking_id": f"{world.sim.base_url}/group_appointments/{world.ids['group_appointments']}",
            "patient_id": world.ids["patients"],
        },
    )["record"]
    assert result(world, "attendee.cancel", {"id": added["id"], "cancellation_reason": 40})["cancelled"] is True
    outcome = world.run(ACTIONS["attendee.cancel"], {"id": MISSING_ID, "cancellation_reason": 40})
    assert outcome["error"]["type"] == "ClinikoNotFound"
