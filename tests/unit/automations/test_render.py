"""What a target receives: the InputTransformer examples of AWS's user guide, then the automation cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cliniko_connector.eventmodels import ActionRequest
from cliniko_tools.automations.compile import InputTransformer, compile_automation
from cliniko_tools.automations.model import Automation
from cliniko_tools.automations.render import render

EC2 = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}

# (template, what the target receives) from the user guide's input-transform examples.
GUIDE: list[tuple[str, Any]] = [
    ('"instance <instance> is in <state>"', "instance i-0123456789 is in RUNNING"),
    ('{"instance": <instance>, "state": <state>}', {"instance": "i-0123456789", "state": "RUNNING"}),
    (
        '{"instance": <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}',
        {"instance": "i-0123456789", "state": "RUNNING", "instanceStatus": 'instance "i-0123456789" is in RUNNING'},
    ),
    (
        '{"instance": <instance>, "state": [9, <state>, true], "Transformed": "Yes"}',
        {"instance": "i-0123456789", "state": [9, "RUNNING", True], "Transformed": "Yes"},
    ),
    (
        '{"instance": <instance>, "ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, '
        '"originalEvent": <aws.events.event.json>}',
        {
            "instance": "i-0123456789",
            "ruleArn": "arn:aws:events:us-east-2:123456789012:rule/example",
            "ruleName": "example",
            "originalEvent": EC2,
        },
    ),
    ('"<aws.events.rule-name> triggered"', "example triggered"),
]


@pytest.mark.parametrize(("template", "expected"), GUIDE)
def test_the_user_guides_examples(template: str, expected: Any) -> None:
    rendered = render(
        InputTransformer(PATHS, template),
        EC2,
        rule_name="example",
        rule_arn="arn:aws:events:us-east-2:123456789012:rule/example",
    )
    assert rendered.valid
    assert rendered.value == expected


def test_json_is_minified() -> None:
    rendered = render(InputTransformer(PATHS, '{ "a" : <state> ,\n "b": [ 1 , 2 ] }'), EC2)
    assert rendered.text == '{"a":"RUNNING","b":[1,2]}'


def test_text_templates_insert_text_as_it_is() -> None:
    rendered = render(InputTransformer(PATHS, 'instance "<instance>" at <timestamp>'), EC2)
    assert (rendered.text, rendered.is_json) == ('instance "i-0123456789" at 2015-11-11T21:29:54Z', False)


def test_a_path_that_does_not_resolve_leaves_its_placeholder_empty() -> None:
    transformer = InputTransformer({"gone": "$.detail.nope"}, '{"quoted": "<gone>", "bare": <gone>}')
    rendered = render(transformer, EC2)
    assert rendered.missing == ("gone",)
    assert not rendered.valid
    assert rendered.text == '{"quoted": "", "bare": }'


def test_quoted_values_are_escaped_so_the_json_stays_valid() -> None:
    event = {**EC2, "detail": {"note": 'He said "hi"\\\n', "n": 5, "obj": {"a": "b"}, "none": None}}
    paths = {"note": "$.detail.note", "n": "$.detail.n", "obj": "$.detail.obj", "none": "$.detail.none"}
    template = '{"a": "<note>", "b": "n=<n>", "c": "<obj>", "d": <note>, "e": <obj>, "f": <none>, "g": "<none>"}'
    rendered = render(InputTransformer(paths, template), event)
    assert rendered.valid
    assert rendered.value == {
        "a": 'He said "hi"\\\n',
        "b": "n=5",
        "c": '{"a": "b"}',
        "d": 'He said "hi"\\\n',
        "e": {"a": "b"},
        "f": None,
        "g": "null",
    }


def test_a_placeholder_like_text_inside_a_literal_escape_is_not_confused_for_a_quote() -> None:
    rendered = render(InputTransformer(PATHS, '{"a": "x \\" <state> \\"", "b": <state>}'), EC2)
    assert rendered.value == {"a": 'x " RUNNING "', "b": "RUNNING"}


def test_no_transformer_delivers_the_event() -> None:
    rendered = render(None, EC2)
    assert rendered.value == EC2
    assert json.loads(rendered.text) == EC2


def trigger_event(**data: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e1",
        "detail-type": "Individual Appointment Did Not Arrive",
        "source": "cliniko",
        "account": "123456789012",
        "time": "2026-11-26T09:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "schema_version": 1,
            "trigger": "individual_appointment.did_not_arrive",
            "connection_id": "harbourside",
            "resource": "individual_appointments",
            "id": "601",
            "occurred_at": "2026-11-26T09:30:00Z",
            "event_key": "harbourside:individual_appointments:601:individual_appointment.did_not_arrive:x",
            "changed_fields": None,
            "previous": None,
            "payload_mode": "full",
            "truncated": False,
            "data": data,
        },
    }


def test_a_compiled_action_target_receives_a_request_the_action_accepts() -> None:
    automation = Automation.model_validate(
        {
            "name": "no-show",
            "when": {"trigger": "individual_appointment.did_not_arrive"},
            "do": [
                {
                    "action": "communication.create",
                    "input": {
                        "patient_id": "$.detail.data.patient.links.self",
                        "content": "Did not arrive for <starts_at>: <notes>",
                        "confidential": False,
                    },
                }
            ],
        }
    )
    [target] = compile_automation(automation).targets
    event = trigger_event(
        patient={"links": {"self": "https://api.au1.cliniko.com/v1/patients/82"}},
        starts_at="2026-12-02T09:00:00Z",
        notes='Called twice, "no answer"',
    )
    rendered = render(target.transformer, event)
    request = ActionRequest.model_validate(rendered.value)
    assert request.connection_id == "harbourside"
    assert request.event_key == event["detail"]["event_key"]
    assert request.idempotency_key == f"no-show/1:{event['detail']['event_key']}"
    assert request.input == {
        "patient_id": "https://api.au1.cliniko.com/v1/patients/82",
        "content": 'Did not arrive for 2026-12-02T09:00:00Z: Called twice, "no answer"',
        "confidential": False,
    }


def test_in_minimal_mode_record_paths_arrive_empty_and_the_request_stays_json() -> None:
    automation = Automation.model_validate(
        {
            "name": "no-show",
            "when": {"trigger": "individual_appointment.did_not_arrive"},
            "do": [{"action": "medical_alert.create", "input": {"patient_id": "$.detail.data.patient.links.self"}}],
        }
    )
    [target] = compile_automation(automation).targets
    event = trigger_event()
    event["detail"]["data"] = None
    rendered = render(target.transformer, event)
    assert rendered.valid
    assert rendered.missing == ("patient_links_self",)
    assert rendered.value["input"] == {"patient_id": ""}
