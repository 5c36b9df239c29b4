"""checkov's skips come from one table by resource kind: every function carries a reason for each check it
skips, the functions of one kind carry the same ones, and no row names a kind the template no longer has."""

from __future__ import annotations

from typing import Any

from cliniko_tools.devtools.template.checkov import SKIPS

FUNCTION = "AWS::Serverless::Function"
# What checkov flags on every Lambda function here (VPC, env encryption, reserved concurrency, DLQ).
FUNCTION_CHECKS = {"CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_115", "CKV_AWS_116"}


def skips_of(resource: dict[str, Any]) -> dict[str, str]:
    listed = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    return {entry["id"]: entry["comment"] for entry in listed}


def test_every_function_gives_a_reason_for_each_check_it_skips(resources: dict[str, Any]) -> None:
    functions = {logical_id: r for logical_id, r in resources.items() if r["Type"] == FUNCTION}
    assert functions
    for logical_id, resource in functions.items():
        skips = skips_of(resource)
        assert set(skips) == FUNCTION_CHECKS, logical_id
        assert all(comment.strip() for comment in skips.values()), logical_id


def test_every_action_function_carries_the_one_action_function_row(resources: dict[str, Any]) -> None:
    actions = [r for logical_id, r in resources.items() if logical_id.endswith("ActionFunction")]
    assert len(actions) > 1
    assert all(skips_of(r) == dict(SKIPS["ActionFunction"]) for r in actions)


def test_every_row_of_the_table_names_a_kind_the_template_has(resources: dict[str, Any]) -> None:
    for kind in SKIPS:
        matching = [logical_id for logical_id in resources if logical_id == kind or logical_id.endswith(kind)]
        assert matching, kind
        assert all(skips_of(resources[logical_id]) == dict(SKIPS[kind]) for logical_id in matching), kind
