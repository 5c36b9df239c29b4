"""`replay` of a window older than the idempotency records: a warning, and trigger events only unless
`--include-action-requests` (their writes would run again)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_connector.timeutil import to_z
from cliniko_tools.devtools.template import DEFAULT_ACTION_REQUEST_SOURCE
from tests.e2e.cli.conftest import CONNECTION, Stack

pytestmark = pytest.mark.e2e


def archive_old_events(stack: Stack, days_ago: float) -> None:
    """A trigger event and an action request, archived `days_ago` days ago."""
    at = to_z(datetime.now(UTC) - timedelta(days=days_ago))
    request = {"action": "patient.archive", "connection_id": CONNECTION, "input": {"id": "1"}, "idempotency_key": "k"}
    trigger = {"trigger": "patient.created", "connection_id": CONNECTION, "id": "1", "event_key": "e"}
    events = [
        {"source": "cliniko", "detail-type": "Patient Created", "time": at, "detail": trigger},
        {"source": DEFAULT_ACTION_REQUEST_SOURCE, "detail-type": ACTION_REQUESTED, "time": at, "detail": request},
    ]
    stack.runner.drain_archive()
    assert stack.state.archive is not None and stack.state.archive.path is not None
    with open(stack.state.archive.path, "a", encoding="utf-8") as archive:
        for event in events:
            archive.write(json.dumps({"version": "0", "id": event["detail-type"], "resources": [], **event}) + "\n")


def test_a_window_older_than_the_idempotency_records_replays_trigger_events_only(stack: Stack) -> None:
    archive_old_events(stack, days_ago=2)
    result = stack.cli("replay", "--since", "3d", "--dry-run", "--json")
    assert result.code == 0, result.err
    assert result.json["by_detail_type"] == {"Patient Created": 1}
    assert result.err.startswith("warning: the window starts more than 24h ago")
    assert "write actions its events lead to would run again" in result.err
    assert "--include-action-requests adds action requests" in result.err

    opted_in = stack.cli("replay", "--since", "3d", "--dry-run", "--json", "--include-action-requests")
    assert opted_in.code == 0, opted_in.err
    assert opted_in.json["by_detail_type"] == {"Patient Created": 1, ACTION_REQUESTED: 1}
    assert "action requests are included (--include-action-requests)" in opted_in.err


def test_a_window_within_the_idempotency_records_replays_everything_without_a_warning(stack: Stack) -> None:
    archive_old_events(stack, days_ago=0.5)
    result = stack.cli("replay", "--since", "23h", "--dry-run", "--json")
    assert result.code == 0, result.err
    assert result.json["by_detail_type"] == {"Patient Created": 1, ACTION_REQUESTED: 1}
    assert result.err == ""
