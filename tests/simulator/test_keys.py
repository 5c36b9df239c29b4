"""API keys at runtime through `/__sim/keys`: add one, revoke one (401 from then on, as Cliniko answers a revoked
key), list their hashes; the keys themselves never come back."""

from __future__ import annotations

import requests

from cliniko_tools.simulator import Simulator
from tests.simulator.conftest import API_KEY, session_for

NEW_KEY = "MS0yLW5ld2tleQ-au1"


def control(sim: Simulator) -> str:
    return f"http://127.0.0.1:{sim.port}/__sim/keys"


def test_a_key_added_at_runtime_is_accepted_and_one_revoked_gets_401(sim: Simulator) -> None:
    with session_for(NEW_KEY) as new, session_for(API_KEY) as old:
        assert new.get(f"{sim.base_url}/patients").status_code == 401
        added = requests.post(control(sim), json={"key": NEW_KEY}, timeout=10)
        assert added.status_code == 201 and NEW_KEY not in added.text
        assert new.get(f"{sim.base_url}/patients").status_code == 200
        user = new.get(f"{sim.base_url}/user").json()["id"]

        revoked = requests.delete(control(sim), json={"key": API_KEY}, timeout=10)
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        assert old.get(f"{sim.base_url}/patients").status_code == 401
        assert requests.delete(control(sim), json={"key": API_KEY}, timeout=10).status_code == 404

        # Revoked then added back (a mistake undone): the same user as before.
        requests.delete(control(sim), json={"key": NEW_KEY}, timeout=10)
        assert requests.post(control(sim), json={"key": NEW_KEY}, timeout=10).status_code == 201
        assert requests.post(control(sim), json={"key": NEW_KEY}, timeout=10).status_code == 200  # already
        assert new.get(f"{sim.base_url}/user").json()["id"] == user


def test_keys_are_listed_as_hashes_and_a_malformed_key_is_refused(sim: Simulator) -> None:
    listed = requests.get(control(sim), timeout=10)
    assert listed.status_code == 200 and API_KEY not in listed.text
    (entry,) = listed.json()["keys"]
    assert len(entry["key_hash"]) == 16 and entry["user_id"] == sim.user_for_key(API_KEY)
    for body in ({}, {"key": ""}, {"key": "two words"}, {"key": 5}):
        assert requests.post(control(sim), json=body, timeout=10).status_code == 400
    assert requests.put(control(sim), json={"key": NEW_KEY}, timeout=10).status_code == 405
