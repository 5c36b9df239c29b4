"""`appointment.reminder_details` over HTTP against the Cliniko simulator: the practitioner's display name and
the start in the business's own time zone, on both sides of a daylight-saving change."""

from __future__ import annotations

import time

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.usecases.actions import execute, validate_input
from cliniko_tools.simulator import Simulator

pytestmark = pytest.mark.integration
ACTION = ACTIONS["appointment.reminder_details"]


def book(sim: Simulator, zone: str | None, starts_at: str) -> str:
    business = sim.create(
        "businesses",
        {"business_name": "Harbourside Physio", "country_code": "AU"}
        | ({"time_zone_identifier": zone} if zone else {}),
    )
    user = sim.store.create(
        "users", {"first_name": "Jordan", "last_name": "Lee", "email": "jl@example.com"}, staff=True
    )
    practitioner = sim.create(
        "practitioners", {"first_name": "Jordan", "last_name": "Lee", "title": "Dr", "user_id": user["id"]}
    )
    appointment = sim.create(
        "individual_appointments",
        {
            "starts_at": starts_at,
            "business_id": business["id"],
            "practitioner_id": practitioner["id"],
            "patient_id": sim.create("patients", {"first_name": "Jane", "last_name": "Citizen"})["id"],
            "appointment_type_id": sim.create("appointment_types", {"name": "Consult", "duration_in_minutes": 30})[
                "id"
            ],
        },
    )
    return str(appointment["id"])


@pytest.mark.parametrize(
    ("starts_at", "local"),
    [("2026-04-03T22:00:00Z", "2026-04-04T09:00:00+11:00"), ("2026-04-04T23:00:00Z", "2026-04-05T09:00:00+10:00")],
)
def test_nine_am_in_sydney_is_nine_am_on_both_sides_of_the_dst_change(
    simulator: Simulator, client: ClinikoClient, starts_at: str, local: str
) -> None:
    appointment_id = book(simulator, "Australia/Sydney", starts_at)
    result = execute(ACTION, client, validate_input(ACTION, {"id": appointment_id}), time.monotonic() + 30)
    assert result["found"] is True and result["starts_at"] == starts_at
    assert (result["time_zone"], result["time_zone_from"]) == ("Australia/Sydney", "business")
    assert result["local_starts_at"] == local and result["local_time"] == "09:00"
    assert result["practitioner_name"] == "Dr Jordan Lee" and result["patient_name"]


def test_a_business_without_its_own_zone_uses_the_automation_zone(simulator: Simulator, client: ClinikoClient) -> None:
    appointment_id = book(simulator, None, "2026-04-04T23:00:00Z")
    data = {"id": appointment_id, "time_zone": "Australia/Brisbane"}
    result = execute(ACTION, client, validate_input(ACTION, data), time.monotonic() + 30)
    assert (result["time_zone_from"], result["local_time"]) == ("input", "09:00")
