"""What a trigger's events hold, by JSON path: the paths an automation may use and the JSON types at each.

Built from the same schema as `docs/schemas/` (the event model plus each resource's data schema from the
official spec), so paths checked here are the paths the poller publishes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from cliniko_connector.catalog.triggers import TRIGGERS, Changed, Removed, Trigger
from cliniko_connector.jsonpath import split_path

# The envelope every EventBridge event has around `detail`.
ENVELOPE_TYPES: dict[str, frozenset[str]] = {
    "version": frozenset({"string"}),
    "id": frozenset({"string"}),
    "detail-type": frozenset({"string"}),
    "source": frozenset({"string"}),
    "account": frozenset({"string"}),
    "time": frozenset({"string"}),
    "region": frozenset({"string"}),
    "resources": frozenset({"array"}),
}
ANY = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


@cache
def detail_schema(trigger_name: str) -> dict[str, Any]:
    from cliniko_tools.automations.outcomes import outcome_action, outcome_detail_schema
    from cliniko_tools.devtools.events_doc import trigger_schema

    action = outcome_action(trigger_name)
    if action is not None:
        return outcome_detail_schema(action)
    return trigger_schema(TRIGGERS[trigger_name])


def is_trigger(name: str) -> bool:
    """A trigger of the catalog, or `<action>.succeeded` (an action's successes)."""
    from cliniko_tools.automations.outcomes import outcome_action

    return name in TRIGGERS or outcome_action(name) is not None


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The alternatives a schema node stands for ($ref followed, anyOf/oneOf spread)."""
    if "$ref" in node:
        return _resolve(defs[str(node["$ref"]).rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [alt for option in node[key] for alt in _resolve(option, defs)]
    return [node]


def _types(node: Mapping[str, Any], defs: Mapping[str, Any]) -> frozenset[str]:
    out: set[str] = set()
    for alt in _resolve(node, defs):
        kind = alt.get("type")
        if isinstance(kind, list):
            out.update(str(k) for k in kind)
        elif isinstance(kind, str):
            out.add(kind)
        elif "const" in alt:
            out.add(_json_type(alt["const"]))
        elif "enum" in alt:
            out.update(_json_type(v) for v in alt["enum"])
        elif "properties" in alt:
            out.add("object")
        else:
            return ANY
    return frozenset(out)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _previous_schema(trigger: Trigger, schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """`previous` holds the watched fields of rescheduled and removed events, typed as in `data`."""
    transition = trigger.transition
    if not isinstance(transition, Changed | Removed):
        return None
    defs = schema.get("$defs", {})
    data = next((alt for alt in _resolve(schema["properties"]["data"], defs) if "properties" in alt), {})
    props = data.get("properties", {})
    return {"type": ["object", "null"], "properties": {f: props.get(f, {}) for f in transition.fields}}


def path_types(trigger_name: str, path: str) -> frozenset[str] | None:
    """The JSON types the value at `path` can have in this trigger's events, or None when no such path
    exists. Inside an object that allows any field, any path exists and has any type."""
    parts = split_path(path)
    if not parts or not is_trigger(trigger_name):
        return None
    head, rest = parts[0], parts[1:]
    if head != "detail":
        return ENVELOPE_TYPES.get(str(head)) if not rest else (ANY if head == "resources" else None)
    schema = detail_schema(trigger_name)
    defs = schema.get("$defs", {})
    nodes: list[Mapping[str, Any]] = [schema]
    for i, part in enumerate(rest):
        found: list[Mapping[str, Any]] = []
        for node in nodes:
            for alt in _resolve(node, defs):
                if isinstance(part, int):
                    if "items" in alt:
                        found.append(alt["items"])
                elif i == 0 and part == "previous" and trigger_name in TRIGGERS:
                    previous = _previous_schema(TRIGGERS[trigger_name], schema)
                    if previous is not None:
                        found.append(previous)
                elif part in alt.get("properties", {}):
                    found.append(alt["properties"][part])
                elif alt.get("additionalProperties") is True:
                    return ANY
        if not found:
            return None
        nodes = found
    out: set[str] = set()
    for node in nodes:
        out.update(_types(node, defs))
    return frozenset(out)


def leaf_paths(trigger_name: str) -> Iterator[tuple[str, frozenset[str]]]:
    """Every path of the trigger's `detail` down to its scalars (and arrays), with their types, in schema order."""
    schema = detail_schema(trigger_name)
    defs = schema.get("$defs", {})

    def walk(node: Mapping[str, Any], path: str, depth: int) -> Iterator[tuple[str, frozenset[str]]]:
        props: dict[str, Any] = {}
        for alt in _resolve(node, defs):
            props.update(alt.get("properties", {}))
        if not props or depth > 6:
            yield path, _types(node, defs)
            return
        for name, child in props.items():
            yield from walk(child, f"{path}.{name}", depth + 1)

    for name, node in schema["properties"].items():
        if name == "previous":
            previous = _previous_schema(TRIGGERS[trigger_name], schema)
            if previous is None:
                yield "$.detail.previous", frozenset({"null"})
                continue
            node = previous
        yield from walk(node, f"$.detail.{name}", 1)
