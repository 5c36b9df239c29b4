"""An automation compiles to the rule EventBridge runs: its pattern and each target's InputTransformer."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cliniko_connector.eventmodels import ActionRequest
from cliniko_tools.automations.compile import CompileError, compile_automation, event_pattern, resolve_name
from cliniko_tools.automations.model import Automation


def automation(do: list[dict[str, Any]], **when: Any) -> Automation:
    return Automation.model_validate(
        {"name": "no-show", "when": {"trigger": "individual_appointment.did_not_arrive", **when}, "do": do}
    )


def test_the_pattern_is_the_triggers_source_and_detail_type() -> None:
    assert event_pattern(automation([{"bus": "b"}])) == {
        "source": ["cliniko"],
        "detail-type": ["Individual Appointment Did Not Arrive"],
    }
    assert event_pattern(automation([{"bus": "b"}]), source="clinic-a")["source"] == ["clinic-a"]


def test_connections_and_where_filter_the_detail_and_dotted_keys_nest() -> None:
    pattern = event_pattern(
        automation(
            [{"bus": "b"}],
            connections=["north", "south"],
            where={"data.appointment_type.links.self": [{"suffix": "/1002"}], "payload_mode": ["full"]},
        )
    )
    assert pattern["detail"] == {
        "data": {"appointment_type": {"links": {"self": [{"suffix": "/1002"}]}}},
        "payload_mode": ["full"],
        "connection_id": ["north", "south"],
    }


def test_or_branches_nest_their_dotted_keys_too() -> None:
    pattern = event_pattern(automation([{"bus": "b"}], where={"$or": [{"data.a": [1]}, {"truncated": [False]}]}))
    assert pattern["detail"] == {"$or": [{"data": {"a": [1]}}, {"truncated": [False]}]}


def test_a_connection_filtered_twice_is_refused() -> None:
    with pytest.raises(CompileError) as err:
        event_pattern(automation([{"bus": "b"}], connections=["a"], where={"connection_id": ["b"]}))
    assert err.value.loc == ("when", "where")


def test_a_field_filtered_twice_through_dotted_and_nested_keys_is_refused() -> None:
    with pytest.raises(CompileError, match="filtered twice"):
        event_pattern(automation([{"bus": "b"}], where={"data.a": [1], "data": {"a": [2]}}))


def test_an_action_target_gets_the_request_the_action_functions_accept() -> None:
    rule = compile_automation(
        automation(
            [
                {
                    "action": "communication.create",
                    "input": {
                        "patient_id": "$.detail.data.patient.links.self",
                        "content": 'Did not arrive for <starts_at> ("<notes>")',
                        "type_code": 4,
                        "confidential": False,
                    },
                }
            ]
        )
    )
    [target] = rule.targets
    assert (target.kind, target.ref, target.id) == ("action", "communication.create", "1-action-communication.create")
    assert target.transformer is not None
    assert target.transformer.paths_map == {
        "connection_id": "$.detail.connection_id",
        "event_key": "$.detail.event_key",
        "patient_links_self": "$.detail.data.patient.links.self",
        "starts_at": "$.detail.data.starts_at",
        "notes": "$.detail.data.notes",
    }
    assert target.transformer.template == (
        '{"connection_id": "<connection_id>", "idempotency_key": "no-show/1:<event_key>", '
        '"event_key": "<event_key>", "input": {"patient_id": "<patient_links_self>", '
        '"content": "Did not arrive for <starts_at> (\\"<notes>\\")", "type_code": 4, "confidential": false}}'
    )
    # With every placeholder filled by a plain string, the template is the request the functions validate.
    filled = target.transformer.template
    for name in target.transformer.paths_map:
        filled = filled.replace(f"<{name}>", "x")
    request = ActionRequest.model_validate(json.loads(filled))
    assert request.key_for("communication.create") == "communication.create#no-show/1:x"


def test_two_targets_of_one_action_get_different_keys() -> None:
    rule = compile_automation(
        automation([{"action": "medical_alert.create", "input": {}}, {"action": "medical_alert.create", "input": {}}])
    )
    templates = [t.transformer.template for t in rule.targets if t.transformer]
    assert '"idempotency_key": "no-show/1:<event_key>"' in templates[0]
    assert '"idempotency_key": "no-show/2:<event_key>"' in templates[1]


def test_whole_value_paths_are_quoted_only_when_always_a_string() -> None:
    rule = compile_automation(
        automation(
            [
                {
                    "webhook": "w",
                    "body": {
                        "id": "<id>",
                        "arrived": "$.detail.data.did_not_arrive",
                        "notes": "<notes>",
                        "changed": "$.detail.changed_fields",
                        "event": "<aws.events.event.json>",
                        "rule": "<aws.events.rule-name>",
                        "list": [1, "two", None],
                    },
                }
            ]
        )
    )
    transformer = rule.targets[0].transformer
    assert transformer is not None
    assert transformer.template == (
        '{"id": "<id>", "arrived": <did_not_arrive>, "notes": <notes>, "changed": <changed_fields>, '
        '"event": <aws.events.event.json>, "rule": "<aws.events.rule-name>", "list": [1, "two", null]}'
    )
    assert transformer.paths_map == {
        "id": "$.detail.id",
        "did_not_arrive": "$.detail.data.did_not_arrive",
        "notes": "$.detail.data.notes",
        "changed_fields": "$.detail.changed_fields",
    }


def test_one_path_is_one_variable_and_different_paths_never_share_a_name() -> None:
    rule = compile_automation(
        automation([{"queue": "q", "body": {"a": "<id>", "b": "$.detail.id", "c": "<data.id>", "d": "$.id"}}])
    )
    transformer = rule.targets[0].transformer
    assert transformer is not None
    assert transformer.paths_map == {"id": "$.detail.id", "id_2": "$.detail.data.id", "id_3": "$.id"}


def test_email_and_sms_are_plain_text_with_the_subject_first() -> None:
    rule = compile_automation(
        automation(
            [
                {"email": "desk", "subject": "No-show", "message": 'Appointment <id> "at" <starts_at>'},
                {"sms": "desk", "message": "No-show <id>"},
            ]
        )
    )
    email, sms = (t.transformer for t in rule.targets)
    assert email is not None
    assert sms is not None
    assert email.template == 'No-show\n\nAppointment <id> "at" <starts_at>'
    assert sms.template == "No-show <id>"


def test_queue_and_webhook_without_a_body_and_bus_targets_get_the_event_as_it_is() -> None:
    rule = compile_automation(
        automation([{"queue": "q"}, {"bus": "arn:aws:events:us-east-1:123456789012:event-bus/x"}])
    )
    assert [(t.id, t.transformer) for t in rule.targets] == [("1-queue-q", None), ("2-bus-x", None)]


@pytest.mark.parametrize(
    ("body", "message", "loc"),
    [
        ({"t": "Hello $.detail.data.first_name"}, "inside text write `<name>`", ("do", 0, "body", "t")),
        ({"<id>": 1}, "a placeholder can't be an object key", ("do", 0, "body", "<id>")),
        ({"t": "$.detail..x"}, "is not a JSON path in dot notation", ("do", 0, "body", "t")),
    ],
)
def test_what_cannot_become_a_template_says_where(body: dict[str, Any], message: str, loc: tuple[Any, ...]) -> None:
    with pytest.raises(CompileError, match=message) as err:
        compile_automation(automation([{"queue": "q", "body": body}]))
    assert err.value.loc == loc


def test_a_template_over_eventbridges_limit_is_refused() -> None:
    with pytest.raises(CompileError, match="8192"):
        compile_automation(automation([{"queue": "q", "body": {"t": "x" * 9000}}]))


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("id", "$.detail.id"),
        ("event_key", "$.detail.event_key"),
        ("starts_at", "$.detail.data.starts_at"),
        ("patient.links.self", "$.detail.data.patient.links.self"),
        ("data.id", "$.detail.data.id"),
        ("previous.starts_at", "$.detail.previous.starts_at"),
        ("aws.events.rule-arn", "aws.events.rule-arn"),
    ],
)
def test_names_stand_for_detail_fields_else_record_fields(name: str, path: str) -> None:
    assert resolve_name(name) == path


def test_a_where_eventbridge_would_refuse_does_not_compile() -> None:
    with pytest.raises(CompileError, match=r"not a valid EventBridge pattern: data\.status: a field's values") as err:
        event_pattern(automation([{"bus": "b"}], where={"data.status": 20}))
    assert err.value.loc == ("when", "where", "data.status")


@pytest.mark.parametrize(
    ("before", "message"),
    [
        ("$.detail.nope", "have no `$.detail.nope`"),
        ("$.detail.data.did_not_arrive", "is not a timestamp"),
    ],
)
def test_a_wait_before_a_path_the_events_have_not_as_a_time_is_a_compile_error_at_its_line(
    before: str, message: str
) -> None:
    waiting = automation(
        [{"sms": "t", "message": "hi", "at": {"before": before, "offset": "1h"}}],
        trigger="individual_appointment.created",
    )
    with pytest.raises(CompileError, match=re.escape(message)) as failed:
        compile_automation(waiting)
    assert failed.value.loc == ("do", 0, "at", "before")


def test_a_wait_compiles_to_seconds_beside_the_targets_own_input() -> None:
    waiting = automation(
        [{"sms": "t", "message": "at <starts_at>", "at": {"before": "$.detail.data.starts_at", "offset": "1d2h"}}],
        trigger="individual_appointment.created",
    )
    [target] = compile_automation(waiting).targets
    assert target.wait == {"before": "$.detail.data.starts_at", "offset_seconds": 93600}
    assert target.transformer is not None and target.transformer.template == "at <starts_at>"
