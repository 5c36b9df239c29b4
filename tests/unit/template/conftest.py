"""Fixtures for the template tests: the committed template.yaml, parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "template.yaml").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = template["Resources"]
    return result
