"""Integration fixtures: a real Cliniko simulator on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_tools.simulator import Simulator

API_KEY = "MS0xMjM0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcA-au1"
USER_AGENT = "cliniko-connector tests (tests@example.com)"


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with Simulator(api_keys=[API_KEY]) as sim:
        sim.start()
        yield sim


@pytest.fixture
def client(simulator: Simulator) -> ClinikoClient:
    return ClinikoClient(API_KEY, user_agent=USER_AGENT, base_url=simulator.base_url, timeout=2.0, max_backoff=0.2)
