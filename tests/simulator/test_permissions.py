"""A key has its user's permissions: only administrators read other users; everyone reads `/user` and practitioners."""

from __future__ import annotations

from cliniko_tools.simulator import Simulator
from tests.simulator.conftest import API_KEY, session_for

STAFF_KEY = "MS0yLXN0YWZm-au1"


def test_only_an_administrators_key_reads_other_users() -> None:
    with Simulator(api_keys=[API_KEY, STAFF_KEY], rate_limit=10_000) as sim:
        sim.start(port=0)
        staff = next(u for u in sim.list("users") if u["email"] == "api-user-2@simulator.example")
        sim.update("users", staff["id"], {"role": "receptionist"})
        with session_for(API_KEY) as admin, session_for(STAFF_KEY) as receptionist:
            for path in ("/users", f"/users/{staff['id']}"):
                assert admin.get(sim.base_url + path).status_code == 200
                refused = receptionist.get(sim.base_url + path)
                assert refused.status_code == 403 and "message" in refused.json()
            own = receptionist.get(sim.base_url + "/user")
            assert own.status_code == 200 and own.json()["id"] == staff["id"]
            for path in ("/practitioners", "/practitioners/inactive"):
                assert receptionist.get(sim.base_url + path).status_code == 200
