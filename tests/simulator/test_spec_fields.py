"""The simulator's resource definitions against the official spec, field by field, and what the API does with
a field the spec's request body doesn't list.

For every simulated resource: the fields its API create and update accept are exactly the properties of
the spec's request body for `POST /{resource}` and `PATCH /{resource}/{id}`, and what it shows is exactly
the properties of the spec's `GET /{resource}/{id}` answer. A field the spec only shows (an appointment's
`did_not_arrive`) is staff-side: the control surface changes it, the API refuses it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from cliniko_tools.simulator import Simulator, SimulatorBehaviour
from cliniko_tools.simulator.api import CANCEL_FIELDS
from cliniko_tools.simulator.resources import RESOURCES
from cliniko_tools.simulator.schema import ResourceDef
from tests.simulator.spec_check import SPEC_PATH, ContractClient

SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
SIMULATED = [name for name, rdef in RESOURCES.items() if not rdef.union_of]


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].split("/")[1:]:
            target = target[part]
        node = target
    return node


def _properties(schema: Any) -> set[str]:
    schema = _resolve(schema)
    names = set(schema.get("properties", {}))
    for variant in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        names |= _properties(variant)
    return names


def request_fields(path: str, method: str) -> set[str] | None:
    operation = SPEC["paths"].get(path, {}).get(method)
    if operation is None or "requestBody" not in operation:
        return None
    return _properties(_resolve(operation["requestBody"])["content"]["application/json"]["schema"])


def response_fields(path: str) -> set[str] | None:
    operation = SPEC["paths"].get(path, {}).get("get")
    if operation is None:
        return None
    return _properties(_resolve(operation["responses"]["200"])["content"]["application/json"]["schema"])


def accepted(rdef: ResourceDef, *, creating: bool) -> set[str]:
    names = {f.name for f in rdef.fields if f.api}
    if not creating and rdef.update_fields is not None:
        names &= set(rdef.update_fields)
    return names


def shown(rdef: ResourceDef) -> set[str]:
    return {f.out_key for f in rdef.fields if f.render} | {key for key, _ in rdef.collections} | {"links"}


@pytest.mark.parametrize("operation", ["create", "update"])
@pytest.mark.parametrize("resource", SIMULATED)
def test_the_api_accepts_exactly_the_spec_request_body(resource: str, operation: str) -> None:
    rdef = RESOURCES[resource]
    creating = operation == "create"
    spec = request_fields(f"/{resource}" if creating else f"/{resource}/{{id}}", "post" if creating else "patch")
    assert (operation in rdef.ops) == (spec is not None), "the operation exists in one and not the other"
    if spec is not None:
        assert accepted(rdef, creating=creating) == spec


@pytest.mark.parametrize("resource", SIMULATED)
def test_a_record_shows_exactly_the_spec_response_fields(resource: str) -> None:
    spec = response_fields(f"/{resource}/{{id}}")
    assert spec is not None, f"the spec has no GET /{resource}/{{id}}"
    assert shown(RESOURCES[resource]) == spec


@pytest.mark.parametrize("path", ["/individual_appointments/{id}/cancel", "/attendees/{id}/cancel"])
def test_cancel_accepts_exactly_the_spec_request_body(path: str) -> None:
    assert request_fields(path, "patch") == CANCEL_FIELDS


def _appointment(demo: Simulator) -> dict[str, Any]:
    first = {r: str(demo.list(r)[0]["id"]) for r in ("patients", "practitioners", "appointment_types", "businesses")}
    return demo.create(
        "individual_appointments",
        {
            "patient_id": first["patients"],
            "practitioner_id": first["practitioners"],
            "appointment_type_id": first["appointment_types"],
            "business_id": first["businesses"],
            "starts_at": "2030-01-01T09:00:00Z",
        },
    )


@pytest.mark.parametrize("field", ["did_not_arrive", "patient_arrived"])
def test_an_appointment_flag_the_spec_only_shows_is_refused_by_the_api_and_set_from_the_control_surface(
    demo: Simulator, demo_api: ContractClient, http: requests.Session, field: str
) -> None:
    made = _appointment(demo)
    refused = demo_api.patch(f"/individual_appointments/{made['id']}", {field: True})
    assert refused.status_code == 422
    assert refused.json()["errors"] == {field: "is not accepted by this endpoint"}
    assert demo.get("individual_appointments", made["id"])[field] is False  # nothing half-applied

    control = demo.base_url.removesuffix("/v1") + f"/__sim/records/individual_appointments/{made['id']}"
    assert http.patch(control, json={field: True}).json()[field] is True


def test_online_payments_enabled_is_refused_on_appointment_types(demo: Simulator, demo_api: ContractClient) -> None:
    type_id = demo.list("appointment_types")[0]["id"]
    response = demo_api.patch(f"/appointment_types/{type_id}", {"online_payments_enabled": True})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"online_payments_enabled"}


def test_a_field_the_spec_does_not_know_is_refused_not_dropped(demo_api: ContractClient) -> None:
    response = demo_api.post("/patients", {"first_name": "Ada", "last_name": "Lovelace", "favourite_colour": "teal"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"favourite_colour": "is not accepted by this endpoint"}


def test_cancel_refuses_a_field_its_body_does_not_list(demo: Simulator, demo_api: ContractClient) -> None:
    made = _appointment(demo)
    response = demo_api.patch(
        f"/individual_appointments/{made['id']}/cancel", {"cancellation_reason": 50, "refund": True}
    )
    assert response.status_code == 422
    assert demo.get("individual_appointments", made["id"])["cancelled_at"] is None


def test_unsubscribe_sms_marketing_is_accepted_and_shown_as_accepted_sms_marketing(
    demo: Simulator, demo_api: ContractClient
) -> None:
    created = demo_api.post(
        "/patients", {"first_name": "Ada", "last_name": "Lovelace", "unsubscribe_sms_marketing": True}
    )
    assert created.status_code == 201
    assert created.json()["accepted_sms_marketing"] is False
    assert "unsubscribe_sms_marketing" not in created.json()


def test_the_old_convenience_of_writing_read_only_fields_is_a_switch(demo: Simulator, demo_api: ContractClient) -> None:
    made = _appointment(demo)
    demo.behaviour = SimulatorBehaviour(read_only_writes=True)
    response = demo_api.patch(f"/individual_appointments/{made['id']}", {"did_not_arrive": True}, validate=False)
    assert response.status_code == 200 and response.json()["did_not_arrive"] is True
