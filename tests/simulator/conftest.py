"""Fixtures: a fresh simulator on port 0 per test, an HTTP session, and the official spec as validator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from cliniko_tools.simulator import Simulator
from tests.simulator.spec_check import ContractClient, load_openapi

API_KEY = "MS0xLWFiYw-au1"
USER_AGENT = "Simulator Tests (dev@example.com)"


def session_for(key: str = API_KEY, user_agent: str | None = USER_AGENT) -> requests.Session:
    session = requests.Session()
    session.auth = (key, "")
    session.headers["Accept"] = "application/json"
    if user_agent is None:
        session.headers.pop("User-Agent", None)
    else:
        session.headers["User-Agent"] = user_agent
    return session


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(api_keys=[API_KEY], rate_limit=10_000) as simulator:
        simulator.start(port=0)
        yield simulator


@pytest.fixture
def demo() -> Iterator[Simulator]:
    with Simulator(api_keys=[API_KEY], rate_limit=10_000, seed="demo") as simulator:
        simulator.start(port=0)
        yield simulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with session_for() as session:
        yield session


@pytest.fixture(scope="session")
def openapi():  # type: ignore[no-untyped-def]
    return load_openapi()


@pytest.fixture
def api(sim: Simulator, http: requests.Session, openapi) -> ContractClient:  # type: ignore[no-untyped-def]
    return ContractClient(sim.base_url, http, openapi)


@pytest.fixture
def demo_api(demo: Simulator, http: requests.Session, openapi) -> ContractClient:  # type: ignore[no-untyped-def]
    return ContractClient(demo.base_url, http, openapi)
