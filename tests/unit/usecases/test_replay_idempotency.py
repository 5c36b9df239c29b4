"""An AWS replay that must leave action requests out: EventBridge replays can't filter events, so it goes to
every rule of the bus but the action-request rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_connector.usecases.replay import ArchiveReplay, outlives_idempotency

BUS = "arn:aws:events:us-east-1:123456789012:event-bus/cliniko-connector-dev"
RULES = [
    {"Name": "Alert", "Arn": "arn:rule/alert", "EventPattern": json.dumps({"detail-type": ["Patient Created"]})},
    {
        "Name": "PatientArchiveActionRule",
        "Arn": "arn:rule/archive",
        "EventPattern": json.dumps({"source": ["cliniko"], "detail-type": [ACTION_REQUESTED]}),
    },
    {"Name": "Events-Archive-x", "Arn": "arn:rule/managed", "ManagedBy": "events.amazonaws.com"},
]


class RecordingEvents:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def list_rules(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["EventBusName"] == "cliniko-connector-dev"
        return {"Rules": RULES}

    def describe_rule(self, Name: str, EventBusName: str) -> dict[str, Any]:
        return next(r for r in RULES if r["Name"] == Name)

    def start_replay(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"State": "STARTING"}


SINCE = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=1)


def test_an_old_window_replays_to_every_rule_but_the_action_rules() -> None:
    events = RecordingEvents()
    ArchiveReplay(events, "arn:archive", BUS).start("r", SINCE, UNTIL, exclude_action_requests=True)
    (started,) = events.started
    assert started["Destination"] == {"Arn": BUS, "FilterArns": ["arn:rule/alert"]}


def test_without_the_exclusion_the_replay_goes_to_every_rule() -> None:
    events = RecordingEvents()
    ArchiveReplay(events, "arn:archive", BUS).start("r", SINCE, UNTIL)
    assert events.started[0]["Destination"] == {"Arn": BUS}


def test_naming_only_action_rules_in_an_old_window_is_refused() -> None:
    events = RecordingEvents()
    with pytest.raises(ConfigurationError, match="--include-action-requests"):
        ArchiveReplay(events, "arn:archive", BUS).start(
            "r", SINCE, UNTIL, ["PatientArchiveActionRule"], exclude_action_requests=True
        )
    assert events.started == []


def test_a_window_outlives_the_records_once_it_starts_before_their_lifetime() -> None:
    now = datetime(2026, 1, 3, tzinfo=UTC)
    assert outlives_idempotency(now - timedelta(hours=25), now, 86400)
    assert not outlives_idempotency(now - timedelta(hours=23), now, 86400)
