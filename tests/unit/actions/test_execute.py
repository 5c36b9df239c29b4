"""The generic operations against a scripted Cliniko: which calls each makes and what it returns."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import ClinikoBadResponse, ClinikoNotFound, ClinikoServerError, ClinikoValidationError
from cliniko_connector.eventmodels import ACTION_FAILED, ACTION_SUCCEEDED, ActionRequest
from cliniko_connector.usecases.actions import execute, validate_input
from tests.unit.actions.support import ScriptedCliniko, make_runner

DEADLINE = float("inf")


def run(name: str, data: dict[str, Any], api: ScriptedCliniko) -> dict[str, Any]:
    action = ACTIONS[name]
    return execute(action, api, validate_input(action, data), time.monotonic() + 60)


def test_create_posts_the_given_fields_once() -> None:
    api = ScriptedCliniko(answers={("POST", "/medical_alerts"): {"id": "5", "name": "Latex"}})
    result = run(
        "medical_alert.create", {"patient_id": "https://api.au1.cliniko.com/v1/patients/9", "name": " Latex "}, api
    )
    assert result == {"record": {"id": "5", "name": "Latex"}}
    (call,) = api.calls
    assert (call.method, call.path, call.json) == ("POST", "/medical_alerts", {"patient_id": "9", "name": "Latex"})


def test_create_adds_fixed_values_and_sends_aliases() -> None:
    api = ScriptedCliniko(answers={("POST", "/communications"): {"id": "1"}})
    run("communication.create", ACTIONS["communication.create"].sample_input, api)
    body = api.calls[0].json
    assert body is not None
    assert body["category_code"] == 12 and body["from"] == "Cliniko connector" and "from_" not in body


def test_timestamps_reach_cliniko_as_utc_z() -> None:
    api = ScriptedCliniko(answers={("POST", "/individual_appointments"): {"id": "1"}})
    run("individual_appointment.create", ACTIONS["individual_appointment.create"].sample_input, api)
    assert api.calls[0].json is not None and api.calls[0].json["starts_at"] == "2026-11-30T22:00:00Z"


def test_update_patches_only_the_given_fields_and_null_clears() -> None:
    api = ScriptedCliniko(answers={("PATCH", "/patients/7"): {"id": "7"}})
    result = run("patient.update", {"id": 7, "notes": None, "occupation": "Nurse"}, api)
    assert result == {"record": {"id": "7"}}
    assert api.calls[0].json == {"notes": None, "occupation": "Nurse"}


def test_archive_unarchive_and_cancel() -> None:
    api = ScriptedCliniko(
        answers={
            ("POST", "/patients/7/archive"): None,
            ("POST", "/patients/7/unarchive"): {"id": "7"},
            ("PATCH", "/individual_appointments/8/cancel"): None,
            ("POST", "/contacts/9/archive"): None,
        }
    )
    assert run("patient.delete", {"id": "7"}, api) == {"archived": True, "id": "7"}
    assert run("patient.archive", {"id": 7}, api) == {"archived": True, "id": "7"}
    assert run("patient.unarchive", {"id": "7"}, api) == {"unarchived": True, "id": "7", "record": {"id": "7"}}
    assert run("contact.delete", {"id": "9"}, api) == {"archived": True, "id": "9"}
    cancelled = run("individual_appointment.cancel", {"id": "8", "cancellation_reason": 40}, api)
    assert cancelled == {"cancelled": True, "id": "8"}
    assert [(c.method, c.path) for c in api.calls] == [
        ("POST", "/patients/7/archive"),
        ("POST", "/patients/7/archive"),
        ("POST", "/patients/7/unarchive"),
        ("POST", "/contacts/9/archive"),
        ("PATCH", "/individual_appointments/8/cancel"),
    ]
    assert api.calls[-1].json == {"cancellation_reason": 40}


VISIBLE = {"archived": False, "cancelled": False, "deleted": False}


def test_get_answers_found_false_on_404() -> None:
    api = ScriptedCliniko(answers={("GET", "/businesses/3"): {"id": "3"}})
    assert run("business.find", {"id": "3"}, api) == {"found": True, "record": {"id": "3"}, **VISIBLE}
    assert run("business.find", {"id": "4"}, api) == {"found": False, "record": None}


def test_get_by_id_asks_for_hidden_records_and_reports_their_state() -> None:
    archived = {"id": "3", "archived_at": "2026-01-01T00:00:00Z", "deleted_at": None}
    api = ScriptedCliniko(answers={("GET", "/businesses/3"): archived})
    assert run("business.find", {"id": "3"}, api) == {
        "found": True,
        "record": archived,
        "archived": True,
        "cancelled": False,
        "deleted": False,
    }
    assert api.calls[0].params == [("q[]", "archived_at:*"), ("q[]", "deleted_at:*")]


def test_appointment_find_tries_individual_then_group_or_the_given_kind() -> None:
    api = ScriptedCliniko(answers={("GET", "/group_appointments/5"): {"id": "5"}})
    found = run("appointment.find", {"id": "5"}, api)
    assert found == {"found": True, "record": {"id": "5"}, "kind": "group", **VISIBLE}
    assert [c.path for c in api.calls] == ["/individual_appointments/5", "/group_appointments/5"]
    assert api.calls[0].params == [("q[]", "archived_at:*"), ("q[]", "deleted_at:*"), ("q[]", "cancelled_at:*")]
    assert api.calls[1].params == [("q[]", "archived_at:*"), ("q[]", "deleted_at:*")]
    api.calls.clear()
    assert run("appointment.find", {"id": "5", "kind": "individual"}, api) == {"found": False, "record": None}
    assert [c.path for c in api.calls] == ["/individual_appointments/5"]


def test_find_by_id_gets_the_record() -> None:
    api = ScriptedCliniko(answers={("GET", "/contacts/3"): {"id": "3"}})
    found = run("contact.find", {"id": "3"}, api)
    assert found == {"found": True, "record": {"id": "3"}, **VISIBLE, "matches": 1, "ids": ["3"]}


def test_find_by_email_narrows_with_contains_and_decides_ignoring_case() -> None:
    api = ScriptedCliniko(
        lists={
            "/patients": [
                [
                    {"id": "1", "email": "Jane.C@Example.com", "updated_at": "2026-01-01T00:00:00Z"},
                    {"id": "2", "email": "mary.jane.c@example.com", "updated_at": "2026-03-01T00:00:00Z"},
                    {"id": "3", "email": "jane.c@example.com", "updated_at": "2026-02-01T00:00:00Z"},
                ]
            ]
        }
    )
    found = run("patient.find", {"email": "JANE.C@example.com"}, api)
    assert found["record"]["id"] == "3" and found["matches"] == 2 and found["ids"] == ["3", "1"]
    assert api.calls[0].params == [("q[]", "email:~jane.c@example.com"), ("per_page", "100")]
    empty = ScriptedCliniko(lists={"/patients": [[]]})
    nothing = run("patient.find", {"email": "nobody@example.com"}, empty)
    assert nothing == {"found": False, "record": None, "matches": 0, "ids": []}


def test_find_by_email_counts_every_match_but_lists_at_most_a_hundred_ids() -> None:
    pages = [[{"id": str(i), "email": "a@example.com"} for i in range(start, start + 100)] for start in (1, 101)]
    api = ScriptedCliniko(lists={"/patients": pages})
    found = run("patient.find", {"email": "a@example.com"}, api)
    assert found["matches"] == 200 and len(found["ids"]) == 100 and found["ids"][0] == found["record"]["id"] == "200"
    assert len(api.calls) == 2


def test_find_by_email_refuses_a_match_without_an_id() -> None:
    api = ScriptedCliniko(lists={"/patients": [[{"email": "a@example.com"}]]})
    with pytest.raises(ClinikoBadResponse):
        run("patient.find", {"email": "a@example.com"}, api)


def test_find_by_email_prefers_the_newest_visible_record_and_drops_hidden_unless_asked() -> None:
    archived = {"id": "7", "email": "a@example.com", "updated_at": "2026-05-01T00:00:00Z", "archived_at": "x"}
    older = {"id": "4", "email": "a@example.com", "updated_at": "2026-01-01T00:00:00Z"}
    api = ScriptedCliniko(lists={"/contacts": [[archived, older]]})
    plain = run("contact.find", {"email": "a@example.com"}, api)
    assert plain["ids"] == ["4"] and plain["archived"] is False  # a list that leaks hidden records is filtered
    assert api.calls[-1].params == [("q[]", "email:~a@example.com"), ("per_page", "100")]
    wide = run("contact.find", {"email": "a@example.com", "include_archived": True}, api)
    assert wide["record"]["id"] == "4" and wide["ids"] == ["4", "7"] and wide["matches"] == 2
    assert api.calls[-1].params == [
        ("q[]", "email:~a@example.com"),
        ("q[]", "archived_at:*"),
        ("q[]", "deleted_at:*"),
        ("per_page", "100"),
    ]
    only_hidden = ScriptedCliniko(lists={"/contacts": [[archived]]})
    hidden = run("contact.find", {"email": "a@example.com", "include_archived": True}, only_hidden)
    assert hidden["record"]["id"] == "7" and hidden["archived"] is True


def test_treatment_note_find_combines_filters_and_picks_the_newest_itself() -> None:
    # Pages in no particular order: the newest note is found whatever order Cliniko returns.
    pages = [
        [{"id": str(i), "created_at": f"2026-01-{i:02d}T00:00:00Z"} for i in (3, 1, 2)],
        [{"id": "9", "created_at": "2026-01-05T00:00:00Z"}, {"id": "8", "created_at": "2026-01-05T00:00:00Z"}],
        [{"id": "4", "created_at": "2026-01-04T00:00:00Z"}],
    ]
    api = ScriptedCliniko(lists={"/treatment_notes": pages})
    assert run("treatment_note.find", {"patient_id": 1, "draft": False}, api)["record"]["id"] == "9"
    assert api.calls[0].params == [("q[]", "patient_id:=1"), ("q[]", "draft:=false"), ("per_page", "100")]
    assert len(api.calls) == 3


def test_product_item_code_is_matched_client_side_across_pages() -> None:
    pages = [[{"id": str(i), "item_code": f"X-{i}"} for i in range(100)], [{"id": "500", "item_code": "TB-M"}]]
    api = ScriptedCliniko(lists={"/products": pages})
    assert run("product.find", {"item_code": "TB-M"}, api) == {"found": True, "record": pages[1][0], **VISIBLE}
    assert api.calls[0].params == [("per_page", "100")]
    assert len(api.calls) == 2
    assert run("product.find", {"item_code": "tb-m"}, api)["found"] is False  # item codes are exact
    api.calls.clear()
    run("product.find", {"name": "Band", "item_code": "TB-M"}, api)
    assert api.calls[0].params == [("q[]", "name:=Band"), ("per_page", "100")]


def test_practitioner_by_email_goes_through_the_user() -> None:
    api = ScriptedCliniko(
        lists={
            "/users": [[{"id": "1", "email": "someone@example.com"}], [{"id": "2", "email": "Jordan@Example.com"}]],
            "/practitioners": [[{"id": "30", "user": {}}]],
        }
    )
    assert run("practitioner.find", {"email": "jordan@example.com"}, api) == {
        "found": True,
        "record": {"id": "30", "user": {}},
        **VISIBLE,
        "inactive": False,
    }
    assert [c.path for c in api.calls] == ["/user", "/users", "/users#page=2", "/practitioners"]
    assert api.calls[-1].params == [("q[]", "user_id:=2"), ("per_page", "1")]
    nobody = ScriptedCliniko(lists={"/users": [[{"id": "1", "email": "someone@example.com"}]]})
    assert run("practitioner.find", {"email": "jordan@example.com"}, nobody) == {"found": False, "record": None}
    assert [c.path for c in nobody.calls] == ["/user", "/users"]


def test_practitioner_by_the_keys_own_email_needs_no_user_list_and_finds_inactive_ones() -> None:
    api = ScriptedCliniko(
        answers={("GET", "/user"): {"id": "2", "email": "jordan@example.com"}, ("GET", "/users"): None},
        lists={"/practitioners/inactive": [[{"id": "30", "active": False}]]},
    )
    found = run("practitioner.find", {"email": "Jordan@example.com"}, api)
    assert found["record"]["id"] == "30" and found["inactive"] is True
    assert [c.path for c in api.calls] == ["/user", "/practitioners", "/practitioners/inactive"]
    assert api.calls[-1].params == [("q[]", "user_id:=2"), ("per_page", "1")]


def test_list_ids_follows_pages_up_to_the_limit() -> None:
    pages = [[{"id": str(i)} for i in range(start, start + 100)] for start in (0, 100)] + [[{"id": "200"}]]
    api = ScriptedCliniko(lists={"/availability_blocks": pages})
    result = run("availability_block.list_ids", {"business_id": "4", "starts_before": "2027-01-01T10:00:00+10:00"}, api)
    assert result == {"ids": [str(i) for i in range(201)], "truncated": False}
    assert api.calls[0].params == [
        ("q[]", "business_id:=4"),
        ("q[]", "starts_at:<2027-01-01T00:00:00Z"),
        ("per_page", "100"),
    ]
    limited = run("availability_block.list_ids", {"practitioner_id": "4", "limit": 150}, api)
    assert limited == {"ids": [str(i) for i in range(150)], "truncated": True}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_result_keys_are_the_documented_ones(name: str) -> None:
    action = ACTIONS[name]
    data = action.sample_input
    api = ScriptedCliniko()
    answer = {
        "id": "1",
        "email": data.get("email"),
        "item_code": data.get("item_code"),
        "starts_at": "2026-12-01T22:00:00Z",
    }
    op_path = action.operation.path
    for method in ("POST", "PATCH"):
        api.answers[(method, op_path)] = answer
    payload = validate_input(action, data)
    body = payload.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if "id" in body:
        for suffix in ("", "/archive", "/unarchive", "/cancel"):
            for method in ("GET", "POST", "PATCH"):
                api.answers[(method, f"{op_path}/{body['id']}{suffix}")] = answer
    for path in ("/users", op_path):
        api.lists[path] = [[answer]]
    result = execute(action, api, payload, time.monotonic() + 60)
    expected = set(action.operation.result) | ({"kind"} if name == "appointment.find" else set())
    assert set(result) == expected


def test_the_runner_publishes_success_and_permanent_failures() -> None:
    action = ACTIONS["medical_alert.update"]
    ok = ScriptedCliniko(answers={("PATCH", "/medical_alerts/5"): {"id": "5"}})
    runner, publisher = make_runner(action, ok)
    outcome = runner.run(ActionRequest(connection_id="clinic", input={"id": "5", "name": "x"}, idempotency_key="k"))
    assert outcome["status"] == "succeeded" and outcome["result"] == {"record": {"id": "5"}}
    assert [e.detail_type for e in publisher.events] == [ACTION_SUCCEEDED]
    assert outcome["idempotency_key"] == "medical_alert.update#k"

    for error in (
        ClinikoNotFound("PATCH /medical_alerts/5: no such record", status=404),
        ClinikoValidationError("invalid", status=422, field_errors={"name": "is too long"}),
    ):
        failing = ScriptedCliniko(answers={("PATCH", "/medical_alerts/5"): error})
        runner, publisher = make_runner(action, failing)
        outcome = runner.run(ActionRequest(connection_id="clinic", input={"id": "5", "name": "x"}))
        assert outcome["status"] == "failed" and outcome["error"]["type"] == error.error_type
        assert [e.detail_type for e in publisher.events] == [ACTION_FAILED]
    assert outcome["error"]["field_errors"] == {"name": "is too long"}


def test_the_runner_raises_transient_errors_without_publishing() -> None:
    action = ACTIONS["medical_alert.create"]
    api = ScriptedCliniko(answers={("POST", "/medical_alerts"): ClinikoServerError("503", status=503)})
    runner, publisher = make_runner(action, api)
    with pytest.raises(ClinikoServerError):
        runner.run(ActionRequest(connection_id="clinic", input=action.sample_input))
    assert publisher.events == []
