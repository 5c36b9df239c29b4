"""Scheduled actions with in-memory fakes and a fake clock: at most one pending schedule per (automation,
record), moved and dropped by the record's later events, deaf to duplicates and to events older than what it was
decided from, and never sent once its time has passed."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cliniko_connector.adapters.memory import InMemoryScheduleLedger, InMemoryScheduler, RecordingPublisher
from cliniko_connector.errors import InputValidationError, UntrustedSource
from cliniko_connector.eventmodels import (
    SCHEDULED_ACTION_DROPPED,
    SCHEDULED_ACTION_MOVED,
    ScheduledActionDroppedDetail,
    ScheduledActionMovedDetail,
)
from cliniko_connector.usecases.schedules import ScheduleActions, schedule_name

SAMPLES = Path(__file__).parents[3] / "events" / "triggers"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def appointment_event(trigger: str, *, updated: datetime, starts: datetime, **data: Any) -> dict[str, Any]:
    event = json.loads((SAMPLES / f"individual_appointment.{trigger}.json").read_text())
    detail = event["detail"]
    detail["occurred_at"] = _z(updated)
    detail["event_key"] = f"demo:individual_appointments:601:{trigger}:{_z(updated)}"
    detail["id"] = "601"
    detail["data"].update(
        id="601", updated_at=_z(updated), starts_at=_z(starts), ends_at=_z(starts + timedelta(minutes=30)), **data
    )
    return event  # type: ignore[no-any-return]


def request(event: dict[str, Any], *, follow: bool = False, before: bool = True) -> dict[str, Any]:
    at = {"before": "$.detail.data.starts_at", "offset_seconds": 86400} if before else {"after_seconds": 7200}
    return {
        "automation": "appointment-reminder",
        "target": 1,
        "follow": follow,
        "at": at,
        "deliver": {"kind": "sms", "message": f"Your appointment is at {event['detail']['data']['starts_at']}"},
        "event": copy.deepcopy(event),
    }


@pytest.fixture
def world() -> tuple[ScheduleActions, InMemoryScheduler, InMemoryScheduleLedger, RecordingPublisher, Clock]:
    scheduler, ledger, publisher, clock = InMemoryScheduler(), InMemoryScheduleLedger(), RecordingPublisher(), Clock(T0)
    actions = ScheduleActions(scheduler, ledger, publisher, "cliniko", {"cliniko"}, clock)
    return actions, scheduler, ledger, publisher, clock


def send(actions: ScheduleActions, payload: dict[str, Any]) -> str:
    return actions.handle(actions.parse(payload)).outcome


NAME = schedule_name("appointment-reminder", 1, "demo", "individual_appointments", "601")


def test_create_reschedule_twice_cancel_with_duplicates_and_stale_events_leaves_nothing_pending_and_sends_nothing(
    world: Any,
) -> None:
    actions, scheduler, _, publisher, clock = world
    first, second, third = T0 + timedelta(days=3), T0 + timedelta(days=4), T0 + timedelta(days=5)
    created = appointment_event("created", updated=T0, starts=first)
    moved_once = appointment_event("rescheduled", updated=T0 + timedelta(minutes=5), starts=second)
    moved_once_update = appointment_event("updated", updated=T0 + timedelta(minutes=5), starts=second)
    moved_twice = appointment_event("rescheduled", updated=T0 + timedelta(minutes=9), starts=third)
    cancelled = appointment_event(
        "cancelled", updated=T0 + timedelta(minutes=12), starts=third, cancelled_at=_z(T0 + timedelta(minutes=12))
    )

    assert send(actions, request(created)) == "scheduled"
    assert send(actions, request(created)) == "unchanged"  # a duplicate of the trigger
    assert send(actions, request(moved_once, follow=True)) == "moved"
    assert send(actions, request(moved_once_update, follow=True)) == "unchanged"  # the same change, other trigger
    assert send(actions, request(moved_twice, follow=True)) == "moved"
    assert send(actions, request(moved_once, follow=True)) == "unchanged"  # late: older than the schedule
    assert scheduler.list()[0].due_at == third - timedelta(days=1)
    assert [op for op, _ in scheduler.calls].count("create") == 1  # one schedule, moved, never a second one
    assert send(actions, request(cancelled, follow=True)) == "dropped"
    assert send(actions, request(moved_twice, follow=True)) == "unchanged"  # a stale move can't bring it back
    assert send(actions, request(created)) == "unchanged"  # nor can a replay of the trigger

    assert scheduler.list() == []
    clock.now = third + timedelta(days=1)
    assert scheduler.fire_due(clock.now) == []  # nothing is sent
    moved = [e for e in publisher.events if e.detail_type == SCHEDULED_ACTION_MOVED]
    dropped = [e for e in publisher.events if e.detail_type == SCHEDULED_ACTION_DROPPED]
    assert [ScheduledActionMovedDetail.model_validate(e.detail).due_at for e in moved] == [
        _z(second - timedelta(days=1)),
        _z(third - timedelta(days=1)),
    ]
    assert [ScheduledActionDroppedDetail.model_validate(e.detail).reason for e in dropped] == ["cancelled"]
    assert dropped[0].detail["previous_due_at"] == _z(third - timedelta(days=1))


def test_a_reschedule_that_arrives_before_its_trigger_is_where_the_schedule_starts(world: Any) -> None:
    actions, scheduler, _, _, _ = world
    created = appointment_event("created", updated=T0, starts=T0 + timedelta(days=3))
    later = appointment_event("rescheduled", updated=T0 + timedelta(minutes=1), starts=T0 + timedelta(days=6))
    assert send(actions, request(later, follow=True)) == "parked"
    assert scheduler.list() == []  # a follow event never creates a schedule by itself
    assert send(actions, request(created)) == "scheduled"
    assert [s.due_at for s in scheduler.list()] == [T0 + timedelta(days=5)]


def test_a_cancellation_that_arrives_before_its_trigger_keeps_the_trigger_from_scheduling(world: Any) -> None:
    actions, scheduler, *_ = world
    created = appointment_event("created", updated=T0, starts=T0 + timedelta(days=3))
    cancelled = appointment_event(
        "cancelled", updated=T0 + timedelta(minutes=1), starts=T0 + timedelta(days=3), cancelled_at=_z(T0)
    )
    assert send(actions, request(cancelled, follow=True)) == "dropped"
    assert send(actions, request(created)) == "unchanged"
    assert scheduler.list() == []


def test_a_reminder_whose_time_has_already_passed_is_not_scheduled_and_says_so(world: Any) -> None:
    actions, scheduler, _, publisher, _ = world
    soon = appointment_event("created", updated=T0, starts=T0 + timedelta(hours=3))  # 24 h before: 21 h ago
    assert send(actions, request(soon)) == "dropped"
    assert scheduler.list() == [] and scheduler.calls == []
    [event] = publisher.events
    assert event.detail_type == SCHEDULED_ACTION_DROPPED and event.detail["reason"] == "past"


def test_a_reschedule_into_the_past_drops_the_pending_reminder(world: Any) -> None:
    actions, scheduler, _, publisher, _ = world
    assert (
        send(actions, request(appointment_event("created", updated=T0, starts=T0 + timedelta(days=3)))) == "scheduled"
    )
    earlier = appointment_event("rescheduled", updated=T0 + timedelta(minutes=1), starts=T0 + timedelta(hours=2))
    assert send(actions, request(earlier, follow=True)) == "dropped"
    assert scheduler.list() == []
    assert publisher.events[-1].detail["reason"] == "past"


def test_a_due_reminder_fires_once_and_a_later_change_does_not_send_it_again(world: Any) -> None:
    actions, scheduler, _, _, clock = world
    starts = T0 + timedelta(days=2)
    send(actions, request(appointment_event("created", updated=T0, starts=starts)))
    clock.now = starts - timedelta(days=1)
    [fired] = scheduler.fire_due(clock.now)
    due = json.loads(fired.detail)
    assert due["kind"] == "sms" and due["message"].endswith(_z(starts)) and due["record_id"] == "601"
    note = appointment_event("updated", updated=clock.now + timedelta(minutes=1), starts=starts)
    assert send(actions, request(note, follow=True)) == "unchanged"
    assert scheduler.list() == []


def test_an_after_wait_counts_from_its_trigger_and_is_dropped_when_the_record_is_archived(world: Any) -> None:
    actions, scheduler, *_ = world
    arrived = appointment_event("arrived", updated=T0, starts=T0 - timedelta(minutes=5))
    assert send(actions, request(arrived, before=False)) == "scheduled"
    assert [s.due_at for s in scheduler.list()] == [T0 + timedelta(hours=2)]
    edited = appointment_event("updated", updated=T0 + timedelta(minutes=3), starts=T0 + timedelta(days=9))
    assert send(actions, request(edited, follow=True, before=False)) == "unchanged"
    archived = appointment_event(
        "archived", updated=T0 + timedelta(minutes=4), starts=T0, archived_at=_z(T0 + timedelta(minutes=4))
    )
    assert send(actions, request(archived, follow=True, before=False)) == "dropped"
    assert scheduler.list() == []


def test_a_failed_scheduler_call_is_applied_by_the_retry_of_the_same_event(world: Any) -> None:
    actions, scheduler, ledger, _, _ = world
    created = appointment_event("created", updated=T0, starts=T0 + timedelta(days=3))
    real_put = scheduler.put

    def failing(schedule: Any) -> None:
        raise RuntimeError("ThrottlingException")

    scheduler.put = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        send(actions, request(created))
    assert ledger.get(NAME) is not None and scheduler.list() == []
    scheduler.put = real_put  # type: ignore[method-assign]
    assert send(actions, request(created)) == "unchanged"  # decided already; the retry applies it
    assert [s.name for s in scheduler.list()] == [NAME]


def test_a_trigger_event_from_another_source_is_refused(world: Any) -> None:
    actions, scheduler, *_ = world
    forged = appointment_event("created", updated=T0, starts=T0 + timedelta(days=3))
    forged["source"] = "someone.else"
    with pytest.raises(UntrustedSource):
        actions.parse(request(forged))
    assert scheduler.calls == []


@pytest.mark.parametrize(
    "change",
    [
        {"automation": "Not A Name"},
        {"target": 9},
        {"at": {"before": "starts_at", "offset_seconds": 1}},
        {"at": {"after_seconds": -5}},
        {"deliver": {"kind": "bus"}},
        {"extra": True},
    ],
)
def test_a_malformed_request_is_refused_with_field_errors_and_schedules_nothing(world: Any, change: Any) -> None:
    actions, scheduler, *_ = world
    payload = {**request(appointment_event("created", updated=T0, starts=T0 + timedelta(days=3))), **change}
    with pytest.raises(InputValidationError) as refused:
        actions.parse(payload)
    assert refused.value.args and scheduler.calls == []


def test_schedule_names_carry_no_record_id_and_fit_scheduler_limits() -> None:
    name = schedule_name("a" * 48, 5, "demo", "individual_appointments", "1000000000000000601")
    assert len(name) <= 64 and "1000000000000000601" not in name
    assert name != schedule_name("a" * 48, 5, "demo", "individual_appointments", "1000000000000000602")


def test_a_later_event_without_the_time_leaves_the_pending_reminder_alone(world: Any) -> None:
    actions, scheduler, *_ = world
    assert (
        send(actions, request(appointment_event("created", updated=T0, starts=T0 + timedelta(days=3)))) == "scheduled"
    )
    minimal = request(appointment_event("updated", updated=T0 + timedelta(minutes=1), starts=T0), follow=True)
    minimal["event"]["detail"].update(payload_mode="minimal", data=None)
    assert send(actions, minimal) == "unchanged"
    assert [s.due_at for s in scheduler.list()] == [T0 + timedelta(days=2)]


def test_a_trigger_without_the_time_is_dropped_as_no_time(world: Any) -> None:
    actions, scheduler, _, publisher, _ = world
    minimal = request(appointment_event("created", updated=T0, starts=T0))
    minimal["event"]["detail"].update(payload_mode="minimal", data=None)
    assert send(actions, minimal) == "dropped"
    assert scheduler.list() == [] and publisher.events[-1].detail["reason"] == "no_time"
