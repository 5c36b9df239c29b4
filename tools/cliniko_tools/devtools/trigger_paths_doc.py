"""The trigger-paths section of `docs/automations.md`: every path an automation file may use, per trigger,
generated from the same schemas `automations validate` checks against (`cliniko_tools.automations.schema`).
`python -m cliniko_tools.devtools.actions_doc` writes it with the actions table."""

from __future__ import annotations

from collections.abc import Iterable

from cliniko_connector.catalog.triggers import TRIGGERS, Trigger
from cliniko_tools.automations.schema import leaf_paths

BEGIN = "<!-- BEGIN trigger paths: generated from the event schemas by `render_trigger_paths()`; do not edit -->"
END = "<!-- END trigger paths -->"
DATA = "$.detail.data."


def _types(kinds: frozenset[str]) -> str:
    named = "/".join(sorted(kinds - {"null"})) or ("null" if kinds else "any")
    return named + (" or null" if "null" in kinds and len(kinds) > 1 else "")


def _listing(paths: Iterable[tuple[str, frozenset[str]]], prefix: str) -> str:
    return "<br>".join(f"`{path.removeprefix(prefix)}` {_types(kinds)}" for path, kinds in paths)


def render_trigger_paths() -> str:
    """The generated section (markers included): the paths every trigger has, then each resource's."""
    by_trigger = {name: list(leaf_paths(name)) for name in sorted(TRIGGERS)}
    common = set.intersection(*({p for p, _ in paths if not p.startswith(DATA)} for paths in by_trigger.values()))
    first = next(iter(by_trigger.values()))
    lines = [
        BEGIN,
        "",
        "Every trigger's events carry these (`<name>` in text stands for `$.detail.name`):",
        "",
        "| path | type |",
        "| --- | --- |",
        *(f"| `{path}` | {_types(kinds)} |" for path, kinds in first if path in common),
        "",
        "and, in `full` payload mode, the record under `$.detail.data` (`<name>` in text stands for",
        "`$.detail.data.name`):",
        "",
        "| resource | triggers | more `$.detail` paths | `$.detail.data` paths |",
        "| --- | --- | --- | --- |",
    ]
    resources: dict[str, list[Trigger]] = {}
    for trigger in sorted(TRIGGERS.values(), key=lambda t: t.name):
        resources.setdefault(trigger.resource, []).append(trigger)
    for resource, triggers in sorted(resources.items()):
        paths = {p: k for t in triggers for p, k in by_trigger[t.name]}
        extra = [(p, k) for p, k in paths.items() if p not in common and not p.startswith(DATA)]
        data = [(p, k) for p, k in paths.items() if p.startswith(DATA)]
        names = "<br>".join(f"`{t.name}`" for t in triggers)
        lines.append(
            f"| `{resource}` | {names} | {_listing(extra, '$.detail.') or '-'} | {_listing(data, DATA) or '-'} |"
        )
    lines += ["", END]
    return "\n".join(lines)
