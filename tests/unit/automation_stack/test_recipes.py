"""The recipes in automations/recipes/: each compiles, matches its trigger's sample event (the allergy recipe:
an intake note that mentions one, and not the sample, whose notes don't), and gives every target a valid input.
`automations validate` and `automations test` run on them too, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.eventmodels import ActionRequest, ScheduleRequest
from cliniko_connector.patterns import matches
from cliniko_tools.automation_stack.eventbridge import render
from cliniko_tools.automation_stack.spec import AutomationSpec, from_folder

ROOT = Path(__file__).resolve().parents[3]
RECIPES = ROOT / "automations" / "recipes"
ALLERGY_EVENT = RECIPES / "events" / "new-patient-with-allergy.json"
SPEC, PROBLEMS = from_folder(RECIPES, source="cliniko")
BY_NAME = {a.name: a for a in SPEC.automations if a.part_of is None}
PARTS = {a.name: a for a in SPEC.automations if a.part_of is not None}
EXPECTED = {
    "new-patient-welcome": "patient.created",
    "no-show-follow-up": "individual_appointment.did_not_arrive",
    "cancellation-waitlist": "individual_appointment.cancelled",
    "invoice-paid-thank-you": "invoice.paid",
    "allergy-medical-alert": "patient.created",
    "online-booking-slack": "individual_appointment.created",
    "appointment-reminder": "individual_appointment.created",
    "appointment-reminder-details": "individual_appointment.created",
    "appointment-reminder-sms": "appointment.reminder_details.succeeded",
    "arrival-follow-up": "individual_appointment.arrived",
}
WAITING = {"appointment-reminder", "appointment-reminder-details", "arrival-follow-up"}
BEFORE_START = {"appointment-reminder", "appointment-reminder-details"}  # 24 h before the appointment


def sample(trigger: str) -> dict[str, Any]:
    if trigger not in TRIGGERS:  # an action's outcome (`<action>.succeeded`)
        from cliniko_tools.automations.validate import sample_event

        return sample_event(trigger)
    event: dict[str, Any] = json.loads((ROOT / "events" / "triggers" / f"{trigger}.json").read_text(encoding="utf-8"))
    return event


def test_the_recipes_load_without_a_problem() -> None:
    assert PROBLEMS == []
    assert {name: a.trigger for name, a in BY_NAME.items()} == EXPECTED
    assert all(t in TRIGGERS or t.removesuffix(".succeeded") in ACTIONS for t in EXPECTED.values())


def check_targets(automation: AutomationSpec, event: dict[str, Any]) -> None:
    for target in automation.targets:
        text = render(target.transformer, event)
        if target.kind == "action":
            request = ActionRequest.model_validate(json.loads(text))
            ACTIONS[target.ref].input_model.model_validate(request.input)
            assert request.connection_id == event["detail"]["connection_id"]
        elif target.kind == "webhook":
            assert isinstance(json.loads(text), dict)
        elif target.kind in ("email", "sms"):
            assert text.strip() and "<" not in text, text
        elif target.kind == "schedule":
            request = ScheduleRequest.model_validate(json.loads(text))
            assert request.event == event


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"allergy-medical-alert"}))
def test_a_recipe_matches_its_triggers_sample_and_every_target_gets_a_valid_input(name: str) -> None:
    automation = BY_NAME[name]
    event = sample(automation.trigger)
    assert matches(automation.pattern, event)
    check_targets(automation, event)


def test_the_allergy_recipe_matches_an_intake_note_that_mentions_one_and_not_the_sample() -> None:
    automation = BY_NAME["allergy-medical-alert"]
    assert not matches(automation.pattern, sample("patient.created"))
    event = json.loads(ALLERGY_EVENT.read_text(encoding="utf-8"))
    assert matches(automation.pattern, event)
    check_targets(automation, event)
    for spelling in ("Anaphylaxis to bee stings", "ALLERGY: latex"):
        event["detail"]["data"]["notes"] = spelling
        assert matches(automation.pattern, event), spelling


def test_the_online_booking_recipe_leaves_appointments_booked_by_staff_alone() -> None:
    event = sample("individual_appointment.created")
    event["detail"]["data"]["booking_ip_address"] = None
    assert not matches(BY_NAME["online-booking-slack"].pattern, event)


def test_the_recipes_pass_automations_validate_and_test_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from cliniko_tools.cli.main import main

    def cli(*args: str) -> int:
        try:
            return main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0)

    assert cli("automations", "validate", str(RECIPES), "--offline") == 0, capsys.readouterr()
    for name in sorted(set(EXPECTED) - {"allergy-medical-alert"}):
        assert cli("automations", "test", name, "--path", str(RECIPES), "--sample") == 0, capsys.readouterr()
    allergy = ("automations", "test", "allergy-medical-alert", "--path", str(RECIPES))
    assert cli(*allergy, "--event", str(ALLERGY_EVENT)) == 0, capsys.readouterr()
    assert cli(*allergy, "--sample") != 0  # the sample's notes mention no allergy: the rule doesn't match


@pytest.mark.parametrize("name", sorted(WAITING))
def test_a_waiting_recipe_schedules_from_its_trigger_and_its_due_rule_gives_the_target_a_valid_input(
    name: str,
) -> None:
    from datetime import UTC, datetime, timedelta

    from cliniko_connector.adapters.memory import InMemoryScheduleLedger, InMemoryScheduler, RecordingPublisher
    from cliniko_connector.eventmodels import SCHEDULED_ACTION_DUE
    from cliniko_connector.usecases.schedules import ScheduleActions

    automation = BY_NAME[name]
    event = sample(automation.trigger)
    starts = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
    event["detail"]["data"]["starts_at"] = starts.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"]["occurred_at"] = event["detail"]["data"]["updated_at"] = "2030-05-01T09:00:00Z"
    [target] = automation.targets
    assert target.kind == "schedule"
    scheduler = InMemoryScheduler()
    now = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    actions = ScheduleActions(
        scheduler, InMemoryScheduleLedger(), RecordingPublisher(), "cliniko", {"cliniko"}, lambda: now
    )
    actions.handle(actions.parse(json.loads(render(target.transformer, event))))
    [schedule] = scheduler.list()
    expected_due = starts - timedelta(hours=24) if name in BEFORE_START else now + timedelta(hours=2)
    assert schedule.due_at == expected_due
    due_event = {**event, "detail-type": SCHEDULED_ACTION_DUE, "detail": json.loads(schedule.detail)}
    part = PARTS[f"{name}.due-1"]
    assert matches(part.pattern, due_event)
    assert not matches(PARTS[f"{name}.follow"].pattern, due_event)
    check_targets(part, due_event)  # the same checks as for a target that runs at once
    delivered = render(part.targets[0].transformer, due_event)
    if name == "appointment-reminder":
        assert "2030-05-06T09:00:00Z" in delivered and "<" not in delivered
    elif name == "appointment-reminder-details":
        request = ActionRequest.model_validate(json.loads(delivered))
        details = ACTIONS["appointment.reminder_details"].input_model.model_validate(request.input)
        assert details.model_dump() == {"id": str(event["detail"]["id"]), "time_zone": "Australia/Sydney"}
    else:
        request = ActionRequest.model_validate(json.loads(delivered))
        ACTIONS["communication.create"].input_model.model_validate(request.input)


def test_a_waiting_recipe_follows_its_records_reschedules_and_cancellations() -> None:
    follow = PARTS["appointment-reminder.follow"]
    for trigger in ("rescheduled", "cancelled", "archived", "updated"):
        assert matches(follow.pattern, sample(f"individual_appointment.{trigger}")), trigger
    assert not matches(follow.pattern, sample("individual_appointment.created"))  # the automation's own trigger


def test_the_local_time_reminder_chains_the_details_action_outcome_into_one_sms() -> None:
    """Due → `appointment.reminder_details` (the action function, with the connection's key) → its
    `Cliniko Action Succeeded` → the SMS rule: the text names the practitioner and says the local time."""
    from tests.unit.actions.support import ScriptedCliniko, make_runner

    api = "https://api.au1.cliniko.com/v1"
    appointment = {
        "id": "600",
        "starts_at": "2026-04-04T23:00:00Z",  # 9 am in Sydney, the day daylight time ends there
        "patient_name": "Jane Citizen",
        "practitioner": {"links": {"self": f"{api}/practitioners/300"}},
        "business": {"links": {"self": f"{api}/businesses/400"}},
        "cancelled_at": None,
    }
    cliniko = ScriptedCliniko(
        answers={
            ("GET", "/individual_appointments/600"): appointment,
            ("GET", "/practitioners/300"): {"id": "300", "display_name": "Dr Jordan Lee"},
            ("GET", "/businesses/400"): {
                "id": "400",
                "business_name": "Harbourside",
                "time_zone_identifier": "Australia/Sydney",
            },
        }
    )
    details = BY_NAME["appointment-reminder-details"]
    request = ActionRequest.model_validate(
        json.loads(render(PARTS["appointment-reminder-details.due-1"].targets[0].transformer, due_event(details)))
    )
    runner, publisher = make_runner(ACTIONS["appointment.reminder_details"], cliniko)
    runner.run(request.model_copy(update={"connection_id": "clinic", "input": {**request.input, "id": "600"}}))
    [published] = publisher.events
    outcome = {"detail-type": published.detail_type, "source": published.source, "detail": published.detail}
    sms = BY_NAME["appointment-reminder-sms"]
    assert matches(sms.pattern, outcome)
    text = render(sms.targets[0].transformer, outcome)
    assert "Dr Jordan Lee" in text and "Sunday 5 April 2026 at 09:00 (AEST)" in text and "<" not in text

    cancelled = json.loads(json.dumps(outcome))
    cancelled["detail"]["result"]["cancelled"] = True
    assert not matches(sms.pattern, cancelled)
    other = json.loads(json.dumps(outcome))
    other["detail"]["idempotency_key"] = "appointment.reminder_details#someone-else/1:x"
    assert not matches(sms.pattern, other)  # only the details this folder's reminder asked for
    forged = {**outcome, "source": "someone.else"}
    assert not matches(sms.pattern, forged)  # an outcome under another source sends no SMS

    # The clinic has not allowed the action: Cliniko is not called and nothing matches the SMS rule.
    from cliniko_connector.adapters.memory import InMemoryConnectionStore, RecordingPublisher
    from cliniko_connector.models import Connection
    from cliniko_connector.usecases.actions import ActionRunner

    refused = ScriptedCliniko(answers=dict(cliniko.answers))
    publisher = RecordingPublisher()
    runner = ActionRunner(
        action=ACTIONS["appointment.reminder_details"],
        connections=InMemoryConnectionStore([Connection(id="clinic", name="C", secret_id="s", shard="au1")]),
        api_for=lambda _: refused,
        publisher=publisher,
        event_source="cliniko",
    )
    runner.run(request.model_copy(update={"connection_id": "clinic", "input": {**request.input, "id": "600"}}))
    assert refused.calls == [] and [e.detail_type for e in publisher.events] == ["Cliniko Action Failed"]
    failed = publisher.events[0]
    assert not matches(
        sms.pattern, {"detail-type": failed.detail_type, "source": failed.source, "detail": failed.detail}
    )


def due_event(automation: AutomationSpec) -> dict[str, Any]:
    """The `Scheduled Action Due` the scheduler would put for the recipe's sample trigger event."""
    from datetime import UTC, datetime

    from cliniko_connector.adapters.memory import InMemoryScheduleLedger, InMemoryScheduler, RecordingPublisher
    from cliniko_connector.eventmodels import SCHEDULED_ACTION_DUE
    from cliniko_connector.usecases.schedules import ScheduleActions

    event = sample(automation.trigger)
    event["detail"]["data"]["starts_at"] = "2030-05-06T09:00:00Z"
    event["detail"]["occurred_at"] = event["detail"]["data"]["updated_at"] = "2030-05-01T09:00:00Z"
    scheduler = InMemoryScheduler()
    now = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    actions = ScheduleActions(
        scheduler, InMemoryScheduleLedger(), RecordingPublisher(), "cliniko", {"cliniko"}, lambda: now
    )
    actions.handle(actions.parse(json.loads(render(automation.targets[0].transformer, event))))
    [schedule] = scheduler.list()
    return {**event, "detail-type": SCHEDULED_ACTION_DUE, "detail": json.loads(schedule.detail)}
