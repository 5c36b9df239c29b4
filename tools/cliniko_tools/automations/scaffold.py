"""`automations new`: a starting file for a trigger and actions, with the trigger's paths and the actions'
inputs listed in comments, and each required input filled from the event where a path fits (else the
catalog's example value), so the file validates as written."""

from __future__ import annotations

import json
from typing import Any

from cliniko_connector.catalog.actions import ACTIONS, Action
from cliniko_connector.catalog.triggers import TRIGGERS, stream_for_trigger
from cliniko_tools.automations.schema import leaf_paths, path_types
from cliniko_tools.devtools.actions_doc import input_fields

_TYPE_WORDS = {"string": "text", "integer": "integer", "number": "number", "boolean": "true/false", "null": "null"}


def _types(kinds: frozenset[str]) -> str:
    return " or ".join(_TYPE_WORDS.get(k, k) for k in sorted(kinds, key=lambda k: (k == "null", k)))


def suggest(trigger: str, field: str) -> str | None:
    """A path of the trigger's events that fits an input field, by name: the record itself for its own kind's
    id (`patient_id` on patient triggers), a linked record's URL (`patient.links.self`), else a field of the
    same name in the record."""
    singular = stream_for_trigger(trigger).singular
    if field == "id" or field == f"{singular}_id":
        return "$.detail.id"
    if field.endswith("_id"):
        base = field.removesuffix("_id")
        for path in (f"$.detail.data.{base}.links.self", f"$.detail.data.{field}"):
            if path_types(trigger, path) is not None:
                return path
        return None
    path = f"$.detail.data.{field}"
    kinds = path_types(trigger, path)
    return path if kinds is not None and "object" not in kinds and "array" not in kinds else None


def _yaml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _action_lines(trigger: str, action: Action) -> list[str]:
    lines = [f"  # {action.name}: {action.description}", "  #   inputs (* required):"]
    fields = input_fields(action)
    lines += [f"  #     {name}{'*' if required else ''}: {label}" for name, required, label in fields]
    rule = action.input_model.rule() if hasattr(action.input_model, "rule") else None
    if rule:
        lines.append(f"  #   and: {rule}")
    lines += [f"  - action: {action.name}", "    input:"]
    required = [name for name, needed, _ in fields if needed]
    if not required:
        # Finds and lists take one of several lookups: start from the catalog's example.
        required = list(action.sample_input)
    for name in required:
        path = suggest(trigger, name)
        value = path if path is not None else _yaml(action.sample_input.get(name, "TODO"))
        note = "from the event" if path is not None else "example value: change it"
        lines.append(f"      {name}: {value}  # {note}")
    return lines


def scaffold(name: str, trigger_name: str, actions: list[str]) -> str:
    """The text of a new automation file (trigger and actions must exist in the catalog)."""
    trigger = TRIGGERS[trigger_name]
    lines = [
        f"# {trigger.name} ({trigger.detail_type}): {trigger.description}",
        "# Its events' paths: a whole value `$.detail.…`, or `<name>` inside text (`<id>` is $.detail.id,",
        "# `<starts_at>` is $.detail.data.starts_at). `data` is absent in minimal payload mode.",
    ]
    paths = list(leaf_paths(trigger_name))
    width = max(len(p) for p, _ in paths)
    lines += [f"#   {path.ljust(width)}  {_types(kinds)}" for path, kinds in paths]
    lines += [
        f"name: {name}",
        f"description: {_yaml(trigger.description)}",
        "when:",
        f"  trigger: {trigger.name}",
        "  # connections: [CONNECTION]            # only these connections (default: every one)",
        "  # where: {payload_mode: [full]}        # an EventBridge filter on `detail` (dotted keys nest)",
        "do:                                      # up to five targets: action, webhook, email, sms, queue, bus",
    ]
    for action in actions:
        lines += _action_lines(trigger_name, ACTIONS[action])
    return "\n".join(lines) + "\n"
