"""The bus contract: every detail-type documented, schemas and samples generated from the code."""

from __future__ import annotations

import json

import pytest

from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_tools.devtools.events_doc import all_schemas
from tests.unit.contract import ROOT, assert_matches_schema


def test_every_trigger_has_a_documented_schema_and_a_sample_event() -> None:
    schemas = all_schemas()
    docs = (ROOT / "docs" / "events.md").read_text()
    for trigger in TRIGGERS.values():
        assert trigger.detail_type in schemas
        assert f"`{trigger.detail_type}`" in docs
        assert (ROOT / "events" / "triggers" / f"{trigger.name}.json").exists()


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_each_sample_trigger_event_matches_its_schema(name: str) -> None:
    event = json.loads((ROOT / "events" / "triggers" / f"{name}.json").read_text())
    assert event["detail-type"] == TRIGGERS[name].detail_type
    assert_matches_schema(event["detail-type"], event["detail"])


def test_a_schema_rejects_an_event_of_another_trigger() -> None:
    created = json.loads((ROOT / "events" / "triggers" / "patient.created.json").read_text())
    with pytest.raises(Exception, match=r"patient\.updated"):
        assert_matches_schema("Patient Updated", created["detail"])
