"""`automations test`: whether an event matches an automation, and exactly what each target would receive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cliniko_connector import patterns
from cliniko_tools.automations.compile import CompiledRule, CompiledTarget, compile_automation
from cliniko_tools.automations.model import ActionTarget, AutomationFile, Folder
from cliniko_tools.automations.render import Rendered, render
from cliniko_tools.automations.validate import action_input_problems


@dataclass
class TargetTrial:
    target: CompiledTarget
    destination: str
    rendered: Rendered
    problems: list[str] = field(default_factory=list)
    due_at: str | None = None  # when a waiting target would run for this event (UTC)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.target.id,
            "kind": self.target.kind,
            "ref": self.target.ref,
            "destination": self.destination,
            "input": self.rendered.value if self.rendered.valid else self.rendered.text,
            "is_json": self.rendered.is_json,
            "missing_paths": [self.target.transformer.paths_map[v] for v in self.rendered.missing]
            if self.target.transformer
            else [],
            "problems": self.problems,
            "wait": dict(self.target.wait) if self.target.wait else None,
            "due_at": self.due_at,
        }


@dataclass
class Trial:
    automation: str
    rule: CompiledRule
    matched: bool
    mismatch: str | None
    targets: list[TargetTrial]

    @property
    def ok(self) -> bool:
        return self.matched and not any(t.problems for t in self.targets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "automation": self.automation,
            "matched": self.matched,
            "mismatch": self.mismatch,
            "event_pattern": self.rule.event_pattern,
            "targets": [t.to_dict() for t in self.targets],
        }


def destination(target: CompiledTarget, folder: Folder) -> str:
    """Where a target's input goes, in words."""
    if target.kind == "action":
        return f"Cliniko action {target.ref}"
    if target.kind == "webhook":
        webhook = folder.webhook(target.ref)
        return f"{webhook.webhook.method} {webhook.webhook.endpoint}" if webhook else f"webhook {target.ref}"
    if target.kind in ("email", "sms"):
        return f"SNS topic {target.ref} ({target.kind})"
    return f"SQS queue {target.ref}" if target.kind == "queue" else f"event bus {target.ref}"


def try_event(item: AutomationFile, folder: Folder, event: dict[str, Any], *, source: str = "cliniko") -> Trial:
    """Match `event` against the automation's rule and render every target's input (even without a match,
    so a near-miss still shows what would be sent). Raises `CompileError` for an automation that doesn't
    compile (a `where` EventBridge would refuse among them)."""
    automation = item.automation
    rule = compile_automation(automation, source=source)
    missed = patterns.mismatch(rule.event_pattern, event)
    trials = []
    for target, compiled in zip(automation.do, rule.targets, strict=True):
        rendered = render(compiled.transformer, event, rule_name=automation.name)
        problems: list[str] = []
        if rendered.missing and compiled.transformer is not None:
            gone = ", ".join(compiled.transformer.paths_map[v] for v in rendered.missing)
            problems.append(f"not in this event: {gone}")
        if not rendered.valid:
            problems.append("the input is not valid JSON")
        elif isinstance(target, ActionTarget):
            problems += [
                f"`{'.'.join(str(p) for p in loc)}`: {msg}"
                for loc, msg in action_input_problems(target.action, rendered.value)
            ]
        trial = TargetTrial(compiled, destination(compiled, folder), rendered, problems)
        if compiled.wait:
            trial.due_at = due_for(compiled.wait, event)
            if trial.due_at is None:
                problems.append(f"not in this event: {compiled.wait.get('before')} (when it would run)")
        trials.append(trial)
    return Trial(automation.name, rule, missed is None, missed, trials)


def due_for(wait: Mapping[str, Any], event: Mapping[str, Any]) -> str | None:
    """When a target with `wait` would run for `event` (the scheduling function's own rule), as UTC text."""
    from datetime import timedelta

    from cliniko_connector.usecases.schedules import lookup, parse_time, utc_text

    if wait.get("before"):
        moment = parse_time(lookup(event, str(wait["before"])))
        return None if moment is None else utc_text(moment - timedelta(seconds=int(wait.get("offset_seconds", 0))))
    occurred = parse_time(lookup(event, "$.detail.occurred_at"))
    return None if occurred is None else utc_text(occurred + timedelta(seconds=int(wait.get("after_seconds", 0))))
