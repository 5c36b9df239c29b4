"""Seeds: demo content, the documented examples as data, and the deterministic volume generator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from cliniko_tools.simulator import Simulator
from tests.simulator.conftest import API_KEY, session_for
from tests.simulator.spec_check import ContractClient

LISTS = {
    "patients": ["archived_at:*"],
    "medical_alerts": ["archived_at:*"],
    "individual_appointments": ["archived_at:*", "cancelled_at:*"],
    "attendees": ["archived_at:*", "cancelled_at:*"],
    "bookings": ["archived_at:*", "cancelled_at:*"],
    "invoices": ["archived_at:*"],
    "invoice_items": [],
    "treatment_notes": ["archived_at:*"],
    "treatment_note_templates": [],
    "practitioners": [],
    "practitioners/inactive": [],
    "appointment_types": [],
    "businesses": [],
    "users": [],
    "contacts": [],
    "products": [],
    "communications": [],
    "availability_blocks": [],
    "group_appointments": [],
}
TIME_KEYS = {
    "created_at",
    "updated_at",
    "archived_at",
    "cancelled_at",
    "starts_at",
    "ends_at",
    "finalized_at",
    "closed_at",
    "issue_date",
}


def _started(seed: str) -> Iterator[Simulator]:
    with Simulator(api_keys=[API_KEY], rate_limit=10**6, seed=seed) as sim:
        sim.start()
        yield sim


@pytest.fixture
def generated(openapi) -> Iterator[ContractClient]:  # type: ignore[no-untyped-def]
    for sim in _started("generate:150"):
        with session_for() as session:
            yield ContractClient(sim.base_url, session, openapi)


@pytest.fixture
def examples(openapi) -> Iterator[ContractClient]:  # type: ignore[no-untyped-def]
    for sim in _started("examples"):
        with session_for() as session:
            yield ContractClient(sim.base_url, session, openapi)


def test_demo_seed_has_a_small_clinic(demo: Simulator) -> None:
    assert len(demo.list("businesses")) == 1
    practitioners = demo.list("practitioners")
    assert len(practitioners) == 2 and all("user" in p for p in practitioners)
    assert len(demo.list("appointment_types")) == 2
    assert 3 <= len(demo.list("patients")) <= 10
    assert len(demo.list("individual_appointments")) == 3


def test_demo_api_key_belongs_to_the_clinic_owner(demo_api: ContractClient) -> None:
    user = demo_api.get("/user").json()
    assert user["role"] == "administrator"
    assert user["first_name"] == "Avery"


def test_every_generated_list_validates_against_the_spec(generated: ContractClient) -> None:
    for path, filters in LISTS.items():
        url: str | None = f"{generated.base_url}/{path}"
        params: Any = {"per_page": 100, "q[]": filters}
        pages = 0
        while url and pages < 3:
            response = generated.session.get(url, params=params)
            generated.check(response)
            assert response.status_code == 200
            url, params, pages = response.json()["links"].get("next"), None, pages + 1


def test_generated_data_is_realistic(generated: ContractClient) -> None:
    def total(path: str, *filters: str) -> int:
        return int(generated.get(f"/{path}", params={"q[]": list(filters)}).json()["total_entries"])

    assert total("patients", "archived_at:*") == 150
    assert total("individual_appointments", "cancelled_at:*", "archived_at:*") > 150
    assert total("individual_appointments", "cancelled_at:?") > 0
    assert total("invoices") > 50 and total("treatment_notes") > 50 and total("medical_alerts") > 10
    year_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 366 * 86400))
    assert total("patients", "archived_at:*", f"created_at:<{year_ago}") == 0
    paid = generated.get("/invoices", params={"q[]": "status:=20"}).json()["invoices"][0]
    assert paid["total_amount"].count(".") == 1 and paid["status_description"] == "Paid"


def _strip_times(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIME_KEYS} for r in records]


def test_generator_is_deterministic_for_a_given_n() -> None:
    one, two, other = (Simulator(api_keys=[API_KEY], seed=s) for s in ("generate:40", "generate:40", "generate:41"))
    for resource in ("patients", "individual_appointments", "invoices", "treatment_notes", "medical_alerts"):
        assert _strip_times(one.list(resource)) == _strip_times(two.list(resource))
    assert _strip_times(one.list("patients")) != _strip_times(other.list("patients"))
    created = [p["created_at"] for p in one.list("patients")]
    assert created == sorted(created)


def test_example_seed_serves_the_documented_records_with_string_ids(examples: ContractClient) -> None:
    patient = examples.get("/patients/1").json()
    assert (patient["id"], patient["first_name"], patient["last_name"]) == ("1", "Peter", "Patientman")
    assert patient["archived_at"] is None  # "" in the docs; the live API sends null
    appointment = examples.get("/individual_appointments/1").json()
    assert appointment["patient"]["links"]["self"] == f"{examples.base_url}/patients/82"
    for path, filters in LISTS.items():
        response = examples.get(f"/{path}", params={"q[]": filters})
        assert all(isinstance(r["id"], str) for r in response.json()[path.split("/")[0]])


def test_unknown_seed_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown seed"):
        Simulator(api_keys=[API_KEY], seed="lots")
    with pytest.raises(ValueError, match="generate:N"):
        Simulator(api_keys=[API_KEY], seed="generate:many")
