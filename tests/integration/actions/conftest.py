"""Fixtures for the action integration tests: a seeded Cliniko simulator, a real client, the action runner.

Every test gets a fresh simulator with one record of each resource the catalog touches (`World.ids`), so
any action's sample input can be pointed at real records (`World.materialize`) and run over HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.memory import InMemoryConnectionStore, RecordingPublisher
from cliniko_connector.catalog.actions import ACTIONS, Action
from cliniko_connector.eventmodels import ActionRequest
from cliniko_connector.models import Connection
from cliniko_connector.usecases.actions import ActionRunner
from cliniko_tools.simulator import Simulator
from cliniko_tools.simulator.seeds import NOTE_CONTENT
from tests.integration.conftest import API_KEY, USER_AGENT

CONNECTION_ID = "clinic"
MISSING_ID = "999999999999"  # no simulator record has an id this small


def sample(name: str, key: str) -> Any:
    return ACTIONS[name].sample_input[key]


def seed(sim: Simulator) -> dict[str, str]:
    """One record of every resource the catalog's sample inputs refer to; resource name → id."""
    ids: dict[str, str] = {}

    def make(resource: str, data: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        record = sim.create(resource, data)
        ids[key or resource] = str(record["id"])
        return record

    user = make(
        "users",
        {
            "first_name": "Jordan",
            "last_name": "Lee",
            "email": sample("practitioner.find", "email"),
            "role": "practitioner",
        },
    )
    make("practitioners", {"first_name": "Jordan", "last_name": "Lee", "title": "Dr", "user_id": user["id"]})
    make("businesses", {"business_name": "Harbourside Physio", "country_code": "AU"})
    make("appointment_types", {"name": "Standard consult", "duration_in_minutes": 30, "max_attendees": 10})
    make(
        "patients",
        {"first_name": "Jane", "last_name": "Citizen", "email": sample("patient.find", "email")},
    )
    make("contacts", {"first_name": "Morgan", "last_name": "Reid", "email": sample("contact.find", "email")})
    make("medical_alerts", {"name": "Latex allergy", "patient_id": ids["patients"]})
    booking = {
        "practitioner_id": ids["practitioners"],
        "appointment_type_id": ids["appointment_types"],
        "business_id": ids["businesses"],
    }
    make(
        "individual_appointments",
        {**booking, "patient_id": ids["patients"], "starts_at": "2026-12-01T00:00:00Z"},
    )
    ids["bookings"] = ids["appointments"] = ids["individual_appointments"]
    make("group_appointments", {**booking, "starts_at": "2026-12-01T08:00:00Z", "max_attendees": 10})
    make("attendees", {"booking_id": ids["group_appointments"], "patient_id": ids["patients"]})
    make(
        "availability_blocks",
        {
            "practitioner_id": ids["practitioners"],
            "business_id": ids["businesses"],
            "starts_at": "2026-12-02T00:00:00Z",
            "ends_at": "2026-12-02T03:00:00Z",
        },
    )
    make(
        "unavailable_blocks",
        {
            "practitioner_id": ids["practitioners"],
            "business_id": ids["businesses"],
            "starts_at": "2026-12-02T04:00:00Z",
            "ends_at": "2026-12-02T04:45:00Z",
            "notes": "Lunch break",
        },
    )
    make("treatment_note_templates", {"name": "Standard consult", "content": NOTE_CONTENT})
    make(
        "treatment_notes",
        {
            "patient_id": ids["patients"],
            "booking_id": ids["individual_appointments"],
            "treatment_note_template_id": ids["treatment_note_templates"],
            "content": NOTE_CONTENT,
            "draft": True,
        },
    )
    make(
        "products",
        {"name": "Therapy band (medium)", "item_code": sample("product.find", "item_code"), "price": "24.95"},
    )
    make(
        "communications",
        {
            "patient_id": ids["patients"],
            "content": "Called to confirm.",
            "type_code": 3,
            "direction_code": 1,
            "from": "Reception",
            "to": "Jane Citizen",
            "confidential": False,
            "category_code": 12,
        },
    )
    make(
        "invoices",
        {"patient_id": ids["patients"], "business_id": ids["businesses"], "number": sample("invoice.find", "number")},
    )
    make("invoice_items", {"invoice_id": ids["invoices"], "name": "Standard consult", "unit_price": "95.00"})
    make("patient_form_templates", {"name": "Intake form", "content": NOTE_CONTENT})
    make(
        "patient_forms",
        {"patient_id": ids["patients"], "patient_form_template_id": ids["patient_form_templates"], "name": "Intake"},
    )
    make("patient_cases", {"name": "Lower back pain", "patient_id": ids["patients"]})
    make(
        "patient_attachments",
        {
            "patient_id": ids["patients"],
            "upload_url": "https://uploads.example.com/referral.pdf",
            "description": "Referral letter",
        },
    )
    make("taxes", {"name": "GST", "rate": 10.0, "amount": 0.0})
    make("billable_items", {"name": "Standard consult", "item_type": "Service", "price": "95.00"})
    make("stock_adjustments", {"product_id": ids["products"], "adjustment_type": "Stock Purchase", "quantity": 5})
    make("concession_types", {"name": "Pensioner"})
    make("product_suppliers", {"name": "Rehab Supplies"})
    make(
        "practitioner_reference_numbers",
        {
            "practitioner_id": ids["practitioners"],
            "business_id": ids["businesses"],
            "name": "Provider number",
            "reference_number": "2426621B",
        },
    )
    return ids


def id_fields(action: Action) -> dict[str, list[str]]:
    """Input field (as sent) → the resources its ids may name, for every id and id-list field."""
    schema = action.input_model.model_json_schema(by_alias=True)
    out: dict[str, list[str]] = {}
    for name, prop in schema.get("properties", {}).items():
        variants = [prop, *prop.get("anyOf", [])]
        for variant in variants:
            target = variant.get("items", variant) if variant.get("type") == "array" else variant
            if target.get("x-kind") == "id":
                out[name] = list(target.get("x-resources", []))
                break
    return out


def is_list_field(action: Action, name: str) -> bool:
    prop = action.input_model.model_json_schema(by_alias=True)["properties"][name]
    return any(v.get("type") == "array" for v in [prop, *prop.get("anyOf", [])])


@dataclass
class World:
    sim: Simulator
    ids: dict[str, str]
    client: ClinikoClient
    waits: list[float] = field(default_factory=list)

    def materialize(self, action: Action, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """`data` (default: the action's sample input) with every id pointing at a seeded record."""
        out = dict(action.sample_input if data is None else data)
        for name, resources in id_fields(action).items():
            if name not in out:
                continue
            record_id = self.ids[resources[0]]
            out[name] = [record_id] if is_list_field(action, name) else record_id
        return out

    def runner(
        self, action: Action, *, budget: float = 5.0, client: ClinikoClient | None = None
    ) -> tuple[ActionRunner, RecordingPublisher]:
        connection = Connection(
            id=CONNECTION_ID,
            name="Clinic",
            secret_id="unused",
            shard="au1",
            base_url=self.sim.base_url,
            allowed_actions=(action.name,),
        )
        publisher = RecordingPublisher()
        api = client or self.client
        runner = ActionRunner(
            action=action,
            connections=InMemoryConnectionStore([connection]),
            api_for=lambda _: api,
            publisher=publisher,
            event_source="cliniko",
            time_budget_seconds=budget,
        )
        return runner, publisher

    def run(self, action: Action, data: dict[str, Any], *, budget: float = 5.0) -> dict[str, Any]:
        runner, _ = self.runner(action, budget=budget)
        return runner.run(ActionRequest(connection_id=CONNECTION_ID, input=data, idempotency_key="test"))

    def statuses(self) -> list[tuple[str, str, int]]:
        return [(r.method, r.path.removeprefix("/v1"), r.status) for r in self.sim.requests]


def result(world: World, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """The result of a run of action `name` that must succeed."""
    outcome = world.run(ACTIONS[name], data)
    assert outcome["status"] == "succeeded", outcome.get("error")
    out: dict[str, Any] = outcome["result"]
    return out


@pytest.fixture
def world() -> Iterator[World]:
    with Simulator(api_keys=[API_KEY]) as sim:
        sim.start()
        ids = seed(sim)
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            # Record what the client asked for, but don't spend the suite's time waiting out a whole window.
            waits.append(seconds)
            time.sleep(min(seconds, 0.05))

        client = ClinikoClient(
            API_KEY, user_agent=USER_AGENT, base_url=sim.base_url, timeout=2.0, max_backoff=0.05, sleep=sleep
        )
        sim.requests_clear()
        yield World(sim=sim, ids=ids, client=client, waits=waits)
