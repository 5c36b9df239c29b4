"""The local stack's template resolver: parameters, conditions, intrinsics and SAM globals."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_tools.devtools.template import build_template
from cliniko_tools.local.template import Physical, ResolvedTemplate, TemplateError

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
        "ExampleAutomationsEnabled": False,
        "HasActionRequestPrincipals": False,
        "HasAlarmTopic": False,
        "TracingActive": False,  # PassThrough by default: no trace per invocation
    }
    assert "ExampleNewPatientAlertRule" not in template.resources()
    assert "KmsKey" in template.resources("AWS::KMS::Key")
    assert template.resolve({"Fn::Sub": "cliniko-connector-${Stage}"}) == "cliniko-connector-dev"


def test_bringing_a_key_drops_the_stack_key() -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    template = ResolvedTemplate(build_template(), {"ClinikoContactEmail": "ops@clinic.example", "KmsKeyArn": key})
    assert template.conditions["CreateKmsKey"] is False
    assert not template.resources("AWS::KMS::Key", "AWS::KMS::Alias")
    assert template.resolve(template.template["Outputs"]["KmsKeyArn"]["Value"]) == key
    with pytest.raises(TemplateError, match="KmsKeyArn"):
        ResolvedTemplate(build_template(), {"ClinikoContactEmail": "ops@clinic.example", "KmsKeyArn": "alias/mine"})
