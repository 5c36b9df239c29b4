"""List endpoints: pagination, links, every filter operator kind, sorting, hidden records."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cliniko_tools.simulator import Simulator
from tests.simulator.spec_check import ContractClient

T0 = "2024-03-01T00:00:00Z"


@pytest.fixture
def patients(sim: Simulator) -> list[dict[str, Any]]:
    """Seven patients created a minute apart from T0."""
    sim.clock.set(T0)
    rows = [
        ("Ada", "Lovelace", "1815-12-10", "ada@example.com"),
        ("Grace", "Hopper", "1906-12-09", "grace@navy.example"),
        ("Alan", "Turing", "1912-06-23", None),
        ("Katherine", "Johnson", "1918-08-26", "kj@nasa.example"),
        ("Barbara", "Liskov", "1939-11-07", "barbara@mit.example"),
        ("Edsger", "Dijkstra", "1930-05-11", None),
        ("ada", "Byron", "1815-05-26", "byron@example.com"),
    ]
    out = []
    for first, last, dob, email in rows:
        out.append(
            sim.create("patients", {"first_name": first, "last_name": last, "date_of_birth": dob, "email": email})
        )
        sim.clock.advance(60)
    return out


def names(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [p["first_name"] + " " + p["last_name"] for p in response.json()["patients"]]


def q(*filters: str, **extra: object) -> dict[str, object]:
    return {"q[]": list(filters), **extra}


def test_pages_follow_links_next_until_it_is_omitted(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    seen: list[str] = []
    url: str | None = api.base_url + "/patients?per_page=3"
    pages = 0
    while url:
        body = api.session.get(url).json()
        pages += 1
        assert body["total_entries"] == 7
        seen += [p["id"] for p in body["patients"]]
        url = body["links"].get("next")
    assert pages == 3
    assert seen == [p["id"] for p in patients]


def test_links_are_absolute_and_keep_the_query(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    body = api.get("/patients", params=q("last_name:!=Nobody", per_page=2, page=2)).json()
    links = body["links"]
    assert set(links) == {"self", "previous", "next"}
    for link in links.values():
        assert link.startswith(api.base_url + "/patients?")
    next_query = parse_qs(urlsplit(links["next"]).query)
    assert next_query == {"q[]": ["last_name:!=Nobody"], "per_page": ["2"], "page": ["3"]}
    assert "q%5B%5D=" in links["next"]
    assert parse_qs(urlsplit(links["previous"]).query)["page"] == ["1"]


def test_first_page_has_no_previous_and_last_page_no_next(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    first = api.get("/patients", params={"per_page": 7}).json()["links"]
    assert "previous" not in first and "next" not in first
    beyond = api.get("/patients", params={"per_page": 5, "page": 3}).json()
    assert beyond["patients"] == [] and beyond["total_entries"] == 7
    assert "next" not in beyond["links"]


def test_per_page_defaults_to_50_and_is_clamped_to_100(sim: Simulator, http: requests.Session) -> None:
    sim.clock.set(T0)
    for index in range(120):
        sim.create("patients", {"first_name": f"P{index}", "last_name": "X"})
    default = http.get(sim.base_url + "/patients").json()
    assert len(default["patients"]) == 50
    clamped = http.get(sim.base_url + "/patients", params={"per_page": 500}).json()
    assert len(clamped["patients"]) == 100
    assert clamped["total_entries"] == 120


def test_default_order_is_created_at_ascending(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    assert [p["id"] for p in api.get("/patients").json()["patients"]] == [p["id"] for p in patients]


def test_datetime_operators(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    third = patients[2]["created_at"]
    assert len(names(api.get("/patients", params=q(f"created_at:>{third}")))) == 4
    assert len(names(api.get("/patients", params=q(f"created_at:>={third}")))) == 5
    assert len(names(api.get("/patients", params=q(f"created_at:<{third}")))) == 2
    assert len(names(api.get("/patients", params=q(f"created_at:<={third}")))) == 3
    between = q(f"updated_at:>{patients[0]['updated_at']}", f"updated_at:<{patients[3]['updated_at']}")
    assert names(api.get("/patients", params=between)) == ["Grace Hopper", "Alan Turing"]
    assert len(names(api.get("/patients", params=q("archived_at:!?")))) == 7
    assert names(api.get("/patients", params=q("archived_at:?"))) == []


def test_datetime_equality_is_rejected(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    response = api.get("/patients", params=q(f"created_at:={patients[0]['created_at']}"))
    assert response.status_code == 422


def test_date_operators_and_wildcards(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    assert names(api.get("/patients", params=q("date_of_birth:=1912-06-23"))) == ["Alan Turing"]
    assert names(api.get("/patients", params=q("date_of_birth:<1900-01-01"))) == ["Ada Lovelace", "ada Byron"]
    assert len(names(api.get("/patients", params=q("date_of_birth:>=1930-05-11")))) == 2
    assert names(api.get("/patients", params=q("date_of_birth:=****-12-**"))) == ["Ada Lovelace", "Grace Hopper"]
    assert names(api.get("/patients", params=q("date_of_birth:=1815-**-**"))) == ["Ada Lovelace", "ada Byron"]


def test_numeric_operators_compare_ids_as_numbers(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    ids = [p["id"] for p in patients]
    assert all(len(i) >= 19 for i in ids)  # 64-bit ids, beyond float precision
    assert len(names(api.get("/patients", params=q(f"id:>{ids[4]}")))) == 2
    assert len(names(api.get("/patients", params=q(f"id:>={ids[4]}")))) == 3
    assert len(names(api.get("/patients", params=q(f"id:<{ids[1]}")))) == 1
    assert len(names(api.get("/patients", params=q(f"id:<={ids[1]}")))) == 2
    assert len(names(api.get("/patients", params=q(f"id:!={ids[0]}")))) == 6
    assert names(api.get("/patients", params=q(f"id:={ids[2]},{ids[3]}"))) == ["Alan Turing", "Katherine Johnson"]
    assert len(names(api.get("/patients", params=q("id:?")))) == 7
    assert names(api.get("/patients", params=q("id:!?"))) == []


def test_string_operators(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    assert names(api.get("/patients", params=q("first_name:=Ada"))) == ["Ada Lovelace"]
    assert len(names(api.get("/patients", params=q("first_name:!=Ada")))) == 6
    assert names(api.get("/patients", params=q("last_name:~OPP"))) == ["Grace Hopper"]
    assert names(api.get("/patients", params=q("email:~~%@example.com"))) == ["Ada Lovelace", "ada Byron"]
    assert names(api.get("/patients", params=q("email:!?"))) == ["Alan Turing", "Edsger Dijkstra"]
    assert len(names(api.get("/patients", params=q("email:?")))) == 5


def test_filters_are_anded(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    assert names(api.get("/patients", params=q("first_name:~a", "date_of_birth:<1900-01-01", "email:~byron"))) == [
        "ada Byron"
    ]


def test_bare_q_parameter_is_accepted(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    assert names(api.get("/patients", params={"q": "last_name:=Turing"}, validate=False)) == ["Alan Turing"]


def test_boolean_and_array_operators(sim: Simulator, api: ContractClient) -> None:
    types = [
        sim.create("appointment_types", {"name": "Online", "show_in_online_bookings": True}),
        sim.create("appointment_types", {"name": "Offline", "show_in_online_bookings": False}),
    ]
    online = api.get("/appointment_types", params=q("show_in_online_bookings:=true")).json()["appointment_types"]
    assert [t["name"] for t in online] == ["Online"]
    offline = api.get("/appointment_types", params=q("show_in_online_bookings:!=true")).json()["appointment_types"]
    assert [t["name"] for t in offline] == ["Offline"]
    business = sim.create("businesses", {"business_name": "B", "appointment_type_ids": [types[1]["id"]]})
    found = api.get("/businesses", params=q(f"appointment_type_ids:~{types[1]['id']}")).json()["businesses"]
    assert [b["id"] for b in found] == [business["id"]]
    assert api.get("/businesses", params=q(f"appointment_type_ids:~{types[0]['id']}")).json()["businesses"] == []


@pytest.mark.parametrize(
    "bad",
    ["nickname:=x", "first_name:>x", "id:~1", "updated_at:>yesterday", "first_name", "date_of_birth:=1990-13-45"],
)
def test_invalid_filters_are_422(api: ContractClient, patients: list[dict[str, Any]], bad: str) -> None:
    response = api.get("/patients", params=q(bad), validate=False)
    assert response.status_code == 422
    assert response.json()["message"]


def test_sort_by_any_column_with_direction(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    by_last = names(api.get("/patients", params={"sort": "last_name"}))
    assert by_last[:3] == ["ada Byron", "Edsger Dijkstra", "Grace Hopper"]
    desc = names(api.get("/patients", params={"sort": "date_of_birth:desc"}))
    assert desc[0] == "Barbara Liskov" and desc[-1] == "ada Byron"


def test_sort_ties_are_broken_by_id_ascending(sim: Simulator, api: ContractClient) -> None:
    sim.clock.set(T0)
    made = [sim.create("patients", {"first_name": "Same", "last_name": "Name"})["id"] for _ in range(5)]
    listed = [p["id"] for p in api.get("/patients", params={"sort": "last_name:desc,first_name"}).json()["patients"]]
    assert listed == sorted(made, key=int)
    by_updated_desc = api.get("/patients", params={"sort": "updated_at:desc"}).json()["patients"]
    assert [p["id"] for p in by_updated_desc] == sorted(made, key=int)


def test_sort_on_multiple_columns(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    ordered = names(api.get("/patients", params={"sort": "date_of_birth:asc,first_name:desc"}))
    assert ordered[:2] == ["ada Byron", "Ada Lovelace"]


def test_unknown_sort_column_is_422(api: ContractClient, patients: list[dict[str, Any]]) -> None:
    assert api.get("/patients", params={"sort": "shoe_size"}, validate=False).status_code == 422


def test_sort_by_updated_at_reflects_later_edits(
    sim: Simulator, api: ContractClient, patients: list[dict[str, Any]]
) -> None:
    sim.clock.advance(3600)
    sim.update("patients", patients[0]["id"], {"notes": "edited"})
    listed = names(api.get("/patients", params={"sort": "updated_at"}))
    assert listed[-1] == "Ada Lovelace"
    changed = names(api.get("/patients", params=q(f"updated_at:>{patients[-1]['updated_at']}")))
    assert changed == ["Ada Lovelace"]


def test_archived_patients_are_hidden_unless_archived_at_star(
    sim: Simulator, api: ContractClient, patients: list[dict[str, Any]]
) -> None:
    sim.archive("patients", patients[1]["id"])
    assert "Grace Hopper" not in names(api.get("/patients"))
    assert api.get("/patients").json()["total_entries"] == 6
    assert "Grace Hopper" in names(api.get("/patients", params=q("archived_at:*")))
    assert names(api.get("/patients", params=q("archived_at:?"))) == ["Grace Hopper"]
    assert "Grace Hopper" not in names(api.get("/patients", params=q("archived_at:!?")))


def test_archived_patient_by_id_needs_archived_at_star(
    sim: Simulator, api: ContractClient, patients: list[dict[str, Any]]
) -> None:
    pid = patients[1]["id"]
    api.post(f"/patients/{pid}/archive")
    assert api.get(f"/patients/{pid}", validate=False).status_code == 404
    found = api.get(f"/patients/{pid}", params=q("archived_at:*"))
    assert found.status_code == 200
    assert found.json()["archived_at"] is not None


def test_cancelled_appointments_are_hidden_unless_cancelled_at_star(demo: Simulator, demo_api: ContractClient) -> None:
    appointments = demo_api.get("/individual_appointments").json()["individual_appointments"]
    assert len(appointments) == 3
    target = appointments[0]["id"]
    assert demo_api.patch(f"/individual_appointments/{target}/cancel", {"cancellation_reason": 50}).status_code == 204
    visible = demo_api.get("/individual_appointments").json()["individual_appointments"]
    assert target not in [a["id"] for a in visible]
    everything = demo_api.get("/individual_appointments", params=q("cancelled_at:*")).json()
    assert everything["total_entries"] == 3
    only = demo_api.get("/individual_appointments", params=q("cancelled_at:?")).json()["individual_appointments"]
    assert [a["id"] for a in only] == [target]
    assert demo_api.get("/bookings").json()["total_entries"] == 2
    assert demo_api.get("/bookings", params=q("cancelled_at:*")).json()["total_entries"] == 3
    attendees = demo_api.get("/attendees", params=q("cancelled_at:?")).json()["attendees"]
    assert attendees[0]["booking"]["links"]["self"].endswith(f"/bookings/{target}")


def test_nested_list_is_scoped_to_its_parent(
    sim: Simulator, api: ContractClient, patients: list[dict[str, Any]]
) -> None:
    for patient in patients[:2]:
        sim.create("medical_alerts", {"name": "Asthma", "patient_id": patient["id"]})
    body = api.get(f"/patients/{patients[0]['id']}/medical_alerts").json()
    assert body["total_entries"] == 1
    assert body["medical_alerts"][0]["patient"]["links"]["self"].endswith(patients[0]["id"])
    assert body["links"]["self"].startswith(f"{api.base_url}/patients/{patients[0]['id']}/medical_alerts?")
    assert api.get("/patients/12345/medical_alerts", validate=False).status_code == 404


def test_filter_by_reference_id(sim: Simulator, api: ContractClient, patients: list[dict[str, Any]]) -> None:
    alert = sim.create("medical_alerts", {"name": "Pacemaker", "patient_id": patients[3]["id"]})
    found = api.get("/medical_alerts", params=q(f"patient_id:={patients[3]['id']}")).json()["medical_alerts"]
    assert [a["id"] for a in found] == [alert["id"]]


def test_alerts_of_archived_patients_are_still_listed(
    sim: Simulator, api: ContractClient, patients: list[dict[str, Any]]
) -> None:
    sim.create("medical_alerts", {"name": "Pacemaker", "patient_id": patients[3]["id"]})
    sim.archive("patients", patients[3]["id"])
    assert api.get("/medical_alerts").json()["total_entries"] == 1


def test_inactive_practitioners_have_their_own_list(sim: Simulator, api: ContractClient) -> None:
    sim.create("practitioners", {"first_name": "Active", "last_name": "One"})
    gone = sim.create("practitioners", {"first_name": "Former", "last_name": "One", "active": False})
    active = api.get("/practitioners").json()["practitioners"]
    inactive = api.get("/practitioners/inactive").json()["practitioners"]
    assert [p["first_name"] for p in active] == ["Active"]
    assert [p["id"] for p in inactive] == [gone["id"]]
