"""An AWS replay that must leave action requests out: EventBridge replays can't filter events, so it goes to
every rule of the bus but the action-request rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cliniko_connector.adapters.memory import InMemoryEventArchive, RecordingPublisher
from cliniko_connector.errors import ConfigurationError, PublishError
from cliniko_connector.eventmodels import ACTION_REQUESTED, SCHEDULED_ACTION_DUE
from cliniko_connector.ports import BusRule, ReplayState
from cliniko_connector.usecases.replay import ArchiveReplay, LocalReplay, ReplayProgress, outlives_idempotency

RULES = [
    BusRule(name="Alert", arn="arn:rule/alert", event_pattern=json.dumps({"detail-type": ["Patient Created"]})),
    BusRule(
        name="PatientArchiveActionRule",
        arn="arn:rule/archive",
        event_pattern=json.dumps({"source": ["cliniko"], "detail-type": [ACTION_REQUESTED]}),
    ),
    BusRule(name="Events-Archive-x", arn="arn:rule/managed", managed=True),
]


SINCE = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=1)


def test_an_old_window_replays_to_every_rule_but_the_action_rules() -> None:
    archive = InMemoryEventArchive(RULES)
    ArchiveReplay(archive).start("r", SINCE, UNTIL, exclude_action_requests=True)
    assert archive.started == [("r", SINCE, UNTIL, ["arn:rule/alert"])]


def test_without_the_exclusion_the_replay_goes_to_every_rule() -> None:
    archive = InMemoryEventArchive(RULES)
    ArchiveReplay(archive).start("r", SINCE, UNTIL)
    assert archive.started == [("r", SINCE, UNTIL, [])]  # no filter: every rule


def test_naming_only_action_rules_in_an_old_window_is_refused() -> None:
    archive = InMemoryEventArchive(RULES)
    with pytest.raises(ConfigurationError, match="--include-action-requests"):
        ArchiveReplay(archive).start("r", SINCE, UNTIL, ["PatientArchiveActionRule"], exclude_action_requests=True)
    assert archive.started == []


def test_rules_are_named_or_given_by_arn_and_an_unknown_name_is_refused() -> None:
    archive = InMemoryEventArchive(RULES)
    ArchiveReplay(archive).start("r", SINCE, UNTIL, ["Alert", "arn:rule/other"])
    assert archive.started[0][3] == ["arn:rule/alert", "arn:rule/other"]
    with pytest.raises(ConfigurationError, match="no rule 'Missing'"):
        ArchiveReplay(archive).start("r2", SINCE, UNTIL, ["Missing"])


def test_following_a_replay_reports_each_state_until_it_ends() -> None:
    archive = InMemoryEventArchive(RULES)
    sleeps: list[float] = []
    replay = ArchiveReplay(archive, sleep=sleeps.append)
    progress = replay.start("r", SINCE, UNTIL)
    halfway = SINCE + timedelta(minutes=30)
    archive.finish("r", ReplayState(state="RUNNING", last_replayed=halfway), ReplayState(state="COMPLETED"))
    seen: list[ReplayProgress] = []
    final = replay.follow(progress, seen.append, interval_seconds=0.5)
    assert [(p.state, p.fraction) for p in seen] == [("RUNNING", 0.5), ("COMPLETED", 1.0)]
    assert final.state == "COMPLETED" and sleeps == [0.5, 0.5]


def test_a_window_outlives_the_records_once_it_starts_before_their_lifetime() -> None:
    now = datetime(2026, 1, 3, tzinfo=UTC)
    assert outlives_idempotency(now - timedelta(hours=25), now, 86400)
    assert not outlives_idempotency(now - timedelta(hours=23), now, 86400)


def local_replay(bus: RecordingPublisher, archived: list[dict[str, Any]]) -> LocalReplay:
    return LocalReplay(
        bus,
        archived=lambda: archived,
        event_time=lambda e: datetime.fromisoformat(e["time"]),
        marker=lambda name: f"replay:{name}",
    )


def test_a_local_replay_puts_the_windows_events_back_marked_and_at_their_time() -> None:
    inside = {
        "source": "cliniko",
        "detail-type": "Patient Created",
        "detail": {"id": "1"},
        "time": "2026-01-01T00:10:00+00:00",
    }
    request = {**inside, "detail-type": ACTION_REQUESTED, "detail": {"action": "x"}}
    outside = {**inside, "time": "2026-01-02T00:00:00+00:00"}
    bus = RecordingPublisher()
    outcome = local_replay(bus, [inside, request, outside]).replay("r", SINCE, UNTIL, exclude_action_requests=True)
    assert outcome.replayed == 1 and dict(outcome.by_detail_type) == {"Patient Created": 1}
    (event,) = bus.events
    assert event.resources == ("replay:r",) and event.time == SINCE + timedelta(minutes=10)
    assert (event.source, event.detail_type, event.detail) == ("cliniko", "Patient Created", {"id": "1"})


def test_a_local_replay_the_bus_refuses_says_how_many_were_put_back_first() -> None:
    events = [
        {
            "source": "cliniko",
            "detail-type": "Patient Created",
            "detail": {"id": str(n)},
            "time": "2026-01-01T00:10:00+00:00",
        }
        for n in range(12)
    ]
    bus = RecordingPublisher(max_attempts=1)
    calls = 0

    def refuse_second_batch(**kwargs: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 2:
            bus.fail_permanently(code="AccessDeniedException")
        return original(**kwargs)

    original, bus.bus.put_events = bus.bus.put_events, refuse_second_batch  # type: ignore[method-assign]
    with pytest.raises(PublishError, match=r"refused 2 replayed event\(s\) after 10 were put back") as refused:
        local_replay(bus, events).replay("r", SINCE, UNTIL)
    assert refused.value.error_codes == ["AccessDeniedException"]


DUE_RULE = BusRule(
    name="automation-appointment-reminder.due-1",
    arn="arn:rule/due",
    event_pattern=json.dumps({"source": ["cliniko"], "detail-type": [SCHEDULED_ACTION_DUE]}),
)


@pytest.mark.parametrize("exclude", [False, True])
def test_a_replay_never_reaches_a_due_rule_so_a_reminder_is_not_sent_twice(exclude: bool) -> None:
    archive = InMemoryEventArchive([*RULES, DUE_RULE])
    ArchiveReplay(archive).start("r", SINCE, UNTIL, exclude_action_requests=exclude)
    [(_, _, _, rules)] = archive.started
    assert "arn:rule/due" not in rules and "arn:rule/alert" in rules
    with pytest.raises(ConfigurationError, match="never replayed"):
        ArchiveReplay(archive).start("r", SINCE, UNTIL, ["automation-appointment-reminder.due-1"])


def test_a_local_replay_leaves_due_scheduled_actions_out() -> None:
    trigger = {"source": "cliniko", "detail-type": "Patient Created", "detail": {}, "time": "2026-01-01T00:10:00+00:00"}
    due = {**trigger, "detail-type": SCHEDULED_ACTION_DUE}
    bus = RecordingPublisher()
    outcome = local_replay(bus, [trigger, due]).replay("r", SINCE, UNTIL)
    assert dict(outcome.by_detail_type) == {"Patient Created": 1}
