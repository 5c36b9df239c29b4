"""`automations validate`: everything that can be known about a folder of automations before deploying it.

Beyond each file's shape (`model.load_folder`): the trigger and actions exist; every path a target uses exists
in the trigger's events; `where` is a valid EventBridge pattern on fields that exist; each action's input, built
from the trigger's sample event, is valid for the action; and, where the stack's connections are known, the
connections named (or, for an automation on every connection, each connection) allow its actions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.errors import did_you_mean
from cliniko_connector.eventmodels import ActionRequest
from cliniko_tools.automations.compile import CompiledRule, CompileError, compile_automation, where_loc
from cliniko_tools.automations.model import ActionTarget, AutomationFile, Folder, Loc, Problem
from cliniko_tools.automations.render import render
from cliniko_tools.automations.schema import is_trigger, path_types


@dataclass
class Report:
    """Problems make `validate` fail; notes are said and don't."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    rules: dict[str, CompiledRule] = field(default_factory=dict)


def sample_event(trigger: str) -> dict[str, Any]:
    """The catalog's sample event of a trigger (`events/triggers/<trigger>.json`), a full-mode record."""
    from cliniko_tools.automations.outcomes import outcome_action, sample_outcome_event
    from cliniko_tools.devtools.events_doc import sample_trigger_event

    action = outcome_action(trigger)
    return sample_outcome_event(action) if action is not None else sample_trigger_event(TRIGGERS[trigger])


def action_input_problems(action: str, request: Any) -> list[tuple[Loc, str]]:
    """Why a rendered request isn't one the action runs (field names and messages, never the values)."""
    try:
        parsed = ActionRequest.model_validate(request)
    except ValidationError as exc:
        return [(tuple(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
    try:
        ACTIONS[action].input_model.model_validate(parsed.input)
    except ValidationError as exc:
        return [
            (("input", *(str(p) for p in e["loc"])), str(e["msg"]).removeprefix("Value error, ")) for e in exc.errors()
        ]
    return []


def _where_fields(node: Mapping[str, Any], prefix: str) -> Iterator[str]:
    """The leaf fields a (compiled) `detail` pattern filters on, as paths into the event."""
    for key, value in node.items():
        if key == "$or" and isinstance(value, list):
            for branch in value:
                if isinstance(branch, Mapping):
                    yield from _where_fields(branch, prefix)
        elif isinstance(value, Mapping):
            yield from _where_fields(value, f"{prefix}.{key}")
        else:
            yield f"{prefix}.{key}"


def check_automation(
    item: AutomationFile,
    *,
    source: str = "cliniko",
    allowed: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[list[Problem], list[Problem], CompiledRule | None]:
    """The problems and notes of one automation, and its rule when it compiles. `allowed`: each known
    connection's allowed actions (None: the stack isn't reachable, so not checked)."""
    automation = item.automation
    problems: list[Problem] = []
    notes: list[Problem] = []
    trigger = automation.when.trigger
    if not is_trigger(trigger):
        problems.append(
            item.problem(
                ("when", "trigger"),
                f"no trigger {trigger!r}{did_you_mean(trigger, TRIGGERS)} (see `cliniko-connector triggers list`)",
            )
        )
    for index, target in enumerate(automation.do):
        if isinstance(target, ActionTarget) and target.action not in ACTIONS:
            problems.append(
                item.problem(
                    ("do", index, "action"),
                    f"no action {target.action!r}{did_you_mean(target.action, ACTIONS)} "
                    "(see `cliniko-connector actions list`)",
                )
            )
    if problems:
        return problems, notes, None
    try:
        rule = compile_automation(automation, source=source)
    except CompileError as exc:
        return [item.problem(exc.loc, str(exc))], notes, None
    for event_path in _where_fields(rule.event_pattern.get("detail", {}), "$.detail"):
        if path_types(trigger, event_path) is None:
            field_name = event_path.removeprefix("$.detail.")
            loc = where_loc(automation.when.where, field_name)
            problems.append(item.problem(loc, f"`{field_name}` is not a field of {trigger} events"))
    sample = sample_event(trigger)
    for index, (target, compiled) in enumerate(zip(automation.do, rule.targets, strict=True)):
        if compiled.transformer is None:
            continue
        unknown = [p for p in compiled.transformer.paths_map.values() if path_types(trigger, p) is None]
        for path in unknown:
            loc = compiled.locations.get(path, ("do", index))
            problems.append(
                item.problem(loc, f"`{path}` is not in {trigger} events (`automations new` lists the paths)")
            )
        if unknown:
            continue
        rendered = render(compiled.transformer, sample, rule_name=automation.name)
        if not rendered.valid:
            problems.append(item.problem(("do", index), "the target's input is not valid JSON for the sample event"))
        elif isinstance(target, ActionTarget):
            for loc, message in action_input_problems(target.action, rendered.value):
                where = ".".join(str(p) for p in loc)
                problems.append(
                    item.problem(("do", index, *loc), f"{target.action} `{where}`: {message} (with the sample event)")
                )
    problems.extend(_connection_problems(item, allowed, notes))
    return problems, notes, rule


def _connection_problems(
    item: AutomationFile, allowed: Mapping[str, tuple[str, ...]] | None, notes: list[Problem]
) -> Iterator[Problem]:
    automation = item.automation
    actions = [(i, t.action) for i, t in enumerate(automation.do) if isinstance(t, ActionTarget)]
    if allowed is None or not actions:
        return
    named = automation.when.connections
    for connection in named or sorted(allowed):
        if connection not in allowed:
            yield item.problem(("when", "connections"), f"the stack has no connection {connection!r}")
            continue
        for index, action in actions:
            if action not in allowed[connection]:
                message = (
                    f"{connection} does not allow {action}: run `cliniko-connector connections allow "
                    f"{connection} {action}`"
                )
                if named:
                    yield item.problem(("do", index, "action"), message)
                else:  # every connection: one that doesn't allow it just fails there (ActionNotAllowed)
                    notes.append(item.problem(("do", index, "action"), message))


def check_folder(
    folder: Folder, *, source: str = "cliniko", allowed: Mapping[str, tuple[str, ...]] | None = None
) -> Report:
    report = Report(problems=list(folder.problems))
    for item in folder.automations:
        problems, notes, rule = check_automation(item, source=source, allowed=allowed)
        report.problems += problems
        report.notes += notes
        if rule is not None:
            report.rules[item.automation.name] = rule
    report.problems.sort(key=lambda p: (str(p.file), p.line))
    return report
