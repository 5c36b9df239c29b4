"""Each undocumented convenience of the simulator is a switch, strict mode turns them all off, and both the CLI
and the control surface set them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

import cliniko_tools.simulator.__main__ as simulator_main
import cliniko_tools.simulator.simulator as simulator_module
from cliniko_tools.cli.main import main as cli_main
from cliniko_tools.simulator import Simulator, SimulatorBehaviour
from tests.simulator.spec_check import ContractClient


def control(sim: Simulator) -> str:
    return sim.base_url.removesuffix("/v1") + "/__sim/behaviour"


def test_strict_turns_every_convenience_off() -> None:
    strict = SimulatorBehaviour.strict()
    assert strict.is_strict and not SimulatorBehaviour().is_strict
    assert not (strict.parent_bumps or strict.honour_sort or strict.case_insensitive_equals or strict.read_only_writes)


def test_the_control_surface_shows_and_sets_the_switches(sim: Simulator, http: requests.Session) -> None:
    assert http.get(control(sim)).json() == {
        "parent_bumps": True,
        "honour_sort": True,
        "case_insensitive_equals": False,
        "read_only_writes": False,
        "strict": False,
    }
    assert http.post(control(sim), json={"strict": True}).json()["strict"] is True
    assert sim.behaviour == SimulatorBehaviour.strict()
    assert http.post(control(sim), json={"honour_sort": True}).json()["strict"] is False
    assert sim.behaviour == SimulatorBehaviour.strict().updated({"honour_sort": True})
    assert http.post(control(sim), json={"strict": False}).json()["parent_bumps"] is True
    assert sim.behaviour == SimulatorBehaviour()


@pytest.mark.parametrize("body", [{"sort": False}, {"parent_bumps": "no"}, ["strict"]])
def test_the_control_surface_refuses_what_is_not_a_switch(sim: Simulator, http: requests.Session, body: Any) -> None:
    response = http.post(control(sim), json=body)
    assert response.status_code == 400
    assert sim.behaviour == SimulatorBehaviour()


@pytest.mark.parametrize("argv", [["--strict"], []])
def test_the_simulator_command_lines_serve_strict_on_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str]
) -> None:
    served: list[bool] = []
    monkeypatch.setattr(simulator_main, "serve", lambda *a, strict=False, **k: served.append(strict))
    monkeypatch.setattr(simulator_module, "serve", lambda *a, strict=False, **k: served.append(strict))
    simulator_main.main(["--api-key", "MS0xLWFiYw-au1", *argv])
    key_file = tmp_path / "key.txt"
    key_file.write_text("MS0xLWFiYw-au1\n")
    monkeypatch.chdir(tmp_path)
    assert cli_main(["simulator", "--port", "0", "--api-key-file", str(key_file), *argv]) == 0
    assert served == [bool(argv)] * 2


def _group_with_attendee(demo: Simulator) -> tuple[dict[str, Any], dict[str, Any]]:
    first = {r: demo.list(r)[0]["id"] for r in ("practitioners", "appointment_types", "businesses", "patients")}
    group = demo.create(
        "group_appointments",
        {
            "practitioner_id": first["practitioners"],
            "appointment_type_id": first["appointment_types"],
            "business_id": first["businesses"],
            "starts_at": "2031-01-01T09:00:00Z",
            "max_attendees": 4,
        },
    )
    demo.clock.advance(60)
    demo.create("attendees", {"booking_id": group["id"], "patient_id": first["patients"]})
    return group, demo.get("group_appointments", group["id"]) or {}


@pytest.mark.parametrize("bumps", [True, False])
def test_an_attendee_moves_its_group_appointment_updated_at_only_with_parent_bumps(
    demo: Simulator, bumps: bool
) -> None:
    demo.behaviour = SimulatorBehaviour(parent_bumps=bumps)
    before, after = _group_with_attendee(demo)
    assert len(after["patient_ids"]) == 1  # the derived field follows either way
    assert (after["updated_at"] != before["updated_at"]) is bumps


@pytest.mark.parametrize("bumps", [True, False])
def test_paying_an_invoice_moves_its_updated_at_only_with_parent_bumps(demo: Simulator, bumps: bool) -> None:
    demo.behaviour = SimulatorBehaviour(parent_bumps=bumps)
    patient, business = demo.list("patients")[0]["id"], demo.list("businesses")[0]["id"]
    invoice = demo.create("invoices", {"patient_id": patient, "business_id": business})
    demo.clock.advance(60)
    paid = demo.pay_invoice(invoice["id"])
    assert paid["status"] == 20
    assert (paid["updated_at"] != invoice["updated_at"]) is bumps
    demo.clock.advance(60)
    demo.create("invoice_items", {"invoice_id": invoice["id"], "name": "Consult", "unit_price": "80"})
    totalled = demo.get("invoices", invoice["id"]) or {}
    assert totalled["total_amount"] == "80.00"
    assert (totalled["updated_at"] != paid["updated_at"]) is bumps


@pytest.mark.parametrize("honour", [True, False])
def test_sort_is_followed_or_ignored(demo: Simulator, demo_api: ContractClient, honour: bool) -> None:
    for n in range(3):
        demo.clock.advance(60)
        demo.create("patients", {"first_name": f"Later{n}", "last_name": "Patient"})
    demo.behaviour = SimulatorBehaviour(honour_sort=honour)
    listed = demo_api.get("/patients", params={"sort": "created_at:desc", "per_page": 100}).json()["patients"]
    created = [p["created_at"] for p in listed]
    assert len(set(created)) > 1
    assert created == sorted(created, reverse=honour)


@pytest.mark.parametrize("ignore_case", [True, False])
def test_string_equals_is_exact_unless_switched(demo: Simulator, demo_api: ContractClient, ignore_case: bool) -> None:
    demo.create("patients", {"first_name": "Jane", "last_name": "Case", "email": "jane.c@example.com"})
    demo.behaviour = SimulatorBehaviour(case_insensitive_equals=ignore_case)
    found = demo_api.get("/patients", params={"q[]": "email:=Jane.C@example.com"}).json()["patients"]
    assert [p["email"] for p in found] == (["jane.c@example.com"] if ignore_case else [])
