"""The local stack's template resolver: parameters, conditions, intrinsics and SAM globals."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_tools.devtools.template import TEMPLATE_PATH, build_stacks, build_template
from cliniko_tools.local.stack import assign_physical
from cliniko_tools.local.template import Physical, ResolvedTemplate, TemplateError, resolve_stacks

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev", "AllowedPattern": "^[a-z]+$"},
        "Flag": {"Type": "String", "Default": "false", "AllowedValues": ["false", "true"]},
        "Topic": {"Type": "String", "Default": ""},
        "Email": {"Type": "String"},
    },
    "Conditions": {
        "FlagOn": {"Fn::Equals": [{"Ref": "Flag"}, "true"]},
        "HasTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Topic"}, ""]}]},
        "Both": {"Fn::And": [{"Condition": "FlagOn"}, {"Condition": "HasTopic"}]},
        "Either": {"Fn::Or": [{"Condition": "FlagOn"}, {"Condition": "HasTopic"}]},
    },
    "Globals": {
        "Function": {
            "Timeout": 30,
            "Layers": ["global-layer"],
            "Environment": {"Variables": {"A": "global", "B": "global"}},
        }
    },
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Timeout": 60,
                "Layers": ["own-layer"],
                "Environment": {"Variables": {"B": "own", "C": {"Ref": "Table"}}},
            },
        },
        "OnlyWhenFlag": {"Type": "AWS::SQS::Queue", "Condition": "FlagOn", "Properties": {}},
    },
}


def resolved(**parameters: str) -> ResolvedTemplate:
    template = ResolvedTemplate(TEMPLATE, {"Email": "a@b.co", **parameters}, pseudo={"AWS::Region": "eu-west-1"})
    template.physical["Table"] = Physical("table-name", {"Arn": "arn:table", "StreamArn": "arn:stream"})
    return template


def test_parameters_defaults_and_overrides() -> None:
    assert resolved().parameters == {"Stage": "dev", "Flag": "false", "Topic": "", "Email": "a@b.co"}
    assert resolved(Stage="local").parameters["Stage"] == "local"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"Nope": "x"}, "unknown parameter"),
        ({"Flag": "maybe"}, "is not one of"),
        ({"Stage": "UPPER"}, "does not match"),
    ],
)
def test_parameter_errors(parameters: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        resolved(**parameters)


def test_a_parameter_without_default_is_required() -> None:
    with pytest.raises(TemplateError, match="Email has no default"):
        ResolvedTemplate(TEMPLATE, {})


def test_conditions() -> None:
    assert resolved().conditions == {"FlagOn": False, "HasTopic": False, "Both": False, "Either": False}
    assert resolved(Flag="true").conditions == {"FlagOn": True, "HasTopic": False, "Both": False, "Either": True}
    assert resolved(Flag="true", Topic="arn:t").conditions["Both"] is True


def test_resources_respect_conditions() -> None:
    assert "OnlyWhenFlag" not in resolved().resources()
    assert "OnlyWhenFlag" in resolved(Flag="true").resources("AWS::SQS::Queue")


def test_intrinsics() -> None:
    t = resolved(Flag="true")
    assert t.resolve({"Ref": "Stage"}) == "dev"
    assert t.resolve({"Ref": "AWS::Region"}) == "eu-west-1"
    assert t.resolve({"Ref": "Table"}) == "table-name"
    assert t.resolve({"Fn::GetAtt": ["Table", "Arn"]}) == "arn:table"
    assert t.resolve({"Fn::GetAtt": "Table.StreamArn"}) == "arn:stream"
    assert (
        t.resolve({"Fn::Sub": "x-${Stage}-${Table}-${Table.Arn}-${!Literal}"})
        == "x-dev-table-name-arn:table-${Literal}"
    )
    assert t.resolve({"Fn::Sub": ["${A}/${Stage}", {"A": {"Ref": "Table"}}]}) == "table-name/dev"
    assert t.resolve({"Fn::If": ["FlagOn", "yes", "no"]}) == "yes"
    assert t.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-dev"
    assert t.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert t.resolve({"k": {"Fn::If": ["HasTopic", "x", {"Ref": "AWS::NoValue"}]}, "j": 1}) == {"j": 1}
    assert t.resolve([{"Ref": "AWS::NoValue"}, "kept"]) == ["kept"]


def test_unresolvable_things_fail_clearly() -> None:
    t = resolved()
    with pytest.raises(TemplateError, match="Ref Missing"):
        t.resolve({"Ref": "Missing"})
    with pytest.raises(TemplateError, match=r"Table\.Nope"):
        t.resolve({"Fn::GetAtt": ["Table", "Nope"]})
    with pytest.raises(TemplateError, match="unsupported intrinsic Fn::ImportValue"):
        t.resolve({"Fn::ImportValue": "x"})


def test_globals_merge_like_sam() -> None:
    props = resolved().function_properties("Fn")
    assert props["Timeout"] == 60
    assert props["Layers"] == ["global-layer", "own-layer"]
    assert props["Environment"]["Variables"] == {"A": "global", "B": "own", "C": {"Ref": "Table"}}


def test_the_generated_template_resolves() -> None:
    template = ResolvedTemplate(build_template(), {"ClinikoContactEmail": "ops@clinic.example"})
    assert template.conditions == {
        "CreateKmsKey": True,
        "HasActionRequestPrincipals": False,
        "HasAlarmTopic": False,
        "TracingActive": False,  # PassThrough by default: no trace per invocation
    }
    assert "KmsKey" in template.resources("AWS::KMS::Key")
    assert template.resolve({"Fn::Sub": "cliniko-connector-${Stage}"}) == "cliniko-connector-dev"


def nested(**parameters: str) -> list[ResolvedTemplate]:
    """The generated root and its nested stacks, resolved as the local stack resolves them (root first)."""
    stacks = build_stacks()
    root = ResolvedTemplate(
        stacks[TEMPLATE_PATH],
        {"ClinikoContactEmail": "ops@clinic.example", **parameters},
        pseudo={"AWS::StackName": "stack"},
    )
    return resolve_stacks(
        root, stacks.__getitem__, lambda t: assign_physical(t, "stack", "us-east-1", "123456789012", "http://x")
    )


def test_a_nested_stack_gets_what_the_root_passes_and_the_root_its_outputs() -> None:
    root, *children = nested(Stage="prod", ActionRequestSource="acme.automations")
    (child,) = [t for t in children if "MedicalAlertCreateActionFunction" in t.template["Resources"]]
    assert child.directory == "stacks"
    assert child.parameters["EventBusName"] == "cliniko-connector-prod"
    assert child.parameters["ActionRequestSource"] == "acme.automations"
    assert child.parameters["ParentStackName"] == "stack"  # names (logs, secrets) follow the root stack
    assert child.parameters["ActionFunctionRoleArn"] == root.physical["ActionFunctionRole"].attributes["Arn"]
    arn = child.physical["MedicalAlertCreateActionFunction"].attributes["Arn"]
    assert root.resolve({"Fn::GetAtt": ["MedicalAlertsStack", "Outputs.MedicalAlertCreateActionFunctionArn"]}) == arn
    # The example automations live with the action they target, behind the condition the root's parameter sets.
    assert "ExampleNewPatientAlertRule" not in child.resources()
    enabled = [t for t in nested(EnableExampleAutomations="true") if "ExampleNewPatientAlertRule" in t.resources()]
    assert enabled == [t for t in enabled if "MedicalAlertCreateActionFunction" in t.template["Resources"]] != []


def test_a_nested_stack_must_be_a_local_file() -> None:
    template = {
        "Resources": {
            "Child": {
                "Type": "AWS::Serverless::Application",
                "Properties": {"Location": "https://s3.amazonaws.com/bucket/child.yaml"},
            }
        }
    }
    with pytest.raises(TemplateError, match="only a Location relative to the template"):
        resolve_stacks(ResolvedTemplate(template), {}.__getitem__, lambda t: None)


def test_bringing_a_key_drops_the_stack_key() -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    template = ResolvedTemplate(build_template(), {"ClinikoContactEmail": "ops@clinic.example", "KmsKeyArn": key})
    assert template.conditions["CreateKmsKey"] is False
    assert not template.resources("AWS::KMS::Key", "AWS::KMS::Alias")
    assert template.resolve(template.template["Outputs"]["KmsKeyArn"]["Value"]) == key
    with pytest.raises(TemplateError, match="KmsKeyArn"):
        ResolvedTemplate(build_template(), {"ClinikoContactEmail": "ops@clinic.example", "KmsKeyArn": "alias/mine"})
