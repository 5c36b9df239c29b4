"""`automations plan | deploy | list | remove` on the local stack, through the CLI: a recipe fires for real
(the action's handler against the simulator, the webhook into a receiver on 127.0.0.1), and the webhook's
secret only ever comes from a file or standard input and is never shown back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cliniko_tools.local.receiver import Receiver
from tests.e2e.cli.conftest import CONNECTION, ROOT, Stack

pytestmark = pytest.mark.e2e

RECIPES = ROOT / "automations" / "recipes"
NO_SHOW = RECIPES / "no-show-follow-up.yaml"
SECRET = "front-desk-s3cret-9f2c"


def no_show_event(stack: Stack, patient_id: str) -> dict[str, Any]:
    sample = json.loads((ROOT / "events" / "triggers" / "individual_appointment.did_not_arrive.json").read_text())
    detail = sample["detail"]
    detail["connection_id"] = CONNECTION
    detail["event_key"] = f"{CONNECTION}:individual_appointments:{detail['id']}:did_not_arrive"
    detail["data"]["patient"]["links"]["self"] = f"https://api.au1.cliniko.com/v1/patients/{patient_id}"
    return dict(detail)


def deploy_no_show(stack: Stack, receiver: Receiver, *extra: str) -> Any:
    return stack.cli(
        "automations", "deploy", str(NO_SHOW), "--secret-file", "front-desk=-",
        "--local-endpoint", f"front-desk={receiver.url}", *extra, stdin=SECRET + "\n",
    )  # fmt: skip


def test_a_deployed_recipe_fires_for_real_memo_in_cliniko_and_webhook_with_its_auth_header(stack: Stack) -> None:
    stack.connect("communication.create")
    (patient,) = stack.patients("Ada")
    with Receiver() as receiver:
        deployed = deploy_no_show(stack, receiver)
        assert deployed.code == 0, deployed.err
        assert "+ no-show-follow-up" in deployed.out
        stack.put_event("Individual Appointment Did Not Arrive", no_show_event(stack, patient["id"]))
        stack.run()  # the runner finds the automations through the stack's owner record, as `local run` does
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
        assert request.headers["X-Api-Key"] == SECRET
        assert request.json()["text"].startswith("No-show: Alex Example, appointment ")
    memos = stack.sim.list("communications")
    assert [m["content"] for m in memos] == ["Did not arrive for the appointment at 2026-12-02T09:00:00Z (UTC)."]
    listed = stack.cli("automations", "list", "--json")
    assert listed.code == 0
    (row,) = listed.json
    assert (row["name"], row["rule"], row["matched_24h"], row["failed_24h"]) == (
        "no-show-follow-up",
        "automation-no-show-follow-up",
        1,
        0,
    )
    assert row["targets"] == ["action communication.create", "webhook front-desk"]


def test_a_secret_on_the_command_line_is_refused_without_being_repeated(stack: Stack) -> None:
    for option in ("--secret", "--webhook-secret"):
        refused = stack.cli("automations", "deploy", str(NO_SHOW), option, SECRET)
        assert refused.code == 2
        assert "refused" in refused.err
        assert SECRET not in refused.out + refused.err
    # The secret itself where its file belongs: not a file, and not printed back either.
    mistaken = stack.cli("automations", "deploy", str(NO_SHOW), "--secret-file", f"front-desk={SECRET}")
    assert mistaken.code == 2
    assert SECRET not in mistaken.out + mistaken.err
    assert "not shown" in mistaken.err


def test_plan_list_and_the_local_records_never_show_the_secret(stack: Stack) -> None:
    with Receiver() as receiver:
        assert deploy_no_show(stack, receiver).code == 0
        outputs = [
            stack.cli("automations", "plan", str(NO_SHOW), "--local-endpoint", f"front-desk={receiver.url}"),
            stack.cli("automations", "plan", str(NO_SHOW), "--json"),
            stack.cli("automations", "list"),
            stack.cli("automations", "list", "--json"),
        ]
    for result in outputs:
        assert result.code == 0, result.err
        assert SECRET not in result.out + result.err
    assert "nothing to change" in outputs[0].out
    for path in (stack.root / ".local").iterdir():
        assert SECRET not in path.read_text(encoding="utf-8"), path


def test_a_new_webhook_without_its_secret_is_not_deployed(stack: Stack) -> None:
    with Receiver() as receiver:
        result = stack.cli("automations", "deploy", str(NO_SHOW), "--local-endpoint", f"front-desk={receiver.url}")
    assert result.code != 0
    assert "need a secret" in result.err
    assert stack.cli("automations", "list", "--json").json == []


def test_every_recipe_deploys_on_the_local_stack_and_remove_takes_one_away(stack: Stack, tmp_path: Path) -> None:
    webhooks = ("front-desk", "email-service", "waitlist", "slack-bookings")
    secrets = []
    for name in webhooks:
        path = tmp_path / f"{name}.secret"
        path.write_text(f"secret-of-{name}\n", encoding="utf-8")
        secrets += ["--secret-file", f"{name}={path}"]
    with Receiver() as receiver:
        endpoints = [arg for name in webhooks for arg in ("--local-endpoint", f"{name}={receiver.url}")]
        planned = stack.cli("automations", "plan", str(RECIPES), "--json", *endpoints)
        assert planned.code == 0, planned.err
        # Ten automations; the three that wait bring their `.follow` and `.due-1` rules.
        assert len(planned.json["add"]) == 10 + 3 * 2 + len(webhooks)
        deployed = stack.cli("automations", "deploy", str(RECIPES), *secrets, *endpoints)
        assert deployed.code == 0, deployed.err
    names = {row["name"] for row in stack.cli("automations", "list", "--json").json}
    assert len(names) == 10 + 3 * 2
    removed = stack.cli("automations", "remove", "online-booking-slack")
    assert removed.code == 0, removed.err
    assert "online-booking-slack" not in {row["name"] for row in stack.cli("automations", "list", "--json").json}
    rules = stack.client("events").list_rules(EventBusName=stack.bus, NamePrefix="automation-")["Rules"]
    assert "automation-online-booking-slack" not in {r["Name"] for r in rules}
    assert "automation-no-show-follow-up" in {r["Name"] for r in rules}
    assert stack.cli("automations", "remove", "online-booking-slack").code != 0
    assert stack.cli("automations", "remove", "arrival-follow-up").code == 0  # with its other rules
    rules = {
        r["Name"] for r in stack.client("events").list_rules(EventBusName=stack.bus, NamePrefix="automation-")["Rules"]
    }
    assert not {r for r in rules if r.startswith("automation-arrival-follow-up")}
    assert "automation-appointment-reminder.follow" in rules
