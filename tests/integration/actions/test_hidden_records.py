"""Lookups find what automations look for: hidden records by id, every email match whatever the case."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.catalog.actions import ACTIONS, Action, Find, Get, LookupInput
from cliniko_connector.catalog.hidden import HIDDEN_FILTERS
from cliniko_tools.simulator import Simulator
from tests.integration.actions.conftest import World, result, seed
from tests.integration.conftest import API_KEY, USER_AGENT

pytestmark = pytest.mark.integration


def _by_id_resource(action: Action) -> str | None:
    """The resource a get/find-by-id reads, when the spec lets that resource be archived."""
    op = action.operation
    if not isinstance(op, Get | Find) or "id" not in action.input_model.model_fields:
        return None
    return op.path.strip("/") if "archived_at" in HIDDEN_FILTERS[op.path] else None


BY_ID = sorted(name for name, action in ACTIONS.items() if _by_id_resource(action))


def test_every_archivable_lookup_by_id_is_covered() -> None:
    assert {"patient.find", "contact.find", "medical_alert.find", "appointment.find", "invoice.find"} <= set(BY_ID)


@pytest.mark.parametrize("name", BY_ID)
def test_a_lookup_by_id_finds_an_archived_record_and_flags_it(world: World, name: str) -> None:
    action = ACTIONS[name]
    resource = _by_id_resource(action)
    assert resource is not None
    record_id = world.ids[resource]
    world.sim.archive(resource, record_id)
    data: dict[str, Any] = {"id": record_id}
    if not issubclass(action.input_model, LookupInput):
        data = {**world.materialize(action), "id": record_id}
    found = result(world, name, data)
    assert found["found"] is True and found["record"]["id"] == record_id
    assert (found["archived"], found["cancelled"], found["deleted"]) == (True, False, False)
    sent = [r for r in world.sim.requests if r.path.endswith(f"/{record_id}")]
    assert sent and all(("q[]", "archived_at:*") in r.query for r in sent)


def test_appointment_cancelled_then_find_appointment_finds_it(world: World) -> None:
    appointment = world.ids["individual_appointments"]
    world.sim.cancel("individual_appointments", appointment, reason=30)
    found = result(world, "appointment.find", {"id": appointment})
    assert found["found"] is True and found["kind"] == "individual"
    assert (found["archived"], found["cancelled"], found["deleted"]) == (False, True, False)
    assert found["record"]["cancellation_reason"] == 30


def test_deleted_records_are_found_by_id_and_flagged(world: World) -> None:
    alert, group = world.ids["medical_alerts"], world.ids["group_appointments"]
    world.sim.store.set_fields("medical_alerts", int(alert), {"deleted_at": world.sim.clock.now_epoch()})
    world.sim.store.set_fields("group_appointments", int(group), {"deleted_at": world.sim.clock.now_epoch()})
    assert result(world, "medical_alert.find", {"id": alert})["deleted"] is True
    found = result(world, "appointment.find", {"id": group})
    assert found["kind"] == "group" and found["deleted"] is True and found["cancelled"] is False


def test_a_visible_record_says_it_is_visible(world: World) -> None:
    found = result(world, "contact.find", {"id": world.ids["contacts"]})
    assert (found["archived"], found["cancelled"], found["deleted"]) == (False, False, False)
    assert found["matches"] == 1 and found["ids"] == [world.ids["contacts"]]


def test_email_matching_ignores_case_although_the_simulators_equals_does_not(world: World) -> None:
    stored = world.sim.create("patients", {"first_name": "Jane", "last_name": "Chen", "email": "Jane.C@Example.com"})
    # Cliniko's `=` may compare case-sensitively (the simulator's does): it would miss this patient.
    raw = world.client.list_page("/patients", params=[("q[]", "email:=jane.c@example.com")])
    assert raw.total_entries == 0
    found = result(world, "patient.find", {"email": "jane.c@example.com"})
    assert found["found"] is True and found["record"]["id"] == stored["id"] and found["matches"] == 1
    # A contains search also returns longer addresses; only the exact address (ignoring case) counts.
    world.sim.create("patients", {"first_name": "Mary", "last_name": "Chen", "email": "mary.jane.c@example.com"})
    assert result(world, "patient.find", {"email": "JANE.C@EXAMPLE.COM"})["ids"] == [stored["id"]]
    contact = world.sim.create("contacts", {"first_name": "Ann", "last_name": "Lee", "email": "Ann.Lee@GP.example"})
    assert result(world, "contact.find", {"email": "ann.lee@gp.example"})["record"]["id"] == contact["id"]


def test_several_matches_are_counted_and_the_newest_active_one_is_the_record(world: World) -> None:
    email = "shared@family.example"
    first = world.sim.create("patients", {"first_name": "Ana", "last_name": "Silva", "email": email})
    world.sim.clock.advance(60)
    second = world.sim.create("patients", {"first_name": "Rui", "last_name": "Silva", "email": "Shared@Family.example"})
    world.sim.clock.advance(60)
    world.sim.update("patients", first["id"], {"notes": "Updated last."})
    world.sim.clock.advance(60)
    gone = world.sim.create("patients", {"first_name": "Old", "last_name": "Silva", "email": email})
    world.sim.archive("patients", gone["id"])  # the most recently updated of all, but archived

    found = result(world, "patient.find", {"email": email})
    assert found["matches"] == 2 and found["ids"] == [first["id"], second["id"]]
    assert found["record"]["id"] == first["id"] and found["archived"] is False

    wide = result(world, "patient.find", {"email": email, "include_archived": True})
    assert wide["matches"] == 3 and wide["ids"] == [first["id"], second["id"], gone["id"]]
    assert wide["record"]["id"] == first["id"]  # active records come first whatever their age
    sent = [r.query for r in world.sim.requests if r.path.endswith("/patients")]
    assert ("q[]", "archived_at:*") in sent[-1] and ("q[]", "archived_at:*") not in sent[-2]


def test_include_archived_finds_an_archived_patient_for_find_or_create_flows(world: World) -> None:
    patient = world.ids["patients"]
    email = ACTIONS["patient.find"].sample_input["email"]
    world.sim.archive("patients", patient)
    assert result(world, "patient.find", {"email": email})["found"] is False  # default: create a new one
    wide = result(world, "patient.find", {"email": email, "include_archived": True})
    assert wide["record"]["id"] == patient and wide["archived"] is True and wide["matches"] == 1


def test_contacts_include_deleted_ones_when_asked(world: World) -> None:
    contact = world.ids["contacts"]
    email = ACTIONS["contact.find"].sample_input["email"]
    world.sim.store.set_fields("contacts", int(contact), {"deleted_at": world.sim.clock.now_epoch()})
    assert result(world, "contact.find", {"email": email})["found"] is False
    wide = result(world, "contact.find", {"email": email, "include_archived": True})
    assert wide["record"]["id"] == contact and wide["deleted"] is True


# --------------------------------------------------------------------------- practitioners


PRACTITIONER_KEY = "MS0yMzQ1Njc4OTAxYmNkZWZnaGlqa2xtbm9wcQ-au1"


def test_inactive_practitioners_are_found_by_email_and_by_id(world: World) -> None:
    practitioner = world.ids["practitioners"]
    email = ACTIONS["practitioner.find"].sample_input["email"]
    world.sim.update("practitioners", practitioner, {"active": False})
    found = result(world, "practitioner.find", {"email": email})
    assert found["record"]["id"] == practitioner and found["inactive"] is True
    assert [path for _, path, _ in world.statuses()][-2:] == ["/practitioners", "/practitioners/inactive"]
    assert result(world, "practitioner.find", {"id": practitioner})["inactive"] is True


def test_a_practitioners_own_key_finds_them_by_email_without_listing_users() -> None:
    with Simulator(api_keys=[API_KEY, PRACTITIONER_KEY]) as sim:
        sim.start()
        ids = seed(sim)
        own_user = next(u for u in sim.list("users") if u["email"] == "api-user-2@simulator.example")
        sim.update("users", own_user["id"], {"role": "practitioner", "email": "Sam.Park@harbourside.example"})
        mine = sim.create("practitioners", {"first_name": "Sam", "last_name": "Park", "user_id": own_user["id"]})
        world = _world_for(sim, ids, PRACTITIONER_KEY)

        found = world.run(ACTIONS["practitioner.find"], {"email": "sam.park@harbourside.example"})
        assert found["status"] == "succeeded" and found["result"]["record"]["id"] == mine["id"]
        assert [path for _, path, _ in world.statuses()] == ["/user", "/practitioners"]

        # Someone else's email needs the user list, which Cliniko shows administrators only: a clear failure.
        other = world.run(ACTIONS["practitioner.find"], {"email": ACTIONS["practitioner.find"].sample_input["email"]})
        assert other["status"] == "failed" and other["error"]["type"] == "ClinikoForbidden"
        assert "administrator" in other["error"]["message"] and "harbourside" not in other["error"]["message"]
        assert ("GET", "/users", 403) in world.statuses()
        # By id needs no such permission.
        by_id = world.run(ACTIONS["practitioner.find"], {"id": ids["practitioners"]})
        assert by_id["status"] == "succeeded" and by_id["result"]["found"] is True


def _world_for(sim: Simulator, ids: dict[str, str], key: str) -> World:
    client = ClinikoClient(key, user_agent=USER_AGENT, base_url=sim.base_url, timeout=2.0, max_backoff=0.05)
    sim.requests_clear()
    return World(sim=sim, ids=ids, client=client)
