"""Each generated action sample is a valid action request for its action."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.eventmodels import ACTION_REQUESTED, parse_action_event


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_sample_event(project_root: Path, name: str) -> None:
    action = ACTIONS[name]
    event = json.loads((project_root / "events" / "actions" / f"{name}.json").read_text(encoding="utf-8"))
    assert event["detail-type"] == ACTION_REQUESTED
    assert {"version", "id", "source", "account", "time", "region", "resources"} <= set(event)
    assert event["detail"] == {
        "action": name,
        "connection_id": "demo",
        "input": action.sample_input,
        "idempotency_key": f"sample-{name}",
    }
    request = parse_action_event(event)
    assert request.action == name
    action.input_model.model_validate(request.input)
