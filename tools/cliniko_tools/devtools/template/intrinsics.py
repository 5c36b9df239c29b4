"""CloudFormation's own vocabulary: intrinsics, written long-form so `yaml.safe_load` reads the template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def get_att(logical_id: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def arn_of(logical_id: str) -> dict[str, Any]:
    return get_att(logical_id, "Arn")


def sub(text: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"Fn::Sub": [text, dict(variables)] if variables else text}


def if_(condition: str, then: Any, otherwise: Any) -> dict[str, Any]:
    return {"Fn::If": [condition, then, otherwise]}


NO_VALUE = ref("AWS::NoValue")
# Explicit deletion policies for every stateful resource (cfn-lint I3011).
KEEP = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
DISPOSABLE = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
ARN_PREFIX = "arn:${AWS::Partition}"
