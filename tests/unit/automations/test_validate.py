"""`automations validate` and `new`: what is checked before deploying, each problem at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_tools.automations.model import load_folder
from cliniko_tools.automations.scaffold import scaffold, suggest
from cliniko_tools.automations.validate import check_folder


def problems(tmp_path: Path, text: str, **kwargs: object) -> list[str]:
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    report = check_folder(load_folder(tmp_path), **kwargs)  # type: ignore[arg-type]
    return [f"{p.line}: {p.message}" for p in report.problems]


def test_unknown_trigger_and_action_are_named_with_a_suggestion(tmp_path: Path) -> None:
    assert problems(tmp_path, "name: a\nwhen: {trigger: patient.craeted}\ndo: [{bus: b}]\n") == [
        "2: no trigger 'patient.craeted'; did you mean `patient.created`? (see `cliniko-connector triggers list`)"
    ]
    assert problems(tmp_path, "name: a\nwhen: {trigger: patient.created}\ndo:\n  - action: patient.fnd\n") == [
        "4: no action 'patient.fnd'; did you mean `patient.find`? (see `cliniko-connector actions list`)"
    ]


def test_where_must_be_a_valid_pattern_on_fields_that_exist(tmp_path: Path) -> None:
    text = (
        "name: a\nwhen:\n  trigger: invoice.paid\n  where:\n    data.total_amount: [{numeric: ['>']}]\n"
        "    data.colour: [red]\n    payload_mode: [full]\ndo: [{bus: b}]\n"
    )
    assert problems(tmp_path, text) == [
        "5: not a valid EventBridge pattern: data.total_amount[0].numeric: `numeric` takes operator and number "
        'pairs, e.g. [">", 0, "<=", 5]',
    ]
    fixed = text.replace("['>']", "['>', 100]")
    assert problems(tmp_path, fixed) == ["6: `data.colour` is not a field of invoice.paid events"]


def test_paths_must_exist_in_the_triggers_events_at_the_line_that_uses_them(tmp_path: Path) -> None:
    text = (
        "name: a\nwhen: {trigger: patient.created}\ndo:\n  - webhook: w\n    body:\n      ok: <first_name>\n"
        "      bad: $.detail.data.favourite_colour\n      text: 'Hi <nickname>'\n"
    )
    (tmp_path / "w.yaml").write_text(
        "kind: webhook\nname: w\nendpoint: https://a.example/x\nauth: {type: basic, username: u}\n"
    )
    assert problems(tmp_path, text) == [
        "7: `$.detail.data.favourite_colour` is not in patient.created events (`automations new` lists the paths)",
        "8: `$.detail.data.nickname` is not in patient.created events (`automations new` lists the paths)",
    ]


def test_action_input_is_checked_with_the_triggers_sample_event(tmp_path: Path) -> None:
    text = (
        "name: a\nwhen: {trigger: product.created}\ndo:\n  - action: medical_alert.create\n"
        "    input:\n      patient_id: $.detail.data.name\n      name: 'x'\n"
    )
    [problem] = problems(tmp_path, text)
    assert problem.startswith("6: medical_alert.create `input.patient_id`:")
    assert problem.endswith("(with the sample event)")


def test_a_compile_problem_points_at_its_value(tmp_path: Path) -> None:
    text = (
        "name: a\nwhen: {trigger: patient.created}\ndo:\n  - queue: q\n    body: {t: 'Hi $.detail.data.first_name'}\n"
    )
    assert problems(tmp_path, text) == [
        "5: a `$.detail…` path is a whole value; inside text write `<name>` (e.g. `<data.starts_at>`)"
    ]


ALERT = (
    "name: a\nwhen: {trigger: patient.created%s}\ndo:\n"
    "  - action: medical_alert.create\n    input: {patient_id: $.detail.id, name: x}\n"
)


def test_named_connections_must_exist_and_allow_the_action(tmp_path: Path) -> None:
    allowed = {"north": ("medical_alert.create",), "south": ()}
    assert problems(tmp_path, ALERT % ", connections: [north]", allowed=allowed) == []
    assert problems(tmp_path, ALERT % ", connections: [south, west]", allowed=allowed) == [
        "2: the stack has no connection 'west'",
        "4: south does not allow medical_alert.create: run `cliniko-connector connections allow south "
        "medical_alert.create`",
    ]


def test_on_every_connection_one_that_does_not_allow_the_action_is_a_note(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ALERT % "", encoding="utf-8")
    report = check_folder(load_folder(tmp_path), allowed={"north": ("medical_alert.create",), "south": ()})
    assert report.problems == []
    assert [n.message for n in report.notes] == [
        "south does not allow medical_alert.create: run `cliniko-connector connections allow south "
        "medical_alert.create`"
    ]


@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
def test_a_new_file_for_any_trigger_validates_as_written(tmp_path: Path, trigger: str) -> None:
    text = scaffold("new-one", trigger, ["communication.create", "patient.find"])
    assert problems(tmp_path, text) == []


@pytest.mark.parametrize(
    ("trigger", "field", "path"),
    [
        ("patient.created", "patient_id", "$.detail.id"),
        ("individual_appointment.cancelled", "patient_id", "$.detail.data.patient.links.self"),
        ("patient.created", "email", "$.detail.data.email"),
        ("product.created", "patient_id", None),
        ("patient.created", "phone_numbers", None),
    ],
)
def test_new_fills_inputs_from_paths_that_fit(trigger: str, field: str, path: str | None) -> None:
    assert suggest(trigger, field) == path


OUTCOME = "name: a\nwhen:\n  trigger: appointment.reminder_details.succeeded\n"


def test_an_automation_can_chain_on_an_actions_success_and_use_its_result_keys(tmp_path: Path) -> None:
    text = OUTCOME + "do:\n  - sms: t\n    message: '<result.practitioner_name> at <result.local_time>'\n"
    assert problems(tmp_path, text) == []
    typo = OUTCOME + "do:\n  - sms: t\n    message: '<result.practitioner>'\n"
    assert problems(tmp_path, typo) == [
        "6: `$.detail.result.practitioner` is not in appointment.reminder_details.succeeded events "
        "(`automations new` lists the paths)"
    ]
    assert problems(tmp_path, "name: a\nwhen: {trigger: patient.fnd.succeeded}\ndo: [{bus: b}]\n")[0].startswith(
        "2: no trigger 'patient.fnd.succeeded'"
    )


def test_a_target_on_an_actions_outcome_cannot_wait_nor_filter_another_action(tmp_path: Path) -> None:
    waits = OUTCOME + "do:\n  - sms: t\n    message: hi\n    at: {after: 2h}\n"
    assert problems(tmp_path, waits) == [
        "7: a target of an automation on an action's outcome can't wait: put the wait on the automation that "
        "runs the action"
    ]
    other = OUTCOME + "  where: {action: [patient.create]}\ndo: [{bus: b}]\n"
    assert problems(tmp_path, other) == ["4: the trigger names the action: `where` can't filter `action` too"]
