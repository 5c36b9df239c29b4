"""Fixtures for the template tests: the committed template.yaml and its nested stacks (stacks/*.yaml), parsed.

`template` and `resources` are the stacks read as one flat template (`nested.flattened`: each family's resources
with the parameters the root passes them), which is what most checks are about; `root` and `stacks` are the
files as deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cliniko_tools.devtools.template.nested import flattened

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def stacks() -> dict[str, dict[str, Any]]:
    """Path → template: the root (`template.yaml`) first, then every nested stack's."""
    paths = [ROOT / "template.yaml", *sorted((ROOT / "stacks").glob("*.yaml"))]
    return {p.relative_to(ROOT).as_posix(): yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths}


@pytest.fixture(scope="session")
def root(stacks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The root template, as deployed."""
    return stacks["template.yaml"]


@pytest.fixture(scope="session")
def template(stacks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The root and its nested stacks as one flat template."""
    return flattened(stacks, "template.yaml")


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    """Every resource of every stack, by logical id (unique across the stacks)."""
    result: dict[str, Any] = template["Resources"]
    return result
