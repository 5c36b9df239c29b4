"""Automation files: their shape, and every problem reported as `file:line: message`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cliniko_tools.automations.model import (
    ActionTarget,
    ApiKeyAuth,
    AutomationFile,
    BusTarget,
    EmailTarget,
    QueueTarget,
    SmsTarget,
    WebhookTarget,
    load_file,
    load_folder,
)

NO_SHOW = """\
name: no-show-follow-up
description: Memo and front desk.
when:
  trigger: individual_appointment.did_not_arrive
  connections: [northside-physio]
  where: {data.did_not_arrive: [true]}
do:
  - action: communication.create
    input: {patient_id: $.detail.data.patient.links.self, content: "Did not arrive for <starts_at>"}
  - webhook: front-desk-slack
    body: {text: "No-show: appointment <id>"}
  - email: front-desk
    subject: No-show
    message: "Appointment <id>"
  - sms: arn:aws:sns:us-east-1:123456789012:on-call
    message: "No-show <id>"
  - queue: no-shows
"""
SLACK = """\
kind: webhook
name: front-desk-slack
endpoint: https://hooks.example.com/services/T000
auth: {type: api_key, header: X-Api-Key}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(folder: Path) -> list[str]:
    return [str(p).removeprefix(f"{folder}/") for p in load_folder(folder).problems]


def test_an_automation_and_its_webhook_load_with_every_target_kind(tmp_path: Path) -> None:
    write(tmp_path, "no-show.yaml", NO_SHOW)
    write(tmp_path, "slack.yml", SLACK)
    folder = load_folder(tmp_path)
    assert folder.problems == []
    automation = folder.automations[0].automation
    assert [type(t) for t in automation.do] == [ActionTarget, WebhookTarget, EmailTarget, SmsTarget, QueueTarget]
    assert automation.when.connections == ["northside-physio"]
    assert automation.when.where == {"data.did_not_arrive": [True]}
    webhook = folder.webhook("front-desk-slack")
    assert webhook is not None
    assert webhook.webhook.auth == ApiKeyAuth(type="api_key", header="X-Api-Key")
    assert webhook.webhook.method == "POST"


def test_problems_name_the_file_and_the_line_of_the_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bad.yaml",
        "name: Bad_Name\nwhen:\n  trigger: patient.created\n  colour: red\ndo:\n  - action: x\n    webhook: y\n"
        "  - email: topic\n",
    )
    assert problems(tmp_path) == [
        "bad.yaml:1: `name`: use lower-case letters, digits and dashes (at most 48)",
        "bad.yaml:4: `when.colour` is not a field here",
        "bad.yaml:6: `do.0`: a target names exactly one of action, webhook, email, sms, queue, bus",
        "bad.yaml:8: `do.1.message` is required",
    ]


def test_more_than_five_targets_is_one_rule_too_many(tmp_path: Path) -> None:
    targets = "".join(f"  - bus: bus-{i}\n" for i in range(6))
    write(tmp_path, "a.yaml", f"name: a\nwhen: {{trigger: patient.created}}\ndo:\n{targets}")
    assert problems(tmp_path) == ["a.yaml:3: `do`: List should have at most 5 items after validation, not 6"]


