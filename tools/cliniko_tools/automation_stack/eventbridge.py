"""EventBridge semantics the local stack applies: does a pattern match an event, and what does an
InputTransformer make of it. Both come from `cliniko_tools.automations` (the compiler's renderer and the
runtime's pattern matcher) when present; this module is the one place the local stack asks."""

from __future__ import annotations

import json
import re
from typing import Any

from cliniko_tools.automation_stack.spec import InputTransformer

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")
_MISSING = object()


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool | None:
    """True/False by the project's EventBridge matcher; None when it isn't available (moto's rule decided)."""
    try:
        from cliniko_connector.patterns import matches as pattern_matches
    except ImportError:
        return None
    return bool(pattern_matches(pattern, event))


def _path(event: Any, path: str) -> Any:
    if path == "$":
        return event
    node = event
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path.removeprefix("$.")):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return _MISSING
            node = node[index]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


def render(transformer: InputTransformer | None, event: dict[str, Any]) -> str:
    """What the target receives: the whole event as JSON without a transformer, else the rendered template.

    A placeholder inside a JSON string gets the value's text, escaped; outside one, a string value is inserted
    as its JSON string, anything else as JSON; a path that doesn't resolve gives null (an empty string in a
    quoted placeholder)."""
    if transformer is None:
        return json.dumps(event)
    values = {name: _path(event, path) for name, path in transformer.input_paths_map.items()}
    values["aws.events.event.json"] = event
    values.setdefault("aws.events.event.ingestion-time", event.get("time", ""))
    template = transformer.input_template
    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue
        out.append(template[position : match.start()])
        value = values[name]
        quoted = _inside_string(template, match.start())
        if quoted:
            text = "" if value is _MISSING or value is None else value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1])
        else:
            out.append("null" if value is _MISSING else json.dumps(value))
        position = match.end()
    out.append(template[position:])
    return "".join(out)


def _inside_string(text: str, index: int) -> bool:
    inside = False
    escaped = False
    for char in text[:index]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside
