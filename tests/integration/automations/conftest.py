"""Local-stack fixtures: one in-process moto server per test session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cliniko_tools.local.moto import InProcessMoto, reset
from tests.integration.local.local_stack_support import Project


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with InProcessMoto() as server:
        yield server.endpoint_url


@pytest.fixture
def endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    reset(moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint


@pytest.fixture
def project(tmp_path: Path, endpoint: str) -> Project:
    return Project(tmp_path, endpoint)