def test_a_webhook_target_must_name_a_webhook_declared_in_the_folder(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\nwhen: {trigger: patient.created}\ndo:\n  - webhook: nowhere\n")
    assert problems(tmp_path) == [
        "a.yaml:4: no webhook 'nowhere' is declared in this folder (a file with `kind: webhook`)"
    ]


def test_one_file_brings_the_webhooks_declared_beside_it(tmp_path: Path) -> None:
    path = write(tmp_path, "no-show.yaml", NO_SHOW)
    write(tmp_path, "slack.yaml", SLACK)
    write(tmp_path, "broken.yaml", "name: [\n")
    folder = load_folder(path)
    assert folder.problems == []
    assert [w.webhook.name for w in folder.webhooks] == ["front-desk-slack"]


def test_two_automations_may_not_share_a_name(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: same\nwhen: {trigger: patient.created}\ndo: [{bus: b}]\n")
    write(tmp_path, "b.yaml", "\nname: same\nwhen: {trigger: patient.created}\ndo: [{bus: b}]\n")
    assert problems(tmp_path) == [f"b.yaml:2: the automation name 'same' is already used by {tmp_path}/a.yaml"]


def test_a_key_given_twice_is_a_problem_not_a_silent_overwrite(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\nwhen: {trigger: patient.created}\ndo: [{bus: b}]\nname: b\n")
    assert problems(tmp_path) == ["a.yaml:4: not valid YAML: the key 'name' is given twice"]


def test_broken_yaml_says_the_line(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\nwhen:\n  trigger: [patient.created\n")
    [problem] = problems(tmp_path)
    assert problem.startswith("a.yaml:4: not valid YAML:")


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ("{type: api_key, header: X-Api-Key, value: abc}", "`value` looks like a secret"),
        ("{type: basic, username: u, password: p}", "`password` looks like a secret"),
        (
            "{type: oauth_client_credentials, token_url: https://a.example/t, client_id: c, client_secret: s}",
            "`client_secret` looks like a secret",
        ),
        ("{type: bearer}", "`auth.type` must be one of api_key, basic, oauth_client_credentials"),
    ],
)
def test_a_webhook_never_holds_its_secret(tmp_path: Path, auth: str, message: str) -> None:
    write(tmp_path, "w.yaml", f"kind: webhook\nname: w\nendpoint: https://a.example/x\nauth: {auth}\n")
    [problem] = problems(tmp_path)
    assert problem.startswith("w.yaml:4:")
    assert message in problem


def test_a_webhook_endpoint_is_https_except_on_loopback(tmp_path: Path) -> None:
    base = "kind: webhook\nname: w\nauth: {type: basic, username: u}\n"
    write(tmp_path, "w.yaml", base + "endpoint: http://hooks.example.com/x\n")
    assert problems(tmp_path) == [
        "w.yaml:4: `endpoint`: must be https:// (EventBridge calls only HTTPS endpoints; http:// only on 127.0.0.1)"
    ]
    local = write(tmp_path, "w.yaml", base + "endpoint: http://127.0.0.1:9000/hook\n")
    loaded = load_file(local)
    assert not isinstance(loaded, list)


def test_yaml_words_like_on_and_no_stay_text(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "name: a\nwhen: {trigger: patient.created}\ndo:\n  - sms: t\n    message: no\n")
    loaded = load_file(path)
    assert isinstance(loaded, AutomationFile)
    target = loaded.automation.do[0]
    assert isinstance(target, SmsTarget)
    assert target.message == "no"


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "kind: rule\nname: a\n")
    assert problems(tmp_path) == ["a.yaml:1: `kind` is `automation` (the default) or `webhook`"]


def test_a_bus_target_forwards_the_event(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "name: a\nwhen: {trigger: patient.created}\ndo: [{bus: analytics}]\n")
    loaded = load_file(path)
    assert isinstance(loaded, AutomationFile)
    assert loaded.automation.do == [BusTarget(bus="analytics")]


def test_dates_stay_text_and_yaml_elsewhere_is_untouched(tmp_path: Path) -> None:
    import datetime

    import yaml

    path = write(
        tmp_path, "a.yaml", "name: a\nwhen: {trigger: patient.created}\ndo:\n  - sms: t\n    message: 2026-01-01\n"
    )
    loaded = load_file(path)
    assert isinstance(loaded, AutomationFile)
    assert loaded.automation.do[0] == SmsTarget(sms="t", message="2026-01-01")
    # The template generator's YAML (and anyone else's) still reads and quotes dates as YAML does.
    assert yaml.safe_load("v: 2026-01-01") == {"v": datetime.date(2026, 1, 1)}
    assert yaml.safe_dump({"v": "2012-10-17"}) == "v: '2012-10-17'\n"


def test_email_and_sms_targets_subscribe_addresses_and_numbers_and_refuse_anything_else(tmp_path: Path) -> None:
    good = (
        "name: a\nwhen: {trigger: invoice.paid}\ndo:\n"
        "  - email: billing\n    message: paid\n    subscribe: [billing@example.com]\n"
        "  - sms: on-call\n    message: paid\n    subscribe: ['+61400000000']\n"
    )
    write(tmp_path, "a.yaml", good)
    loaded = load_folder(tmp_path)
    assert loaded.problems == []
    email, sms = loaded.automations[0].automation.do
    assert isinstance(email, EmailTarget) and email.subscribe == ["billing@example.com"]
    assert isinstance(sms, SmsTarget) and sms.subscribe == ["+61400000000"]

    bad = good.replace("billing@example.com", "not an address").replace("+61400000000", "0400 000 000")
    write(tmp_path, "a.yaml", bad)
    found = problems(tmp_path)
    assert [line.split(":")[:2] for line in found] == [["a.yaml", "6"], ["a.yaml", "9"]], found


# -- targets that wait (`at`) --


def _waiting(tmp_path: Path, at: str) -> Any:
    path = tmp_path / "a.yaml"
    path.write_text(
        f"name: r\nwhen: {{trigger: individual_appointment.created}}\ndo:\n  - sms: t\n    message: hi\n    at: {at}\n",
        encoding="utf-8",
    )
    return load_file(path)


def test_a_target_waits_before_a_time_of_the_record_or_after_its_trigger(tmp_path: Path) -> None:
    before = _waiting(tmp_path, "{before: $.detail.data.starts_at, offset: 24h}")
    assert before.automation.do[0].at.offset_seconds == 86400
    after = _waiting(tmp_path, "{after: 2h30m}")
    assert after.automation.do[0].at.after_seconds == 9000


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("{before: $.detail.data.starts_at}", "needs `offset`"),
        ("{before: starts_at, offset: 1h}", "is a `$.detail…` path"),
        ("{before: $.detail.data.starts_at, offset: soon}", "is not a duration"),
        ("{after: 2h, before: $.detail.data.starts_at, offset: 1h}", "either `before"),
        ("{}", "either `before"),
        ("{after: 10s}", "between 1 minute and 366 days"),
        ("{after: 400d}", "between 1 minute and 366 days"),
        ("{after: 2h, offset: 1h}", "goes with `before`"),
        ("{at_noon: true, after: 2h}", "is not a field here"),
    ],
)
def test_a_wrong_wait_is_a_clear_problem_on_its_line(tmp_path: Path, at: str, message: str) -> None:
    problems = _waiting(tmp_path, at)
    assert isinstance(problems, list) and problems
    assert message in str(problems[0]) and str(problems[0]).startswith(f"{tmp_path / 'a.yaml'}:6:")


def test_a_bus_target_passes_events_on_as_they_are_and_cannot_wait(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("name: r\nwhen: {trigger: patient.created}\ndo:\n  - bus: other\n    at: {after: 2h}\n")
    problems = load_file(path)
    assert isinstance(problems, list) and "`do.0.at` is not a field here" in str(problems[0])
