"""EventBridge semantics the local stack applies: does a pattern match an event (the runtime's matcher,
`cliniko_connector.patterns`), and what does an InputTransformer make of it (the compiler's renderer,
`cliniko_tools.automations.render`). The one place the local stack asks."""

from __future__ import annotations

from typing import Any

from cliniko_connector.patterns import matches as pattern_matches
from cliniko_tools.automation_stack.spec import InputTransformer
from cliniko_tools.automations import compile as compiled
from cliniko_tools.automations.render import render as render_input


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return pattern_matches(pattern, event)


def render(
    transformer: InputTransformer | None, event: dict[str, Any], *, rule_name: str = "", rule_arn: str = ""
) -> str:
    """The text the target receives (the whole event as JSON without a transformer)."""
    core = (
        None
        if transformer is None
        else compiled.InputTransformer(dict(transformer.input_paths_map), transformer.input_template)
    )
    return render_input(core, event, rule_name=rule_name, rule_arn=rule_arn).text
