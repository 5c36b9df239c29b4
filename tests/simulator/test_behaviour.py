"""Resource behaviour: validation, derived fields, cancellation, invoices, treatment notes, conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_tools.simulator import Simulator, ValidationFailed
from tests.simulator.spec_check import ContractClient


@pytest.fixture
def ids(demo: Simulator) -> dict[str, str]:
    return {
        "business": demo.list("businesses")[0]["id"],
        "practitioner": demo.list("practitioners")[0]["id"],
        "other_practitioner": demo.list("practitioners")[1]["id"],
        "initial": demo.list("appointment_types")[0]["id"],  # 60 minutes
        "follow_up": demo.list("appointment_types")[1]["id"],  # 30 minutes
        "patient": demo.list("patients")[0]["id"],
        "patient2": demo.list("patients")[1]["id"],
    }


def appointment(ids: dict[str, str], **overrides: Any) -> dict[str, Any]:
    return {
        "starts_at": "2031-05-01T09:00:00Z",
        "patient_id": ids["patient"],
        "practitioner_id": ids["practitioner"],
        "appointment_type_id": ids["follow_up"],
        "business_id": ids["business"],
        **overrides,
    }


def test_patient_requires_first_and_last_name(api: ContractClient) -> None:
    body = api.post("/patients", {}).json()
    assert body == {
        "message": "Validation Failed",
        "errors": {"first_name": "can't be blank", "last_name": "can't be blank"},
    }


def test_patient_fields_are_type_checked(api: ContractClient) -> None:
    errors = api.post(
        "/patients",
        {
            "first_name": "A",
            "last_name": "B",
            "email": "not-an-email",
            "reminder_type": "Pigeon",
            "accepted_privacy_policy": "maybe",
        },
    ).json()["errors"]
    assert errors == {
        "email": "is invalid",
        "reminder_type": "is not included in the list",
        "accepted_privacy_policy": "is invalid",
    }


def test_json_body_that_is_not_an_object_is_must_be_an_object(api: ContractClient) -> None:
    response = api.post("/patients", [1, 2])
    assert response.status_code == 422
    assert response.json() == {"message": "must be an object"}


def test_malformed_json_body_is_400(sim: Simulator, api: ContractClient) -> None:
    response = api.session.post(sim.base_url + "/patients", data=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_patient_render_has_phone_numbers_label_and_links(api: ContractClient) -> None:
    patient = api.post(
        "/patients",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "patient_phone_numbers": [{"phone_type": "Home", "number": "(03) 9000 0000"}],
        },
    ).json()
    assert patient["label"] == "Ada Lovelace"
    assert patient["patient_phone_numbers"] == [
        {"number": "(03) 9000 0000", "phone_type": "Home", "normalized_number": "0390000000"}
    ]
    assert patient["links"]["self"] == f"{api.base_url}/patients/{patient['id']}"
    assert patient["medical_alerts"]["links"]["self"] == f"{api.base_url}/patients/{patient['id']}/medical_alerts"
    assert isinstance(patient["id"], str) and int(patient["id"]) > 2**53
    assert patient["created_at"].endswith("Z") and len(patient["created_at"]) == 20
    assert patient["archived_at"] is None


def test_body_keys_the_spec_does_not_accept_are_refused(api: ContractClient) -> None:
    refused = api.post("/patients", {"first_name": "A", "last_name": "B", "shoe_size": 44, "id": "1"})
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"shoe_size", "id"}


def test_medical_alert_needs_an_existing_patient(api: ContractClient) -> None:
    assert api.post("/medical_alerts", {"name": "x", "patient_id": "42"}).json()["errors"] == {"patient": "must exist"}
    assert api.post("/medical_alerts", {"name": "x"}).json()["errors"] == {"patient_id": "can't be blank"}


def test_appointment_ends_at_comes_from_the_appointment_type(demo_api: ContractClient, ids: dict[str, str]) -> None:
    made = demo_api.post("/individual_appointments", appointment(ids, appointment_type_id=ids["initial"])).json()
    assert made["ends_at"] == "2031-05-01T10:00:00Z"
    assert made["patient_name"] == "Ada Lovelace"
    assert made["did_not_arrive"] is False and made["cancelled_at"] is None
    explicit = demo_api.post("/individual_appointments", appointment(ids, ends_at="2031-05-01T09:10:00Z")).json()
    assert explicit["ends_at"] == "2031-05-01T09:10:00Z"


def test_appointment_validation(demo_api: ContractClient, ids: dict[str, str]) -> None:
    missing = demo_api.post("/individual_appointments", {"notes": "x"}).json()["errors"]
    assert set(missing) == {"starts_at", "patient_id", "practitioner_id", "appointment_type_id", "business_id"}
    bad_refs = demo_api.post(
        "/individual_appointments", appointment(ids, practitioner_id="1", business_id=ids["patient"])
    ).json()["errors"]
    assert bad_refs == {"practitioner": "must exist", "business": "must exist"}
    backwards = demo_api.post("/individual_appointments", appointment(ids, ends_at="2031-05-01T08:00:00Z"))
    assert backwards.json()["errors"] == {"ends_at": "must be after starts_at"}
    bad_time = demo_api.post("/individual_appointments", appointment(ids, starts_at="tomorrow-ish"))
    assert bad_time.json()["errors"] == {"starts_at": "is invalid"}


def test_arrival_flags_are_staff_side_refused_by_the_api_and_set_by_staff(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str]
) -> None:
    made = demo_api.post("/individual_appointments", appointment(ids)).json()
    assert demo_api.patch(f"/individual_appointments/{made['id']}", {"did_not_arrive": True}).status_code == 422
    assert demo.update("individual_appointments", made["id"], {"did_not_arrive": True})["did_not_arrive"] is True
    assert demo.update("individual_appointments", made["id"], {"patient_arrived": True})["patient_arrived"] is True


def test_cancelling_sets_the_cancellation_fields_once(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str]
) -> None:
    made = demo_api.post("/individual_appointments", appointment(ids)).json()
    demo.clock.set("2031-01-01T00:00:00Z")
    assert demo_api.patch(f"/individual_appointments/{made['id']}/cancel", {}).json() == {
        "message": "Validation Failed",
        "errors": {"cancellation_reason": "can't be blank"},
    }
    cancel = {"cancellation_reason": 31, "cancellation_note": "isolating"}
    assert demo_api.patch(f"/individual_appointments/{made['id']}/cancel", cancel).status_code == 204
    got = demo_api.get(f"/individual_appointments/{made['id']}", params={"q[]": "cancelled_at:*"}).json()
    assert got["cancelled_at"] == "2031-01-01T00:00:00Z"
    assert got["cancellation_reason"] == 31
    assert got["cancellation_reason_description"] == "COVID-19 related"
    assert got["cancellation_note"] == "isolating"
    assert got["updated_at"] == "2031-01-01T00:00:00Z"
    demo.clock.advance(600)
    demo_api.patch(f"/individual_appointments/{made['id']}/cancel", {"cancellation_reason": 50})
    again = demo.get("individual_appointments", made["id"]) or {}
    assert again["cancelled_at"] == "2031-01-01T00:00:00Z" and again["cancellation_reason"] == 31
    attendee = demo_api.get(
        f"/individual_appointments/{made['id']}/attendees", params={"q[]": "cancelled_at:*"}
    ).json()["attendees"][0]
    assert attendee["cancellation_reason"] == 31


@pytest.mark.parametrize("reason", [10, 20, 30, 31, 40, 50, 60])
def test_every_documented_cancellation_reason_is_accepted(demo: Simulator, ids: dict[str, str], reason: int) -> None:
    made = demo.create("individual_appointments", appointment(ids))
    demo.cancel("individual_appointments", made["id"], reason=reason)
    assert (demo.get("individual_appointments", made["id"]) or {})["cancellation_reason"] == reason


def test_undocumented_cancellation_reason_is_rejected(demo: Simulator, ids: dict[str, str]) -> None:
    made = demo.create("individual_appointments", appointment(ids))
    with pytest.raises(ValidationFailed):
        demo.cancel("individual_appointments", made["id"], reason=15)


def test_group_attendees_fill_patient_ids_and_respect_capacity(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str]
) -> None:
    group = demo_api.post(
        "/group_appointments",
        {k: v for k, v in appointment(ids).items() if k != "patient_id"} | {"max_attendees": 2},
    ).json()
    demo.create("attendees", {"booking_id": group["id"], "patient_id": demo.list("patients")[4]["id"]})
    first = demo_api.post("/attendees", {"booking_id": group["id"], "patient_id": ids["patient"]})
    assert first.status_code == 201
    patient_ids = demo_api.get(f"/group_appointments/{group['id']}").json()["patient_ids"]
    assert patient_ids[-1] == ids["patient"] and len(patient_ids) == 2
    full = demo_api.post("/attendees", {"booking_id": group["id"], "patient_id": ids["patient2"]})
    assert full.json()["errors"] == {"base": "The appointment is full"}
    assert demo_api.patch(f"/attendees/{first.json()['id']}/cancel", {"cancellation_reason": 40}).status_code == 204
    assert ids["patient"] not in demo_api.get(f"/group_appointments/{group['id']}").json()["patient_ids"]
    found = demo_api.get("/bookings", params={"q[]": f"patient_ids:~{ids['patient']}"}).json()["bookings"]
    assert group["id"] not in [b["id"] for b in found]


def test_attendees_of_individual_appointments_cannot_be_cancelled_directly(
    demo_api: ContractClient, ids: dict[str, str]
) -> None:
    made = demo_api.post("/individual_appointments", appointment(ids)).json()
    attendee = demo_api.get(f"/individual_appointments/{made['id']}/attendees").json()["attendees"][0]
    response = demo_api.patch(f"/attendees/{attendee['id']}/cancel", {"cancellation_reason": 50})
    assert response.status_code == 422


def test_attendee_update_only_touches_its_documented_fields(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str]
) -> None:
    group = demo.create("group_appointments", {k: v for k, v in appointment(ids).items() if k != "patient_id"})
    attendee = demo_api.post("/attendees", {"booking_id": group["id"], "patient_id": ids["patient"]}).json()
    moved = demo_api.patch(f"/attendees/{attendee['id']}", {"arrived": True, "patient_id": ids["patient2"]})
    assert moved.status_code == 422 and set(moved.json()["errors"]) == {"patient_id"}
    updated = demo_api.patch(f"/attendees/{attendee['id']}", {"arrived": True}).json()
    assert updated["arrived"] is True
    assert updated["patient"]["links"]["self"].endswith(ids["patient"])


def test_conflicts_report_overlapping_bookings_of_the_practitioner(
    demo_api: ContractClient, ids: dict[str, str]
) -> None:
    one = demo_api.post("/individual_appointments", appointment(ids)).json()
    assert demo_api.get(f"/individual_appointments/{one['id']}/conflicts").json() == {"conflicts": {"exist": False}}
    demo_api.post("/individual_appointments", appointment(ids, starts_at="2031-05-01T09:15:00Z"))
    assert demo_api.get(f"/individual_appointments/{one['id']}/conflicts").json() == {"conflicts": {"exist": True}}
    other = demo_api.post(
        "/individual_appointments", appointment(ids, practitioner_id=ids["other_practitioner"])
    ).json()
    assert demo_api.get(f"/individual_appointments/{other['id']}/conflicts").json()["conflicts"]["exist"] is False


def test_invoices_are_read_only_and_move_open_paid_closed(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str]
) -> None:
    invoice = demo.create("invoices", {"patient_id": ids["patient"], "business_id": ids["business"]})
    demo.create(
        "invoice_items",
        {"invoice_id": invoice["id"], "name": "Consult", "unit_price": 80, "quantity": 2, "tax_rate": 10},
    )
    got = demo_api.get(f"/invoices/{invoice['id']}").json()
    assert (got["status"], got["status_description"]) == (10, "Open")
    assert (got["net_amount"], got["tax_amount"], got["total_amount"]) == ("160.00", "16.00", "176.00")
    assert demo.pay_invoice(invoice["id"])["status_description"] == "Paid"
    closed = demo.close_invoice(invoice["id"])
    assert (closed["status"], closed["closed_at"] is not None) == (30, True)
    with pytest.raises(ValidationFailed):
        demo.pay_invoice(invoice["id"])
    assert demo_api.post("/invoices", {"patient_id": ids["patient"]}, validate=False).status_code == 404
    assert demo_api.get("/invoices", params={"q[]": "status:=30"}).json()["total_entries"] == 1
    items = demo_api.get(f"/invoices/{invoice['id']}/invoice_items").json()["invoice_items"]
    assert items[0]["unit_price"] == "80.00" and items[0]["net_price"] == "160.00"


def test_treatment_note_finalized_at_is_set_when_draft_becomes_false(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str]
) -> None:
    demo.clock.set("2031-02-02T02:02:02Z")
    note = demo_api.post("/treatment_notes", {"patient_id": ids["patient"], "content": {"sections": []}}).json()
    assert (note["draft"], note["finalized_at"]) == (True, None)
    assert note["title"] == "Treatment Note"
    demo.clock.advance(60)
    final = demo_api.patch(f"/treatment_notes/{note['id']}", {"draft": False}).json()
    assert final["finalized_at"] == "2031-02-02T02:03:02Z"
    drafts = demo_api.get("/treatment_notes", params={"q[]": "draft:=true"}).json()
    assert drafts["total_entries"] == 0


def test_treatment_note_content_must_be_an_object(demo_api: ContractClient, ids: dict[str, str]) -> None:
    response = demo_api.post("/treatment_notes", {"patient_id": ids["patient"], "content": '{"sections": []}'})
    assert response.status_code == 422
    assert response.json() == {"message": "Validation Failed", "errors": {"content": "is invalid"}}


def test_treatment_note_from_template_takes_its_title_and_content(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str]
) -> None:
    template = demo.list("treatment_note_templates")[0]
    note = demo_api.post(
        "/treatment_notes", {"patient_id": ids["patient"], "treatment_note_template_id": template["id"]}
    ).json()
    assert note["title"] == template["name"]
    assert note["content"] == template["content"]


def test_communication_memo_fields_are_required_and_described(demo_api: ContractClient, ids: dict[str, str]) -> None:
    missing = demo_api.post("/communications", {}).json()["errors"]
    assert set(missing) == {"confidential", "content", "direction_code", "from", "patient_id", "to", "type_code"}
    memo = demo_api.post(
        "/communications",
        {
            "patient_id": ids["patient"],
            "content": "hi",
            "confidential": False,
            "direction_code": 2,
            "type_code": 1,
            "from": "a",
            "to": "b",
        },
    ).json()
    assert (memo["category"], memo["category_code"], memo["type"], memo["direction_description"]) == (
        "Memo",
        12,
        "SMS",
        "Received",
    )
    assert (
        demo_api.post(
            "/communications",
            {
                "patient_id": ids["patient"],
                "content": "x",
                "confidential": False,
                "direction_code": 1,
                "type_code": 1,
                "from": "a",
                "to": "b",
                "category_code": 1,
            },
        ).status_code
        == 422
    )


def test_product_stock_level_is_updatable_as_the_spec_request_body_says(demo_api: ContractClient) -> None:
    # The 2022 docs said stock changes only through stock adjustments; the 2023 spec's ProductUpdate lists it.
    product = demo_api.post("/products", {"name": "Band", "price": 10, "stock_level": 5}).json()
    assert (product["price_ex_tax"], product["stock_level"]) == ("10.00", 5)
    updated = demo_api.patch(f"/products/{product['id']}", {"stock_level": 99, "name": "Band+"}).json()
    assert (updated["stock_level"], updated["name"]) == (99, "Band+")


def test_availability_blocks_have_no_update_or_archive(demo_api: ContractClient, ids: dict[str, str]) -> None:
    block = demo_api.post(
        "/availability_blocks",
        {
            "practitioner_id": ids["practitioner"],
            "business_id": ids["business"],
            "starts_at": "2031-01-01T09:00:00Z",
            "ends_at": "2031-01-01T10:00:00Z",
        },
    ).json()
    assert demo_api.patch(f"/availability_blocks/{block['id']}", {}, validate=False).status_code == 404
    assert demo_api.delete(f"/availability_blocks/{block['id']}", validate=False).status_code == 404


def test_bookings_union_renders_each_kind_linked_as_bookings(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str]
) -> None:
    demo.create(
        "unavailable_blocks",
        {
            "practitioner_id": ids["practitioner"],
            "business_id": ids["business"],
            "starts_at": "2031-01-01T09:00:00Z",
            "ends_at": "2031-01-01T10:00:00Z",
        },
    )
    bookings = demo_api.get("/bookings", params={"sort": "starts_at", "per_page": 100}).json()["bookings"]
    assert len(bookings) == 4
    assert all(b["links"]["self"] == f"{demo_api.base_url}/bookings/{b['id']}" for b in bookings)
    assert any("patient" in b for b in bookings) and any("patient" not in b for b in bookings)
    starts = [b["starts_at"] for b in bookings]
    assert starts == sorted(starts)


def test_staff_api_errors(sim: Simulator) -> None:
    with pytest.raises(ValidationFailed) as caught:
        sim.create("patients", {"first_name": "A"})
    assert caught.value.errors == {"last_name": "can't be blank"}
    with pytest.raises(KeyError):
        sim.update("patients", "123", {"notes": "x"})
    with pytest.raises(KeyError):
        sim.archive("patients", "123")
    assert sim.get("patients", "123") is None


def test_list_can_leave_out_archived_records(sim: Simulator) -> None:
    keep = sim.create("patients", {"first_name": "A", "last_name": "B"})
    gone = sim.create("patients", {"first_name": "C", "last_name": "D"})
    sim.archive("patients", gone["id"])
    assert [p["id"] for p in sim.list("patients", include_archived=False)] == [keep["id"]]
    assert len(sim.list("patients")) == 2


def _block(ids: dict[str, str], day: int = 1) -> dict[str, Any]:
    return {
        "practitioner_id": ids["practitioner"],
        "business_id": ids["business"],
        "starts_at": f"2031-02-{day:02d}T12:00:00Z",
        "ends_at": f"2031-02-{day:02d}T13:00:00Z",
    }


def test_an_unavailable_block_is_updated_archived_and_then_hidden_unless_asked_for(
    demo_api: ContractClient, ids: dict[str, str]
) -> None:
    block = demo_api.post("/unavailable_blocks", {**_block(ids), "notes": "Lunch break"}).json()
    moved = demo_api.patch(f"/unavailable_blocks/{block['id']}", {"ends_at": "2031-02-01T13:30:00Z"}).json()
    assert (moved["ends_at"], moved["notes"], moved["archived_at"]) == ("2031-02-01T13:30:00Z", "Lunch break", None)

    assert demo_api.post(f"/unavailable_blocks/{block['id']}/archive").status_code == 204

    listed = demo_api.get("/unavailable_blocks").json()["unavailable_blocks"]
    assert block["id"] not in {b["id"] for b in listed}
    with_archived = demo_api.get("/unavailable_blocks", params=[("q[]", "archived_at:*")]).json()
    assert block["id"] in {b["id"] for b in with_archived["unavailable_blocks"]}
    assert demo_api.get(f"/unavailable_blocks/{block['id']}", validate=False).status_code == 404
    found = demo_api.get(f"/unavailable_blocks/{block['id']}", params=[("q[]", "archived_at:*")]).json()
    assert found["archived_at"] is not None


def test_unavailable_blocks_repeat_at_most_51_times_and_availability_blocks_100(
    demo_api: ContractClient, ids: dict[str, str]
) -> None:
    def rule(n: int) -> dict[str, Any]:
        return {"repeat_rule": {"repeat_type": "Weekly", "repeating_interval": 1, "number_of_repeats": n}}

    assert demo_api.post("/unavailable_blocks", {**_block(ids, 2), **rule(51)}).status_code == 201
    assert demo_api.post("/unavailable_blocks", {**_block(ids, 3), **rule(52)}).status_code == 422
    assert demo_api.post("/availability_blocks", {**_block(ids, 4), **rule(100)}).status_code == 201
    assert demo_api.post("/availability_blocks", {**_block(ids, 5), **rule(101)}).status_code == 422


def test_a_purged_availability_block_leaves_no_trace_in_the_list_or_by_id(
    demo: Simulator, demo_api: ContractClient, ids: dict[str, str], http: Any
) -> None:
    kept = demo_api.post("/availability_blocks", _block(ids, 6)).json()
    gone = demo_api.post("/availability_blocks", _block(ids, 7)).json()
    other = demo_api.post("/availability_blocks", _block(ids, 8)).json()

    demo.purge("availability_blocks", gone["id"])
    control = demo.base_url.removesuffix("/v1") + "/__sim/records/availability_blocks"
    assert http.post(f"{control}/{other['id']}/purge").status_code == 204

    listed = {
        b["id"] for b in demo_api.get("/availability_blocks", params={"per_page": 100}).json()["availability_blocks"]
    }
    assert kept["id"] in listed and gone["id"] not in listed and other["id"] not in listed
    assert demo_api.get(f"/availability_blocks/{gone['id']}", validate=False).status_code == 404
    assert demo.get("availability_blocks", other["id"]) is None
    with pytest.raises(KeyError):
        demo.purge("availability_blocks", gone["id"])
