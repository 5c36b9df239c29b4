"""`poll --reconcile`: what a regular poll can't see (a change that left `updated_at` alone, a record that
became visible late) is published by the walk from the stream's origin, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.cli.conftest import CONNECTION, Stack

pytestmark = pytest.mark.e2e


def test_reconciling_publishes_what_a_regular_poll_could_not_see_and_only_that(stack: Stack) -> None:
    # Given a clinic's patients from an hour ago, published from a start point two hours back
    stack.connect()
    quiet, _ = stack.patients("Quiet", "Other", ago=3600)
    since = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    enabled = stack.cli("triggers", "enable", CONNECTION, "patient.created", "patient.updated", "--from", since)
    assert enabled.code == 0, enabled.err
    assert stack.cli("poll").code == 0
    stack.patients("Today")  # the stream's cursor moves on to now
    assert stack.cli("poll").code == 0
    assert stack.only_stream()["events_published"] == 3

    # When one of them changes without its updated_at moving, and another appears with an hour-old timestamp
    stack.sim.store.set_fields("patients", int(quiet["id"]), {"first_name": "Renamed"}, touch=False)
    stack.patients("Late", ago=3000)
    # Then a regular poll sees neither
    regular = stack.cli("poll", "--json")
    assert [row["events"] for row in regular.json] == [0]

    # And the reconciliation publishes both, once
    reconciled = stack.cli("poll", "--reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    assert [row["events"] for row in reconciled.json] == [2]
    stream = stack.only_stream()
    assert stream["events_published"] == 5
    assert stream["reconciled_at"] is not None and stream["reconciling_from"] is None
    again = stack.cli("poll", "--reconcile", "--json")
    assert [row["events"] for row in again.json] == [0]
