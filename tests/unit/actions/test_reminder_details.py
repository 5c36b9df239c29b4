"""`appointment.reminder_details`: the appointment, its practitioner's name and its start in the business's time
zone, read with the connection's key by the action function (the scheduling function never holds a key)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import InputValidationError
from cliniko_connector.eventmodels import ACTION_SUCCEEDED, ActionRequest
from cliniko_connector.usecases.actions import execute, validate_input
from tests.unit.actions.support import ScriptedCliniko, make_runner

API = "https://api.au1.cliniko.com/v1"
ACTION = ACTIONS["appointment.reminder_details"]


def appointment(starts_at: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "600",
        "starts_at": starts_at,
        "patient_name": "Jane Citizen",
        "practitioner": {"links": {"self": f"{API}/practitioners/300"}},
        "business": {"links": {"self": f"{API}/businesses/400"}},
        "archived_at": None,
        "cancelled_at": None,
        "deleted_at": None,
        **extra,
    }


def clinic(starts_at: str, zone: str | None = "Australia/Sydney", **extra: Any) -> ScriptedCliniko:
    business: dict[str, Any] = {"id": "400", "business_name": "Harbourside Physio"}
    if zone is not None:
        business["time_zone_identifier"] = zone
    return ScriptedCliniko(
        answers={
            ("GET", "/individual_appointments/600"): appointment(starts_at, **extra),
            ("GET", "/practitioners/300"): {"id": "300", "display_name": "Dr Jordan Lee", "label": "Jordan Lee"},
            ("GET", "/businesses/400"): business,
        }
    )


def details(api: ScriptedCliniko, **data: Any) -> dict[str, Any]:
    return execute(ACTION, api, validate_input(ACTION, {"id": "600", **data}), time.monotonic() + 60)


@pytest.mark.parametrize(
    ("starts_at", "local", "zone_name"),
    [
        # Sydney leaves daylight time at 03:00 on Sunday 5 April 2026: the same 9 am is 22:00Z before, 23:00Z after.
        ("2026-04-03T22:00:00Z", "2026-04-04T09:00:00+11:00", "AEDT"),
        ("2026-04-04T23:00:00Z", "2026-04-05T09:00:00+10:00", "AEST"),
        # ... and enters it at 02:00 on Sunday 4 October 2026.
        ("2026-10-02T23:00:00Z", "2026-10-03T09:00:00+10:00", "AEST"),
        ("2026-10-03T22:00:00Z", "2026-10-04T09:00:00+11:00", "AEDT"),
    ],
)
def test_the_start_is_given_in_the_business_time_zone_on_either_side_of_a_dst_change(
    starts_at: str, local: str, zone_name: str
) -> None:
    result = details(clinic(starts_at))
    assert result["found"] is True and result["starts_at"] == starts_at
    assert result["time_zone"] == "Australia/Sydney" and result["time_zone_from"] == "business"
    assert result["local_starts_at"] == local
    assert result["local_date"] == local[:10] and result["local_time"] == "09:00"
    assert result["local_text"].endswith(f"at 09:00 ({zone_name})")
    assert result["practitioner_name"] == "Dr Jordan Lee"
    assert result["patient_name"] == "Jane Citizen" and result["business_name"] == "Harbourside Physio"


def test_it_reads_the_appointment_hidden_states_included_then_the_linked_practitioner_and_business() -> None:
    api = clinic("2026-04-04T23:00:00Z")
    details(api)
    assert [(c.method, c.path) for c in api.calls] == [
        ("GET", "/individual_appointments/600"),
        ("GET", "/practitioners/300"),
        ("GET", "/businesses/400"),
    ]
    assert ("q[]", "cancelled_at:*") in (api.calls[0].params or [])
    assert all(c.json is None for c in api.calls)


def test_a_business_without_a_zone_uses_the_automation_zone_else_utc() -> None:
    given = details(clinic("2026-04-04T23:00:00Z", zone=None), time_zone="Pacific/Auckland")
    assert (given["time_zone"], given["time_zone_from"]) == ("Pacific/Auckland", "input")
    assert given["local_starts_at"] == "2026-04-05T11:00:00+12:00"
    bare = details(clinic("2026-04-04T23:00:00Z", zone=None))
    assert (bare["time_zone"], bare["time_zone_from"], bare["local_time"]) == ("UTC", "utc", "23:00")


def test_a_zone_the_runtime_does_not_know_falls_back_instead_of_failing_the_reminder() -> None:
    result = details(clinic("2026-04-04T23:00:00Z", zone="Mars/Olympus_Mons"), time_zone="Australia/Perth")
    assert (result["time_zone"], result["time_zone_from"], result["local_time"]) == (
        "Australia/Perth",
        "input",
        "07:00",
    )


def test_the_business_zone_wins_over_the_automation_zone() -> None:
    result = details(clinic("2026-04-04T23:00:00Z"), time_zone="Europe/London")
    assert result["time_zone_from"] == "business" and result["local_time"] == "09:00"


def test_a_cancelled_appointment_is_found_and_says_so_so_a_chained_message_can_filter_it_out() -> None:
    result = details(clinic("2026-04-04T23:00:00Z", cancelled_at="2026-04-01T00:00:00Z"))
    assert result["found"] is True and result["cancelled"] is True


def test_a_missing_appointment_is_found_false_with_every_documented_key() -> None:
    result = details(ScriptedCliniko())
    assert result["found"] is False and set(result) == set(ACTION.operation.result)
    assert result["local_text"] is None


def test_a_missing_practitioner_or_business_leaves_their_fields_null() -> None:
    api = ScriptedCliniko(answers={("GET", "/individual_appointments/600"): appointment("2026-04-04T23:00:00Z")})
    result = details(api, time_zone="Australia/Sydney")
    assert result["practitioner_name"] is None and result["business_name"] is None
    assert result["time_zone_from"] == "input" and result["local_time"] == "09:00"


def test_the_automation_zone_must_look_like_an_iana_zone() -> None:
    with pytest.raises(InputValidationError) as refused:
        validate_input(ACTION, {"id": "600", "time_zone": "Sydney time; DROP"})
    assert set(refused.value.field_errors) == {"time_zone"}


def test_the_runner_publishes_the_details_as_the_action_result() -> None:
    runner, publisher = make_runner(ACTION, clinic("2026-04-04T23:00:00Z"))
    outcome = runner.run(ActionRequest(connection_id="clinic", input={"id": f"{API}/individual_appointments/600"}))
    assert outcome["status"] == "succeeded" and outcome["result"]["practitioner_name"] == "Dr Jordan Lee"
    assert [e.detail_type for e in publisher.events] == [ACTION_SUCCEEDED]
