"""What a target receives: an InputTransformer applied to an event, with EventBridge's semantics.

- Each InputPathsMap entry is a JSON path (dot notation, array indices) into the event. A path that doesn't
  resolve creates no variable: its placeholder becomes nothing.
- A template that starts as JSON (`{`, `[` or `"`) is JSON: a placeholder outside quotes becomes the value's
  JSON (a string with its quotes); inside quotes, the value's text, escaped so the string stays JSON (a non-string
  value: its JSON, escaped). EventBridge passes JSON minified.
- Any other template is text: placeholders become the value's text (a non-string: its JSON).
- Predefined: `<aws.events.rule-name>`, `<aws.events.rule-arn>`, `<aws.events.event.ingestion-time>` and
  `<aws.events.event.json>` (the whole event, inserted unescaped as AWS documents: use it as a JSON value).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cliniko_connector.jsonpath import MISSING as _MISSING
from cliniko_connector.jsonpath import lookup
from cliniko_tools.automations.compile import InputTransformer


@dataclass(frozen=True)
class Rendered:
    """The input one target gets. `value` is the parsed JSON (JSON templates, or the event when there is no
    transformer); `missing` names the variables whose path didn't resolve in this event."""

    text: str
    value: Any = None
    is_json: bool = False
    valid: bool = True
    missing: tuple[str, ...] = field(default_factory=tuple)


def _variables(
    transformer: InputTransformer, event: Mapping[str, Any], rule_name: str, rule_arn: str
) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    missing: list[str] = []
    for name, path in transformer.paths_map.items():
        value = lookup(event, path)
        if value is _MISSING:
            missing.append(name)
        else:
            values[name] = value
    values["aws.events.rule-name"] = rule_name
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.event.ingestion-time"] = str(event.get("time", ""))
    return values, missing


def _is_json(template: str) -> bool:
    return template.lstrip()[:1] in ("{", "[", '"')


def render(
    transformer: InputTransformer | None,
    event: Mapping[str, Any],
    *,
    rule_name: str = "",
    rule_arn: str = "",
) -> Rendered:
    """The exact input a target with `transformer` receives for `event` (None: the event as it is)."""
    if transformer is None:
        text = json.dumps(event, separators=(",", ":"))
        return Rendered(text, dict(event), is_json=True)
    values, missing = _variables(transformer, event, rule_name, rule_arn)
    whole_event = json.dumps(event, separators=(",", ":"))
    template = transformer.template
    as_json = _is_json(template)
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(template):
        ch = template[i]
        if as_json and in_string and escaped:
            out.append(ch)
            escaped = False
            i += 1
            continue
        if ch == "<":
            end = template.find(">", i + 1)
            name = template[i + 1 : end] if end > i else ""
            if name == "aws.events.event.json":
                out.append(whole_event)
                i = end + 1
                continue
            if name in values or name in transformer.paths_map:
                out.append(_fill(values.get(name, _MISSING), as_json=as_json, in_string=in_string))
                i = end + 1
                continue
        if as_json:
            if ch == "\\" and in_string:
                escaped = True
            elif ch == '"':
                in_string = not in_string
        out.append(ch)
        i += 1
    text = "".join(out)
    if not as_json:
        return Rendered(text, text, missing=tuple(missing))
    try:
        value = json.loads(text)
    except ValueError:
        return Rendered(text, None, is_json=True, valid=False, missing=tuple(missing))
    return Rendered(json.dumps(value, separators=(",", ":"), ensure_ascii=False), value, True, True, tuple(missing))


def _fill(value: Any, *, as_json: bool, in_string: bool) -> str:
    if value is _MISSING:
        return ""
    if not as_json:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = json.dumps(value, ensure_ascii=False)
    if in_string:
        # A string's own text, escaped; any other value's JSON, escaped as a string's content.
        return text[1:-1] if isinstance(value, str) else json.dumps(text, ensure_ascii=False)[1:-1]
    return text
