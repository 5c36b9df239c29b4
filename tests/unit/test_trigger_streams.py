"""Each trigger stream asks its list endpoint for every record it must see, by the official spec."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cliniko_connector.catalog.triggers import STREAMS, ResourceStream

SPEC = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "cliniko-openapi.json").read_text())
HIDDEN_UNLESS_ASKED = ("archived_at", "cancelled_at", "deleted_at")


def list_filters(resource: str) -> set[str]:
    operation: dict[str, Any] = SPEC["paths"][f"/{resource}"]["get"]
    (q,) = [p for p in operation["parameters"] if p.get("name") == "q[]"]
    return set(re.findall(r"^\| (\w+) \|", q["description"], flags=re.MULTILINE))


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.resource)
def test_a_stream_includes_every_hidden_kind_of_record_its_endpoint_can_filter_on(stream: ResourceStream) -> None:
    # Lists hide archived, cancelled and deleted records unless asked: a record must not leave the stream.
    filters = list_filters(stream.resource)
    wanted = {f"{field}:*" for field in HIDDEN_UNLESS_ASKED if field in filters}
    assert set(stream.include_filters) == wanted


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.resource)
def test_a_stream_can_filter_and_sort_on_updated_at(stream: ResourceStream) -> None:
    assert {"updated_at", "id"} <= list_filters(stream.resource)
