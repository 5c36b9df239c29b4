"""Scheduled actions on the local stack (moto server + the Cliniko simulator), through the CLI and the runner:
the reminder recipe follows an appointment through a reschedule and a cancellation, with its trigger event
replayed along the way, and sends nothing; the same recipe on an appointment that stays sends one SMS when due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.cli.conftest import CONNECTION, ROOT, Stack

pytestmark = pytest.mark.e2e

REMINDER = ROOT / "automations" / "recipes" / "appointment-reminder.yaml"
TRIGGERS = (
    "individual_appointment.created",
    "individual_appointment.updated",
    "individual_appointment.rescheduled",
    "individual_appointment.cancelled",
    "individual_appointment.archived",
)


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def clinic(stack: Stack) -> dict[str, str]:
    sim = stack.sim
    business = sim.create("businesses", {"business_name": "Northside Physio", "country_code": "AU"})
    user = sim.store.create("users", {"first_name": "Pat", "last_name": "Prac", "email": "pat@example.com"}, staff=True)
    practitioner = sim.create(
        "practitioners",
        {"first_name": "Pat", "last_name": "Prac", "user_id": user["id"], "business_ids": [int(business["id"])]},
    )
    return {
        "business_id": business["id"],
        "practitioner_id": practitioner["id"],
        "appointment_type_id": sim.create("appointment_types", {"name": "Consult"})["id"],
        "patient_id": sim.create("patients", {"first_name": "Ada", "last_name": "Lovelace"})["id"],
    }


def book(stack: Stack, ids: dict[str, str], starts: datetime) -> str:
    record = stack.sim.create("individual_appointments", {**ids, "starts_at": _z(starts)})
    return str(record["id"])


def pending(stack: Stack) -> list[dict[str, Any]]:
    listed = stack.cli("automations", "list", "--json")
    assert listed.code == 0, listed.err
    (row,) = [r for r in listed.json if r["name"] == "appointment-reminder"]
    schedules = stack.client("scheduler").list_schedules(GroupName=stack.state.schedule_groups["ScheduleGroup"])
    assert row["pending"] == len(schedules["Schedules"])
    return [
        stack.client("scheduler").get_schedule(Name=s["Name"], GroupName=stack.state.schedule_groups["ScheduleGroup"])
        for s in schedules["Schedules"]
    ]


def archived(stack: Stack, detail_type: str) -> list[dict[str, Any]]:
    stack.runner.drain_archive()
    path = stack.root / ".local" / "archive.jsonl"
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [e for e in events if e.get("detail-type") == detail_type]


def start(stack: Stack) -> dict[str, str]:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, *TRIGGERS).code == 0
    deployed = stack.cli("automations", "deploy", str(REMINDER))
    assert deployed.code == 0, deployed.err
    assert "+ appointment-reminder" in deployed.out
    return clinic(stack)


def test_the_reminder_recipe_follows_an_appointment_through_a_reschedule_and_a_cancellation(stack: Stack) -> None:
    ids = start(stack)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first, second = now + timedelta(days=3), now + timedelta(days=4)
    appointment = book(stack, ids, first)
    stack.runner.run_once()
    [schedule] = pending(stack)
    assert schedule["ScheduleExpression"] == f"at({_z(first - timedelta(days=1))[:-1]})"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    (report,) = stack.cli("status", "--json").json
    assert report["scheduled_actions"] == [
        {"automation": "appointment-reminder", "target": 1, "due_at": _z(first - timedelta(days=1))}
    ]

    stack.sim.update(
        "individual_appointments", appointment, {"starts_at": _z(second), "ends_at": _z(second + timedelta(hours=1))}
    )
    stack.runner.run_once()  # Rescheduled and Updated: one change, one move
    [schedule] = pending(stack)
    assert schedule["ScheduleExpression"] == f"at({_z(second - timedelta(days=1))[:-1]})"
    [moved] = archived(stack, "Scheduled Action Moved")
    assert moved["detail"]["due_at"] == _z(second - timedelta(days=1))

    [created] = archived(stack, "Individual Appointment Created")
    stack.put_event("Individual Appointment Created", created["detail"])  # the trigger, replayed
    stack.run()
    [schedule] = pending(stack)  # still one, still at the new time
    assert schedule["ScheduleExpression"] == f"at({_z(second - timedelta(days=1))[:-1]})"

    stack.sim.cancel("individual_appointments", appointment)
    stack.runner.run_once()
    assert pending(stack) == []
    (report,) = stack.cli("status", "--json").json
    assert report["scheduled_actions"] == []
    [dropped] = archived(stack, "Scheduled Action Dropped")
    assert dropped["detail"]["reason"] == "cancelled"

    stack.put_event("Individual Appointment Created", created["detail"])  # replayed after the cancellation
    stack.run()
    assert pending(stack) == []
    fired = stack.runner.fire_due_schedules(now + timedelta(days=5))
    stack.run()
    assert fired.put == []
    delivery = stack.runner.automations()
    assert delivery is not None and not [d for d in delivery.delivered if d.kind == "sms"]  # no reminder sent


def test_a_reminder_goes_out_once_when_its_time_comes_and_not_before(stack: Stack) -> None:
    ids = start(stack)
    sns, sqs = stack.client("sns"), stack.client("sqs")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    starts = now + timedelta(days=2)
    book(stack, ids, starts)
    stack.runner.run_once()
    [schedule] = pending(stack)
    topic = sns.create_topic(Name="appointment-reminders")["TopicArn"]  # the recipe's topic, made at deploy
    inbox = sqs.create_queue(QueueName="reminders-seen")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})

    assert stack.runner.fire_due_schedules(now + timedelta(hours=1)).put == []  # not yet
    due = starts - timedelta(days=1)
    fired = stack.runner.fire_due_schedules(due + timedelta(seconds=30))
    assert fired.put == [schedule["Name"]]
    stack.run()
    messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    [text] = [m["Body"] for m in messages]
    assert text.startswith("Reminder: Ada Lovelace, your appointment is tomorrow at " + _z(starts))
    assert pending(stack) == []  # deleted after it ran
    assert stack.runner.fire_due_schedules(due + timedelta(minutes=5)).put == []  # once


def test_the_scheduling_function_refuses_a_forged_or_malformed_request_and_schedules_nothing(stack: Stack) -> None:
    start(stack)
    sample = json.loads((ROOT / "events" / "triggers" / "individual_appointment.created.json").read_text())
    sample["detail"]["data"]["starts_at"] = _z(datetime.now(UTC) + timedelta(days=3))
    request = {
        "automation": "appointment-reminder",
        "target": 1,
        "at": {"before": "$.detail.data.starts_at", "offset_seconds": 86400},
        "deliver": {"kind": "sms", "message": "hi"},
        "event": {**sample, "source": "someone.else"},
    }
    refused = stack.runner.invoke("ScheduleActionsFunction", request)
    assert refused == {"refused": "UntrustedSource", "fields": []}
    malformed = stack.runner.invoke("ScheduleActionsFunction", {**request, "event": sample, "target": 99})
    assert malformed["refused"] == "InputValidationError" and malformed["fields"] == ["target"]
    assert "Alex Example" not in json.dumps(malformed)  # field names only, never the values
    assert pending(stack) == []


def test_the_local_time_reminder_names_the_practitioner_and_says_the_business_time(stack: Stack, tmp_path: Any) -> None:
    """Due → the action function reads the details with the clinic's key → its success → one SMS, in Sydney time."""
    recipes = ROOT / "automations" / "recipes"
    folder = tmp_path / "automations"
    folder.mkdir()
    for name in ("appointment-reminder-details.yaml", "appointment-reminder-sms.yaml"):
        (folder / name).write_text((recipes / name).read_text(encoding="utf-8"), encoding="utf-8")
    stack.connect("appointment.reminder_details")
    assert stack.cli("triggers", "enable", CONNECTION, *TRIGGERS).code == 0
    deployed = stack.cli("automations", "deploy", str(folder))
    assert deployed.code == 0, deployed.err
    ids = clinic(stack)
    stack.sim.update("businesses", ids["business_id"], {"time_zone_identifier": "Australia/Sydney"})
    sns, sqs = stack.client("sns"), stack.client("sqs")
    topic = sns.create_topic(Name="appointment-reminders")["TopicArn"]
    inbox = sqs.create_queue(QueueName="local-reminders-seen")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    starts = now + timedelta(days=2)
    book(stack, ids, starts)
    stack.runner.run_once()
    fired = stack.runner.fire_due_schedules(starts - timedelta(days=1) + timedelta(seconds=30))
    assert len(fired.put) == 1
    stack.run()
    messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    [text] = [m["Body"] for m in messages]
    from zoneinfo import ZoneInfo

    local = starts.astimezone(ZoneInfo("Australia/Sydney"))
    assert text.startswith("Reminder: Ada Lovelace, your appointment with Pat Prac at Northside Physio is on ")
    assert f"at {local:%H:%M} ({local.tzname()})" in text and _z(starts) not in text
