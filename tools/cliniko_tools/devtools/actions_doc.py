"""The action table of `docs/automations.md`, generated from the catalog so the docs can't drift.

    python -m cliniko_tools.devtools.actions_doc [--check] [--root DIR]

rewrites (or checks) the section between the two markers; the rest of the document is hand-written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cliniko_connector.catalog.actions import ACTIONS, Action, Get

DOC_PATH = "docs/automations.md"
BEGIN = "<!-- BEGIN actions table: generated from the catalog by `render_actions_doc()`; do not edit by hand -->"
END = "<!-- END actions table -->"

_KIND_LABELS = {
    "id": "id",
    "timestamp": "timestamp",
    "date": "date",
    "email": "email",
    "amount": "amount",
    "country": "country code",
    "time zone": "time zone",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: Mapping[str, Any] = defs[ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _label(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """A short type description of one JSON-schema property."""
    kind = schema.get("x-kind")
    if isinstance(kind, str):
        return _KIND_LABELS.get(kind, kind)
    variants = schema.get("anyOf")
    if isinstance(variants, list):
        non_null = [v for v in variants if v.get("type") != "null"]
        label = " or ".join(_label(v, defs) for v in non_null)
        return f"{label} or null" if len(non_null) < len(variants) else label
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "$ref" in schema:
        target = _resolve(schema, defs)
        return "object {" + ", ".join(f"`{name}`" for name in target.get("properties", {})) + "}"
    kind = schema.get("type")
    if kind == "array":
        return "list of " + _label(schema.get("items", {}), defs)
    if kind == "object":
        return "object"
    if kind == "boolean":
        return "true/false"
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"] + 1
        if "exclusiveMaximum" in schema:
            high = schema["exclusiveMaximum"] - 1
        return f"integer {low} to {high}" if low is not None and high is not None else "integer"
    if kind == "string":
        return f"text (≤ {schema['maxLength']})" if "maxLength" in schema else "text"
    return str(kind or "any")


def input_fields(action: Action) -> list[tuple[str, bool, str]]:
    """(name as sent, required, type label) of every input field: `id` first, then required, then optional."""
    schema = action.input_model.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    rows = [(name, name in required, _label(prop, defs)) for name, prop in schema.get("properties", {}).items()]
    return sorted(rows, key=lambda row: (row[0] != "id", not row[1]))


def result_fields(action: Action) -> list[str]:
    """The keys of the action's `result`."""
    keys = list(action.operation.result)
    if isinstance(action.operation, Get) and action.operation.kinds:
        keys.append("kind")
    return keys


def _result(action: Action) -> str:
    return "`{" + ", ".join(result_fields(action)) + "}`"


def render_actions_doc(actions: Mapping[str, Action] | None = None) -> str:
    """The generated section (markers included) of `docs/automations.md`."""
    actions = ACTIONS if actions is None else actions
    lines = [
        BEGIN,
        "",
        "| action | what it does | Cliniko call | input (**bold** = required) | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for action in sorted(actions.values(), key=lambda a: a.name):
        fields = [
            f"**`{name}`**: {label}" if required else f"`{name}`: {label}"
            for name, required, label in input_fields(action)
        ]
        rule = getattr(action.input_model, "rule", None)
        text = rule() if callable(rule) else None
        if text:
            fields.append(f"*{text}*")
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{action.name}`",
                    _cell(action.description),
                    _cell(action.operation.calls()),
                    _cell("<br>".join(fields)),
                    _result(action),
                ]
            )
            + " |"
        )
    lines += ["", END]
    return "\n".join(lines)


def committed_section(document: str, begin: str = BEGIN, end: str = END) -> str:
    """The generated section of a document, markers included ("" when the markers are missing)."""
    start, stop = document.find(begin), document.find(end)
    if start < 0 or stop < start:
        return ""
    return document[start : stop + len(end)]


def splice(document: str, section: str | None = None) -> str:
    """`document` with its generated sections replaced: the actions table by `section` (default: the current
    catalog's) and the trigger paths by the current schemas'."""
    from cliniko_tools.devtools import trigger_paths_doc as paths

    for begin, end, text in (
        (BEGIN, END, render_actions_doc() if section is None else section),
        (paths.BEGIN, paths.END, paths.render_trigger_paths()),
    ):
        current = committed_section(document, begin, end)
        if not current:
            raise ValueError(f"{DOC_PATH} has no generated section {begin!r} (markers missing)")
        document = document.replace(current, text, 1)
    return document


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed table is out of date")
    parser.add_argument("--root", default=".", help="the repository root")
    args = parser.parse_args(argv)
    path = Path(args.root) / DOC_PATH
    document = path.read_text(encoding="utf-8")
    updated = splice(document)
    if args.check:
        if updated != document:
            sys.stderr.write(f"{DOC_PATH} is out of date: run python -m cliniko_tools.devtools.actions_doc\n")
            return 1
        return 0
    if updated != document:
        path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
