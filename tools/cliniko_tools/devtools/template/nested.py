"""Nested stacks: one per resource family, so the stack grows past CloudFormation's per-template limits.

The root keeps what every family shares: the KMS key, the tables, the bus and its policy, the queues, the roles,
the layer, the poll functions, the schema registry (with the action events' schemas), the alarms and the
dashboard. Each family (a catalog resource: `patients`, `invoices`, …) gets a stack of its own, an
`AWS::Serverless::Application` whose `Location` is `stacks/<family>.yaml` (`sam build`/`sam deploy` package it):
its actions' functions, their log groups, rules and permissions, the example automations that target them, the
family's trigger schemas, and an output per function ARN.

A family's resources come from the same generators as the root's; `Localizer` then rewrites everything they name
in the root into parameters of the child, and remembers what the root passes for each: `Ref X` stays `Ref X`
(a child parameter of the same name), `Fn::GetAtt [X, A]` becomes `Ref XA`, the stack's key becomes `StackKeyArn`,
and `AWS::StackName` becomes the root's name (`ParentStackName`): log groups, secrets and metrics are named after
the root stack, as the roles, the key policy and the dashboard expect. Roles stay in the root, so the bus policy
names the same publishers whichever stack a function is in.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cliniko_connector.catalog.actions import Action
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_tools.devtools.template.intrinsics import get_att, ref
from cliniko_tools.devtools.template.names import KMS_KEY_ARN
from cliniko_tools.devtools.template.rules import ExampleAutomation

STACKS_DIR = "stacks"
APPLICATION_TYPE = "AWS::Serverless::Application"
# A family with more actions is split into stacks of this many: 40 actions are ~200 resources after SAM's
# transform (5 each), well inside the 400 (80 % of 500) the limits test holds every stack to.
MAX_ACTIONS_PER_STACK = 40
PARENT_STACK_NAME = "ParentStackName"
STACK_KEY = "StackKeyArn"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@dataclass
class Family:
    """The actions, examples and trigger schemas of one nested stack."""

    name: str
    actions: list[Action] = field(default_factory=list)
    examples: list[ExampleAutomation] = field(default_factory=list)
    schemas: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def logical_id(self) -> str:
        return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", self.name) if part) + "Stack"

    @property
    def location(self) -> str:
        return f"{STACKS_DIR}/{self.name}.yaml"


def trigger_schema_families() -> dict[str, str]:
    """Detail-type → the resource whose stream publishes it (the action events belong to no family)."""
    return {trigger.detail_type: trigger.resource for trigger in TRIGGERS.values()}


def group_families(
    actions: Sequence[Action],
    examples: Sequence[ExampleAutomation],
    schemas: Mapping[str, Mapping[str, Any]],
    schema_families: Mapping[str, str],
) -> list[Family]:
    """One family per catalog resource (in catalog order: actions' first, then streams'), split every
    `MAX_ACTIONS_PER_STACK` actions. A schema whose detail-type has no family stays in the root."""
    by_resource: dict[str, list[Action]] = {}
    for action in actions:
        by_resource.setdefault(action.resource, []).append(action)
    for detail_type in schemas:
        if detail_type in schema_families:
            by_resource.setdefault(schema_families[detail_type], [])
    found: list[Family] = []
    for resource, members in by_resource.items():
        chunks = [members[i : i + MAX_ACTIONS_PER_STACK] for i in range(0, len(members), MAX_ACTIONS_PER_STACK)]
        for index, chunk in enumerate(chunks or [[]]):
            family = Family(resource if index == 0 else f"{resource}_{index + 1}", list(chunk))
            names = {action.name for action in chunk}
            family.examples = [example for example in examples if example.action in names]
            if index == 0:
                family.schemas = {d: s for d, s in schemas.items() if schema_families.get(d) == resource}
            found.append(family)
    return found


class Localizer:
    """Rewrites a family's resources so that what they name in the root becomes the child's parameters."""

    def __init__(self, root_parameters: Mapping[str, Any], root_conditions: Mapping[str, Any]) -> None:
        self.root_parameters = root_parameters
        self.root_conditions = root_conditions
        self.local: set[str] = set()
        self.passed: dict[str, Any] = {}  # child parameter → what the root passes
        self.parameters: dict[str, Any] = {}  # the child's parameter declarations
        self.conditions: dict[str, Any] = {}

    def template(
        self, description: str, resources: Mapping[str, Any], outputs: Mapping[str, Any], globals_: Any
    ) -> dict[str, Any]:
        self.local = set(resources)
        localized_globals = self.node(globals_) if globals_ else None
        localized: dict[str, Any] = {}
        for logical_id, resource in resources.items():
            if "Condition" in resource:
                self._condition(resource["Condition"])
            localized[logical_id] = rebase_code(self.node(resource), "", STACKS_DIR)
        localized_outputs = self.node(dict(outputs))
        template: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Transform": "AWS::Serverless-2016-10-31",
            "Description": description,
            "Parameters": self.parameters,
        }
        if self.conditions:
            template["Conditions"] = self.conditions
        if localized_globals:
            template["Globals"] = localized_globals
        template["Resources"] = localized
        if localized_outputs:
            template["Outputs"] = localized_outputs
        return template

    def node(self, node: Any) -> Any:
        if node == KMS_KEY_ARN:
            return ref(self._pass(STACK_KEY, KMS_KEY_ARN, "The stack's KMS key (the root's own, or KmsKeyArn)."))
        if isinstance(node, list):
            return [self.node(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return ref(self._name(str(arg)))
            if key == "Fn::GetAtt":
                logical_id, attribute = arg
                if logical_id in self.local:
                    return node
                return ref(self._pass(f"{logical_id}{attribute}", get_att(logical_id, attribute)))
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                variables = {name: self.node(value) for name, value in variables.items()}
                text = _SUB_VARIABLE.sub(lambda m: self._sub_variable(m.group(1), variables), text)
                return {"Fn::Sub": [text, variables] if variables else text}
            if key == "Fn::If":
                self._condition(arg[0])
                return {"Fn::If": [arg[0], self.node(arg[1]), self.node(arg[2])]}
            if key == "Condition" and isinstance(arg, str):
                self._condition(arg)
                return node
        return {key: self.node(value) for key, value in node.items()}

    def _sub_variable(self, name: str, variables: Mapping[str, Any]) -> str:
        if name in variables:
            return f"${{{name}}}"
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            if logical_id in self.local:
                return f"${{{name}}}"
            return f"${{{self._pass(f'{logical_id}{attribute}', get_att(logical_id, attribute))}}}"
        return f"${{{self._name(name)}}}"

    def _name(self, name: str) -> str:
        """What `Ref name` becomes in the child."""
        if name in self.local or (name.startswith("AWS::") and name != "AWS::StackName"):
            return name
        if name == "AWS::StackName":
            return self._pass(PARENT_STACK_NAME, ref("AWS::StackName"), "The root stack's name.")
        return self._pass(name, ref(name))

    def _pass(self, name: str, value: Any, description: str | None = None) -> str:
        if name in self.passed:
            if self.passed[name] != value:
                raise ValueError(f"child parameter {name} would be passed two different values")
            return name
        declared = self.root_parameters.get(name)
        if declared is not None and declared["Type"] == "CommaDelimitedList":
            raise ValueError(f"root parameter {name} is a list: a nested stack can't take it as one")
        self.passed[name] = value
        self.parameters[name] = {
            "Type": declared["Type"] if declared is not None else "String",
            "Description": description or f"The root stack's {name}.",
        }
        return name

    def _condition(self, name: str) -> None:
        if name in self.conditions:
            return
        if name not in self.root_conditions:
            raise ValueError(f"unknown condition {name}")
        self.conditions[name] = self.node(self.root_conditions[name])


def rebase_code(resource: dict[str, Any], from_dir: str, to_dir: str) -> dict[str, Any]:
    """`resource` with its local `CodeUri` (relative to `from_dir`) relative to `to_dir`: SAM reads a nested
    template's paths from the template's own directory."""
    code = resource.get("Properties", {}).get("CodeUri")
    if resource["Type"] != "AWS::Serverless::Function" or not isinstance(code, str):
        return resource
    rebased = posixpath.relpath(posixpath.normpath(posixpath.join(from_dir, code)), to_dir or ".")
    return {
        **resource,
        "Properties": {**resource["Properties"], "CodeUri": rebased + ("/" if code.endswith("/") else "")},
    }


def application(family: Family, passed: Mapping[str, Any]) -> dict[str, Any]:
    """The root's resource for a family's stack."""
    return {
        "Type": APPLICATION_TYPE,
        "Properties": {"Location": family.location, "Parameters": dict(passed)},
    }


def inline(node: Any, passed: Mapping[str, Any]) -> Any:
    """The inverse of `Localizer`: `node` of a child with every parameter replaced by what the root passes, so it
    reads as it would in one flat template (what the structural tests and the security checks read)."""
    if isinstance(node, list):
        return [inline(item, passed) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref" and arg in passed:
            return passed[arg]
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            text = _SUB_VARIABLE.sub(lambda m: _sub_text(m.group(1), passed, variables), text)
            variables = {name: inline(value, passed) for name, value in variables.items()}
            return {"Fn::Sub": [text, variables] if variables else text}
    return {key: inline(value, passed) for key, value in node.items()}


def _sub_text(name: str, passed: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
    value = None if name in variables else passed.get(name)
    if isinstance(value, dict) and "Ref" in value:
        return f"${{{value['Ref']}}}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return f"${{{name}}}"


def flattened(stacks: Mapping[str, Mapping[str, Any]], root_path: str) -> dict[str, Any]:
    """One template equivalent to the root and its nested stacks: each family's resources, outputs and conditions
    in place of its stack, read with the parameters the root passes it. Logical ids must be unique across them."""
    root = stacks[root_path]
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = dict(root.get("Outputs", {}))
    conditions: dict[str, Any] = dict(root.get("Conditions", {}))

    def add(into: dict[str, Any], name: str, value: Any) -> None:
        if name in into and into[name] != value:
            raise ValueError(f"{name} is declared twice, differently")
        into[name] = value

    for logical_id, resource in root["Resources"].items():
        if resource["Type"] != APPLICATION_TYPE:
            add(resources, logical_id, resource)
            continue
        props = resource["Properties"]
        child = stacks[props["Location"]]
        passed = props.get("Parameters", {})
        directory = posixpath.dirname(props["Location"])
        for child_id, child_resource in child["Resources"].items():
            add(resources, child_id, rebase_code(inline(child_resource, passed), directory, ""))
        for name, output in child.get("Outputs", {}).items():
            add(outputs, name, inline(output, passed))
        for name, body in child.get("Conditions", {}).items():
            add(conditions, name, inline(body, passed))
    return {**root, "Conditions": conditions, "Resources": resources, "Outputs": outputs}
