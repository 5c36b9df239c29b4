"""Checks an event against the published schema of its detail-type."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from cliniko_tools.devtools.events_doc import slug

ROOT = Path(__file__).resolve().parents[2]


@cache
def schema_for(detail_type: str) -> dict[str, Any]:
    path = ROOT / "docs" / "schemas" / f"{slug(detail_type)}.json"
    assert path.exists(), f"detail-type {detail_type!r} is not documented in docs/schemas/"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def assert_matches_schema(detail_type: str, detail: dict[str, Any]) -> None:
    jsonschema.validate(detail, schema_for(detail_type))
