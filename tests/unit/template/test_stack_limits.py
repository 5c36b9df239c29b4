"""Every stack of the connector stays under 80 % of CloudFormation's per-stack limits, for the catalog as it is and
for one much bigger (130 actions, 30 streams), counted on SAM's own transform (`aws-sam-translator`)."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_connector.catalog.actions import ACTIONS, Action, Create
from cliniko_tools.devtools.events_doc import all_schemas
from cliniko_tools.devtools.template import APPLICATION_TYPE, TEMPLATE_PATH, build_stacks, render_stacks
from cliniko_tools.devtools.template.limits import MAX_RESOURCES, Usage, transformed, usage
from cliniko_tools.devtools.template.nested import MAX_ACTIONS_PER_STACK

SYNTHETIC_RESOURCES = 30


def synthetic_actions(count: int, resources: int = SYNTHETIC_RESOURCES) -> dict[str, Action]:
    """`count` actions spread over `resources` resources, each as big as the catalog's first."""
    model = next(iter(ACTIONS.values()))
    found = {}
    for index in range(count):
        resource = f"resource_{index % resources}s"
        name = f"resource_{index % resources}.action_{index}"
        found[name] = Action(
            name=name,
            resource=resource,
            description="synthetic " * 20,
            model=model.input_model,
            operation=Create(f"/{resource}"),
            sample_input=model.sample_input,
        )
    return found


def synthetic_streams(count: int, per_stream: int = 4) -> tuple[dict[str, Any], dict[str, str]]:
    """`per_stream` detail-types for each of `count` streams, each with the biggest schema the catalog has."""
    biggest = max(all_schemas().values(), key=lambda schema: len(str(schema)))
    schemas: dict[str, Any] = {}
    families: dict[str, str] = {}
    for stream in range(count):
        for index in range(per_stream):
            detail_type = f"Resource {stream} Thing {index} Happened"
            schemas[detail_type] = biggest
            families[detail_type] = f"resource_{stream}s"
    return schemas, families


def usages(stacks: dict[str, dict[str, Any]]) -> list[Usage]:
    texts = render_stacks(stacks)
    return [usage(path, template, texts[path]) for path, template in stacks.items()]


def test_every_stack_of_the_catalog_is_well_inside_cloudformations_limits() -> None:
    measured = usages(build_stacks())
    assert len(measured) > 1
    assert [over for u in measured for over in u.over()] == []
    # One Lambda per action, in the nested stacks: the root holds the shared pipeline and one stack per family.
    root = measured[0]
    assert root.path == TEMPLATE_PATH and root.resources < 0.2 * MAX_RESOURCES


def test_130_actions_and_30_streams_still_fit_every_stack() -> None:
    schemas, families = synthetic_streams(SYNTHETIC_RESOURCES)
    stacks = build_stacks(synthetic_actions(130), examples=(), schemas=schemas, schema_families=families)
    assert len(stacks) == 1 + SYNTHETIC_RESOURCES
    measured = usages(stacks)
    assert [over for u in measured for over in u.over()] == []
    assert sum(u.resources for u in measured) > MAX_RESOURCES  # more than one flat stack could hold


def test_a_family_too_big_for_one_stack_is_split() -> None:
    count = 2 * MAX_ACTIONS_PER_STACK + 5
    stacks = build_stacks(synthetic_actions(count, resources=1), examples=(), schemas={}, schema_families={})
    assert list(stacks) == [
        TEMPLATE_PATH,
        "stacks/resource_0s.yaml",
        "stacks/resource_0s_2.yaml",
        "stacks/resource_0s_3.yaml",
    ]
    assert [u.over() for u in usages(stacks)] == [[], [], [], []]


def test_each_action_costs_its_stack_five_resources_and_the_root_none() -> None:
    one = build_stacks(synthetic_actions(1, resources=1), examples=(), schemas={}, schema_families={})
    ten = build_stacks(synthetic_actions(10, resources=1), examples=(), schemas={}, schema_families={})
    family = "stacks/resource_0s.yaml"
    per_action = (len(transformed(ten[family])["Resources"]) - len(transformed(one[family])["Resources"])) / 9
    assert per_action == 5  # function, its invoke config, log group, rule, permission
    assert len(transformed(ten[TEMPLATE_PATH])["Resources"]) == len(transformed(one[TEMPLATE_PATH])["Resources"])


@pytest.mark.parametrize("path", ["template.yaml", "stacks/patients.yaml"])
def test_the_transform_expands_what_sam_expands(path: str) -> None:
    """The counts are SAM's: a nested stack becomes an AWS::CloudFormation::Stack, a function its Lambda."""
    stacks = build_stacks()
    processed = transformed(stacks[path])
    kinds = {resource["Type"] for resource in processed["Resources"].values()}
    assert not any(kind.startswith("AWS::Serverless::") for kind in kinds)
    if path == TEMPLATE_PATH:
        applications = [r for r in stacks[path]["Resources"].values() if r["Type"] == APPLICATION_TYPE]
        nested = [r for r in processed["Resources"].values() if r["Type"] == "AWS::CloudFormation::Stack"]
        assert len(nested) == len(applications) == len(stacks) - 1
    else:
        assert "AWS::Lambda::EventInvokeConfig" in kinds and "AWS::Lambda::Function" in kinds
