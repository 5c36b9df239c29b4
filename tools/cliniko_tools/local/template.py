"""Just enough of CloudFormation and SAM to run template.yaml locally.

Parameters (defaults + overrides, with AllowedValues/AllowedPattern checked), Conditions (Fn::Equals/Not/
And/Or and Condition references), and Ref / Fn::Sub / Fn::GetAtt / Fn::If / Fn::Join / Fn::Select / Fn::Split
against physical names the caller supplies. SAM `Globals.Function` is merged into every function the way
SAM does: maps merge, lists concatenate (globals first), scalars from the function win.

Nested stacks (`AWS::Serverless::Application` with a local `Location`, what `dev render` writes under stacks/)
are read as CloudFormation reads them (`resolve_stacks`): each child gets the parameters its parent passes,
resolved against the parent's physical names, and the parent's `Fn::GetAtt [Child, Outputs.X]` the child's
output. Locally every stack shares the root's pseudo parameters (so its names), and logical ids are unique across
the stacks (`dev render` makes them so).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cliniko_connector.errors import ConfigurationError

FUNCTION_TYPE = "AWS::Serverless::Function"
APPLICATION_TYPE = "AWS::Serverless::Application"
_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


class TemplateError(ConfigurationError):
    """The template uses something the local stack can't resolve, or a parameter is missing or invalid."""

    error_type = "TemplateError"


class _NoValue:
    """`Ref: AWS::NoValue`: the enclosing property disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class Physical:
    """A resource's `Ref` value and its `Fn::GetAtt` attributes."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


