"""Scheduled actions: an automation target that waits (`at: {before: …, offset: 24h}` or `at: {after: 2h}`).

The automation's rule sends each trigger event to the scheduling function as a `ScheduleRequest`; the record's
later events (its other triggers) come as `follow` requests. For each (automation, target, record) there is at
most one one-time schedule, named deterministically (`schedule_name`), so a replayed or duplicated event finds
the schedule it made instead of making a second one.

What the function wants is written first to a ledger row, conditionally on the record's `updated_at`
(`version`): an event older than (or as old as) what the row was decided from changes nothing, so events that
arrive twice or out of order can neither move a schedule back nor bring a dropped one back. The scheduler is then
made to match the row (`converge`), and the row is read again: if a newer event won meanwhile, its state is applied
too. A retry after a failure therefore applies the row again instead of deciding again.

- A trigger request schedules the action at its time, or drops it when the record is cancelled, archived or
  deleted, or the time has already passed (`Scheduled Action Dropped`, reason `past`: a reminder whose time has
  passed is never sent).
- A follow request moves a pending schedule to the record's new time (`Scheduled Action Moved`) or drops it
  (`Scheduled Action Dropped`). It never creates one: with nothing pending it is kept (`parked`, or a tombstone
  when it drops) so that its trigger event, arriving late, starts from the newest state of the record.
- `after` waits count from the trigger's change; later changes don't move them, only drop them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from cliniko_connector.catalog.triggers import TRIGGERS, BecameSet, Removed, Trigger
from cliniko_connector.errors import InputValidationError, UntrustedSource
from cliniko_connector.eventmodels import (
    SCHEDULED_ACTION_DROPPED,
    SCHEDULED_ACTION_MOVED,
    ScheduledActionDroppedDetail,
    ScheduledActionDueDetail,
    ScheduledActionMovedDetail,
    ScheduleRequest,
    TriggerEventDetail,
    field_errors,
)
from cliniko_connector.models import BusEvent
from cliniko_connector.ports import EventPublisher, OneTimeSchedule, ScheduleLedger, Scheduler, ScheduleRow
from cliniko_connector.timeutil import parse_ts, to_z

# Rows outlive their schedule by this long, so a replay within it can't bring a dropped schedule back.
LEDGER_RETENTION = timedelta(days=90)
CONVERGE_ROUNDS = 3
Outcome = Literal["scheduled", "moved", "dropped", "parked", "unchanged"]


def schedule_name(automation: str, target: int, connection_id: str, resource: str, record_id: str) -> str:
    """`<automation>.<target>.<digest>` (≤ 64, Scheduler's alphabet): one name per (automation, target, record).
    The record's id goes in only as a digest."""
    digest = hashlib.sha256(f"{connection_id}\0{resource}\0{record_id}".encode()).hexdigest()[:12]
    return f"{automation}.{target}.{digest}"


def schedule_prefix(automation: str) -> str:
    return f"{automation}."


utc_text = to_z


def parse_time(value: Any) -> datetime | None:
    """A timestamp of the event, or None where there is none (null, missing, not a time, no time zone)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_ts(value)
    except ValueError:
        return None


def version_of(moment: datetime) -> str:
    """Fixed-width UTC text, so comparing versions as text compares them as times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lookup(event: Any, path: str) -> Any:
    """The value at `$.a.b[0].c` in `event`, or None."""
    node = event
    for part in path.removeprefix("$.").replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("[") and part.endswith("]"):
            index = part[1:-1]
            if not index.isdigit() or not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def gone_reason(trigger: Trigger, detail: TriggerEventDetail) -> str | None:
    """Why the record can no longer have a pending action: its state in the event, else the trigger's own."""
    data = detail.data or {}
    for field, reason in (("deleted_at", "deleted"), ("cancelled_at", "cancelled"), ("archived_at", "archived")):
        if data.get(field):
            return reason
    transition = trigger.transition
    if isinstance(transition, Removed):
        return "removed"
    if isinstance(transition, BecameSet) and transition.field in ("cancelled_at", "archived_at", "deleted_at"):
        return transition.field.removesuffix("_at")
    return None


@dataclass(frozen=True)
class Handled:
    """What one request did (what the function returns and logs: no patient data)."""

    schedule: str
    outcome: Outcome
    due_at: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ScheduleActions:
    scheduler: Scheduler
    ledger: ScheduleLedger
    publisher: EventPublisher
    event_source: str
    accepted_sources: Collection[str]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def parse(self, payload: Any) -> ScheduleRequest:
        """The request, checked: malformed → `InputValidationError`; a trigger event from a source this stack
        doesn't publish trigger events under → `UntrustedSource`."""
        try:
            request = ScheduleRequest.model_validate(payload)
        except ValidationError as exc:
            raise InputValidationError("the schedule request is malformed", field_errors(exc)) from None
        if request.event.get("source") not in self.accepted_sources:
            raise UntrustedSource("the trigger event's source is not one this stack publishes trigger events under")
        return request

    def handle(self, request: ScheduleRequest) -> Handled:
        now = self.clock()
        try:
            detail = TriggerEventDetail.model_validate(request.event.get("detail"))
        except ValidationError as exc:
            raise InputValidationError("the trigger event is malformed", field_errors(exc)) from None
        trigger = TRIGGERS.get(detail.trigger)
        if trigger is None or trigger.resource != detail.resource:
            raise InputValidationError("the trigger event names no trigger of the catalog", {"detail.trigger": "?"})
        stamp = parse_time((detail.data or {}).get("updated_at")) or parse_time(detail.occurred_at)
        if stamp is None:
            raise InputValidationError("the trigger event has no time", {"detail.occurred_at": "not a timestamp"})
        name = schedule_name(request.automation, request.target, detail.connection_id, detail.resource, detail.id)
        version = version_of(stamp)
        row = self.ledger.get(name)
        decided = self._decide(request, trigger, detail, name, version, row, now)
        if decided is None:
            self.converge(name)
            return Handled(name, "unchanged")
        new, handled = decided
        self.ledger.put_if_newer(new)  # lost to a newer event: converge applies that one
        self.converge(name)
        return handled

    # -- deciding --

    def _due(self, request: ScheduleRequest, detail: TriggerEventDetail) -> datetime | None:
        wait = request.at
        if wait.before is not None:
            moment = parse_time(lookup(request.event, wait.before))
            return None if moment is None else moment - timedelta(seconds=wait.offset_seconds)
        occurred = parse_time(detail.occurred_at)
        return None if occurred is None else occurred + timedelta(seconds=wait.after_seconds)

    def _decide(
        self,
        request: ScheduleRequest,
        trigger: Trigger,
        detail: TriggerEventDetail,
        name: str,
        version: str,
        row: ScheduleRow | None,
        now: datetime,
    ) -> tuple[ScheduleRow, Handled] | None:
        gone = gone_reason(trigger, detail)
        waits_after = request.at.before is None
        if request.follow and waits_after and gone is None:
            return None  # `after` waits count from their trigger: later changes only drop them
        due = None if gone else self._due(request, detail)
        if request.follow and gone is None and due is None:
            return None  # a later event without the time (minimal or truncated data) says nothing about it
        reason = gone or ("no_time" if due is None else "past" if due <= now else None)

        def dropped(previous: ScheduleRow | None, *, announce: bool) -> tuple[ScheduleRow, Handled]:
            previous_due = previous.due_at if previous is not None and previous.state == "pending" else None
            change = None
            if announce:
                change = [
                    SCHEDULED_ACTION_DROPPED,
                    ScheduledActionDroppedDetail(
                        **self._change(request, detail, name, version, previous_due), reason=reason or "past"
                    ).model_dump(mode="json"),
                ]
            kept = ScheduleRow(
                name=name,
                state="dropped",
                version=version,
                due_at=previous_due,
                announce=change,
                expires_at=self._expiry(now, previous_due),
            )
            return kept, Handled(name, "dropped", reason=reason)

        if row is not None and row.version >= version:
            if request.follow or row.state != "parked":
                return None  # a duplicate, or older than what the row was decided from
            # The trigger arrived after a later change of its record: start from that change.
            if row.due_at is None or row.due_at <= now:
                reason = "past" if row.due_at is not None else "no_time"
                return dropped(None, announce=True)
            promoted = row.model_copy(update={"state": "pending", "announce": None})
            return promoted, Handled(name, "scheduled", due_at=utc_text(row.due_at))
        pending = row is not None and row.state == "pending"
        if request.follow and not pending:
            if reason is not None:
                return dropped(None, announce=False)  # nothing pending: remember only that it is gone
            parked = ScheduleRow(
                name=name,
                state="parked",
                version=version,
                due_at=due,
                detail=self._detail(request, detail, name, due),
                expires_at=self._expiry(now, due),
            )
            return parked, Handled(name, "parked")
        if pending and row is not None and row.due_at is not None and row.due_at <= now:
            return None  # it has run: a later change doesn't send it again
        if reason is not None:
            return dropped(row if pending else None, announce=True)
        assert due is not None
        announce = None
        if pending and row is not None and row.due_at != due:
            announce = [
                SCHEDULED_ACTION_MOVED,
                ScheduledActionMovedDetail(
                    **self._change(request, detail, name, version, row.due_at), due_at=utc_text(due)
                ).model_dump(mode="json"),
            ]
        new = ScheduleRow(
            name=name,
            state="pending",
            version=version,
            due_at=due,
            detail=self._detail(request, detail, name, due),
            announce=announce,
            expires_at=self._expiry(now, due),
        )
        return new, Handled(name, "moved" if announce else "scheduled", due_at=utc_text(due))

    def _change(
        self, request: ScheduleRequest, detail: TriggerEventDetail, name: str, version: str, previous: datetime | None
    ) -> dict[str, Any]:
        return {
            "automation": request.automation,
            "target": request.target,
            "schedule": name,
            "connection_id": detail.connection_id,
            "resource": detail.resource,
            "record_id": detail.id,
            "trigger": detail.trigger,
            "event_key": detail.event_key,
            "record_updated_at": version,
            "previous_due_at": utc_text(previous) if previous is not None else None,
        }

    def _detail(
        self, request: ScheduleRequest, detail: TriggerEventDetail, name: str, due: datetime | None
    ) -> str | None:
        if due is None:
            return None
        due_detail = ScheduledActionDueDetail(
            automation=request.automation,
            target=request.target,
            schedule=name,
            connection_id=detail.connection_id,
            resource=detail.resource,
            record_id=detail.id,
            due_at=utc_text(due),
            kind=request.deliver.kind,
            request=request.deliver.request,
            message=request.deliver.message,
        )
        return json.dumps(due_detail.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)

    @staticmethod
    def _expiry(now: datetime, due: datetime | None) -> int:
        return int((max(now, due or now) + LEDGER_RETENTION).timestamp())

    # -- applying --

    def converge(self, name: str) -> None:
        """Make the scheduler hold what the ledger row says, publish the row's pending event, and do it again
        for a row a newer event rewrote meanwhile."""
        for _ in range(CONVERGE_ROUNDS):
            row = self.ledger.get(name)
            if row is None:
                return
            now = self.clock()
            if row.state == "pending" and row.due_at is not None and row.detail is not None:
                if row.due_at > now:
                    wanted = OneTimeSchedule(
                        name=name,
                        due_at=row.due_at,
                        detail=row.detail,
                        description=f"cliniko-connector scheduled action {name} (record version {row.version})",
                    )
                    if self.scheduler.get(name) != wanted:
                        self.scheduler.put(wanted)
            else:
                self.scheduler.delete(name)
            if row.announce:
                detail_type, body = row.announce
                self.publisher.publish([BusEvent(source=self.event_source, detail_type=detail_type, detail=body)])
                self.ledger.clear_announce(name, row.version)
            again = self.ledger.get(name)
            if again is None or again.version == row.version:
                return

    def pending(self, automation: str | None = None) -> list[OneTimeSchedule]:
        """The schedules waiting to run (of one automation, or all), soonest first."""
        found = self.scheduler.list(schedule_prefix(automation) if automation else "")
        return sorted(found, key=lambda s: s.due_at)
