"""EventBridge Scheduler and the ledger rows on moto in-process, with the same expectations as their fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from cliniko_connector.adapters.memory import InMemoryScheduleLedger, InMemoryScheduler
from cliniko_connector.adapters.scheduler import DynamoScheduleLedger, EventBridgeScheduler
from cliniko_connector.ports import OneTimeSchedule, ScheduleRow
from tests.unit.adapters.adapter_support import REGION, STATE_TABLE, ClientProxy, create_state_table

GROUP = "cliniko-connector-actions"
DUE = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["moto", "memory"])
def scheduler(request: pytest.FixtureRequest, aws: None) -> Any:
    if request.param == "memory":
        return InMemoryScheduler()
    client = boto3.client("scheduler", region_name=REGION)
    client.create_schedule_group(Name=GROUP)
    return EventBridgeScheduler(
        client,
        group=GROUP,
        bus_arn=f"arn:aws:events:{REGION}:123456789012:event-bus/bus",
        role_arn="arn:aws:iam::123456789012:role/scheduler",
        dead_letter_arn=f"arn:aws:sqs:{REGION}:123456789012:dlq",
        source="cliniko",
    )


@pytest.fixture(params=["moto", "memory"])
def ledger(request: pytest.FixtureRequest, ddb: ClientProxy) -> Any:
    if request.param == "memory":
        return InMemoryScheduleLedger()
    create_state_table(ddb)
    return DynamoScheduleLedger(ddb, STATE_TABLE)


def test_a_schedule_is_created_moved_listed_and_deleted_once(scheduler: Any) -> None:
    first = OneTimeSchedule(name="reminder.1.abc", due_at=DUE, detail='{"a":1}', description="d")
    assert scheduler.get(first.name) is None
    scheduler.put(first)
    assert scheduler.get(first.name) == first
    moved = first.model_copy(update={"due_at": DUE + timedelta(days=1), "detail": '{"a":2}'})
    scheduler.put(moved)
    assert scheduler.list("reminder.") == [moved] and scheduler.list("other.") == []
    scheduler.delete(first.name)
    scheduler.delete(first.name)  # already gone: fine
    assert scheduler.list() == []


def test_moto_keeps_the_at_expression_the_group_and_deletion_after_completion(aws: None) -> None:
    client = boto3.client("scheduler", region_name=REGION)
    client.create_schedule_group(Name=GROUP)
    adapter = EventBridgeScheduler(
        client, group=GROUP, bus_arn="arn:bus", role_arn="arn:role", dead_letter_arn="arn:dlq", source="cliniko"
    )
    adapter.put(OneTimeSchedule(name="r.1.x", due_at=DUE, detail="{}"))
    stored = client.get_schedule(Name="r.1.x", GroupName=GROUP)
    assert stored["ScheduleExpression"] == "at(2030-01-02T03:04:05)"
    assert stored["ActionAfterCompletion"] == "DELETE"
    assert stored["Target"]["EventBridgeParameters"] == {"DetailType": "Scheduled Action Due", "Source": "cliniko"}
    assert stored["Target"]["DeadLetterConfig"] == {"Arn": "arn:dlq"}


def _row(version: str, state: str = "pending") -> ScheduleRow:
    return ScheduleRow(name="r.1.x", state=state, version=version, due_at=DUE, expires_at=2_000_000_000)  # type: ignore[arg-type]


def test_ledger_rows_are_written_only_by_a_newer_version(ledger: Any) -> None:
    assert ledger.put_if_newer(_row("2026-01-01T00:00:01.000000Z"))
    assert not ledger.put_if_newer(_row("2026-01-01T00:00:01.000000Z"))  # the same version again
    assert not ledger.put_if_newer(_row("2026-01-01T00:00:00.000000Z", "dropped"))  # an older one
    assert ledger.put_if_newer(_row("2026-01-01T00:00:02.000000Z", "parked"))
    assert ledger.put_if_newer(_row("2026-01-01T00:00:02.000000Z"))  # a parked row is promoted by its trigger
    assert ledger.get("r.1.x").state == "pending"


def test_clearing_an_announcement_needs_the_row_to_be_at_its_version(ledger: Any) -> None:
    ledger.put_if_newer(_row("2026-01-01T00:00:01.000000Z").model_copy(update={"announce": ["x", {}]}))
    ledger.clear_announce("r.1.x", "2026-01-01T00:00:00.000000Z")
    assert ledger.get("r.1.x").announce == ["x", {}]
    ledger.clear_announce("r.1.x", "2026-01-01T00:00:01.000000Z")
    assert ledger.get("r.1.x").announce is None
