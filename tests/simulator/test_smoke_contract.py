from __future__ import annotations

from tests.simulator.spec_check import ContractClient


def test_patient_lifecycle_matches_the_spec(api: ContractClient) -> None:
    created = api.post("/patients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"})
    assert created.status_code == 201
    pid = created.json()["id"]
    assert api.get(f"/patients/{pid}").status_code == 200
    assert api.get("/patients").json()["total_entries"] == 1
    assert api.patch(f"/patients/{pid}", {"notes": "hi"}).status_code == 200
    assert api.post("/patients", {"first_name": "Ada"}).status_code == 422
    assert api.post(f"/patients/{pid}/archive").status_code == 204
    assert api.post(f"/patients/{pid}/unarchive").status_code == 200
    assert api.get("/user").status_code == 200