def load_template(path: str | Path) -> dict[str, Any]:
    """Read a template written with long-form intrinsics (what `dev render` generates)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"can't read the template {path}: {exc.strerror}") from None
    except yaml.constructor.ConstructorError as exc:
        raise TemplateError(
            f"{path}: short-form intrinsics (!Ref, !Sub ...) are not supported: {exc.problem}"
        ) from None
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return data


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


class ResolvedTemplate:
    """A template with its parameters and conditions fixed; resolves intrinsics on demand."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str] | None = None,
        *,
        pseudo: Mapping[str, str] | None = None,
        directory: str = "",
    ) -> None:
        self.template = template
        # Where the template is, relative to the root template's directory: its CodeUri and Location start there.
        self.directory = directory
        self.pseudo: dict[str, str] = {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::StackName": "cliniko-connector-local",
            "AWS::URLSuffix": "amazonaws.com",
            **(pseudo or {}),
        }
        self.parameters = self._parameters(parameters or {})
        self.physical: dict[str, Physical] = {}
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self._condition(name, ())

    # -- parameters and conditions --

    def _parameters(self, overrides: Mapping[str, str]) -> dict[str, str]:
        declared: dict[str, Any] = self.template.get("Parameters", {})
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(unknown)}")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in overrides:
                value = str(overrides[name])
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                raise TemplateError(f"parameter {name} has no default; pass {name}=VALUE")
            allowed = spec.get("AllowedValues")
            if allowed is not None and value not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern is not None and not re.fullmatch(pattern, value):
                raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
            values[name] = value
        return values

    def _condition(self, name: str, stack: tuple[str, ...]) -> bool:
        if name in self.conditions:
            return self.conditions[name]
        if name in stack:
            raise TemplateError(f"condition {name} refers to itself")
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        result = self._evaluate(conditions[name], (*stack, name))
        self.conditions[name] = result
        return result

    def _evaluate(self, node: Any, stack: tuple[str, ...]) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise TemplateError(f"not a condition: {node!r}")
        ((fn, arg),) = node.items()
        if fn == "Condition":
            return self._condition(str(arg), stack)
        if fn == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self._evaluate(arg[0], stack)
        if fn == "Fn::And":
            return all(self._evaluate(a, stack) for a in arg)
        if fn == "Fn::Or":
            return any(self._evaluate(a, stack) for a in arg)
        raise TemplateError(f"unsupported condition function {fn}")

    def condition(self, name: str) -> bool:
        return self._condition(name, ())

    # -- resources --

    def resources(self, *types: str) -> dict[str, dict[str, Any]]:
        """Resources (of `types`, if given) whose Condition holds, in template order."""
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if (not types or resource["Type"] in types)
            and ("Condition" not in resource or self.condition(resource["Condition"]))
        }

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A SAM function's Properties with Globals.Function merged in (unresolved)."""
        resource = self.template["Resources"][logical_id]
        if resource["Type"] != FUNCTION_TYPE:
            raise TemplateError(f"{logical_id} is not an {FUNCTION_TYPE}")
        global_props = self.template.get("Globals", {}).get("Function", {})
        merged: dict[str, Any] = _merge_globals(global_props, resource.get("Properties", {}))
        return merged

    # -- intrinsics --

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            if self.template.get("Parameters", {}).get(name, {}).get("Type") == "CommaDelimitedList":
                return [item.strip() for item in self.parameters[name].split(",")]
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name].ref
        raise TemplateError(f"can't resolve Ref {name} locally")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        physical = self.physical.get(logical_id)
        if physical is None or attribute not in physical.attributes:
            raise TemplateError(f"can't resolve Fn::GetAtt {logical_id}.{attribute} locally")
        return physical.attributes[attribute]

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.physical:
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return str(self._ref(name))

        return _SUB_VAR.sub(replace, text).replace("${!", "${")

    def resolve(self, node: Any) -> Any:
        """`node` with every intrinsic replaced; AWS::NoValue entries are dropped from maps and lists."""
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self._ref(str(arg))
            if key == "Fn::GetAtt":
                logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self._get_att(logical_id, self.resolve(attribute))
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self._sub(arg, {})
                text, variables = arg
                return self._sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::If":
                name, then, otherwise = arg
                return self.resolve(then if self.condition(name) else otherwise)
            if key == "Fn::Join":
                separator, items = arg
                return str(separator).join(str(v) for v in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key.startswith("Fn::"):
                raise TemplateError(f"unsupported intrinsic {key}")
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def _parameter_text(value: Any) -> str:
    """A value passed to a nested stack's parameter, as CloudFormation passes it: text (lists comma-joined)."""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        raise TemplateError(f"can't pass {value!r} to a nested stack")
    return str(value)


def resolve_stacks(
    root: ResolvedTemplate,
    read: Callable[[str], Mapping[str, Any]],
    assign: Callable[[ResolvedTemplate], None],
) -> list[ResolvedTemplate]:
    """`root` and every stack nested in it (depth first, parents before children), each with its physical names
    assigned by `assign`. `read(path)` reads a template by its path relative to the root template's directory."""
    assign(root)
    found = [root]
    for logical_id, resource in root.resources(APPLICATION_TYPE).items():
        props = resource.get("Properties", {})
        location = root.resolve(props.get("Location"))
        if not isinstance(location, str) or "://" in location or posixpath.isabs(location):
            raise TemplateError(
                f"{logical_id}: only a Location relative to the template runs locally, not {location!r}"
            )
        path = posixpath.normpath(posixpath.join(root.directory, location))
        parameters = {name: _parameter_text(root.resolve(value)) for name, value in props.get("Parameters", {}).items()}
        try:
            child = ResolvedTemplate(read(path), parameters, pseudo=root.pseudo, directory=posixpath.dirname(path))
        except TemplateError as exc:
            raise TemplateError(f"nested stack {logical_id} ({path}): {exc}") from None
        found.extend(resolve_stacks(child, read, assign))
        outputs = {
            f"Outputs.{name}": str(child.resolve(output["Value"]))
            for name, output in child.template.get("Outputs", {}).items()
            if "Condition" not in output or child.condition(output["Condition"])
        }
        root.physical[logical_id] = Physical(root.physical[logical_id].ref, outputs)
    return found


def template_reader(root_path: str | Path) -> Callable[[str], dict[str, Any]]:
    """`read` for `resolve_stacks`: nested templates are files beside the root template."""
    directory = Path(root_path).parent
    return lambda path: load_template(directory / path)
