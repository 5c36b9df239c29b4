"""An automation → one EventBridge rule: its event pattern, and per target an InputTransformer.

Pure functions (no AWS): `compile_automation` gives a `CompiledRule` that a deploy turns into CloudFormation
(or the local stack's rules) and that `automations test` renders against an event.

Values in `input`, `body` and `message`:
- a whole value `$.detail.…` (or `$.time`, …) or `<name>` is the event's value there: a placeholder quoted when
  the trigger's schema says the value is always a string (so a path that doesn't resolve arrives as `""`), bare
  otherwise (numbers, booleans, objects, lists and nullable values keep their JSON type);
- `<name>` inside text is filled in place, escaped as JSON where the text is a JSON string;
- everything else is a literal, sent as written.

`<name>` stands for `$.detail.<name>` when `name` starts with a field of every trigger event (`id`,
`connection_id`, `event_key`, `occurred_at`, `data`, …), else for `$.detail.data.<name>` (a field of the record):
`<starts_at>` is `$.detail.data.starts_at`, `<id>` is `$.detail.id`. `<aws.events.rule-name>`,
`<aws.events.rule-arn>`, `<aws.events.event.ingestion-time>` and `<aws.events.event.json>` are EventBridge's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cliniko_connector import patterns
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.eventmodels import ACTION_SUCCEEDED, TriggerEventDetail
from cliniko_connector.jsonpath import PLACEHOLDER, is_path, split_path
from cliniko_tools.automations.model import (
    ActionTarget,
    Automation,
    BusTarget,
    EmailTarget,
    Loc,
    QueueTarget,
    SmsTarget,
    Target,
    TargetKind,
    WebhookTarget,
)
from cliniko_tools.automations.outcomes import outcome_action
from cliniko_tools.automations.schema import path_types

DEFAULT_SOURCE = "cliniko"  # the connector stack's `EventSource` default
MAX_TEMPLATE = 8192  # InputTemplate's length limit
MAX_PATHS = 100  # InputPathsMap's entry limit
PREDEFINED = frozenset(
    {"aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time", "aws.events.event.json"}
)
# `result` is an action outcome's (`<result.local_text>` in an automation on `<action>.succeeded`).
DETAIL_FIELDS = frozenset({*TriggerEventDetail.model_fields, "result"})

PathKind = Callable[[str], frozenset[str] | None]


class CompileError(ValueError):
    """An automation that can't become a rule; `loc` says where in its file (`("do", 0, "input", "x")`)."""

    def __init__(self, message: str, loc: Loc = ()) -> None:
        super().__init__(message)
        self.loc = loc


@dataclass(frozen=True)
class InputTransformer:
    paths_map: Mapping[str, str]
    template: str

    def to_aws(self) -> dict[str, Any]:
        """As `AWS::Events::Rule` and `PutTargets` take it."""
        return {"InputPathsMap": dict(self.paths_map), "InputTemplate": self.template}


@dataclass(frozen=True)
class CompiledTarget:
    """One target of the rule. `ref` is what the target names (action, webhook, topic, queue or bus);
    `transformer` None means the target receives the event as it is."""

    id: str
    kind: TargetKind
    ref: str
    transformer: InputTransformer | None
    locations: Mapping[str, Loc] = field(default_factory=dict)
    """Where in the automation's file each path of `transformer` is used first (for `file:line` problems)."""
    wait: Mapping[str, Any] | None = None
    """A waiting target's `at`, as the scheduling function takes it (`eventmodels.Wait`); None: at once."""


@dataclass(frozen=True)
class CompiledRule:
    automation: str
    description: str
    trigger: str
    event_pattern: dict[str, Any]
    targets: tuple[CompiledTarget, ...]


def resolve_name(name: str) -> str:
    """What a `<name>` placeholder stands for: a JSON path, or a predefined variable's own name."""
    if name in PREDEFINED or name.startswith("$"):
        return name
    first = re.split(r"[.\[]", name, maxsplit=1)[0]
    return f"$.detail.{name}" if first in DETAIL_FIELDS else f"$.detail.data.{name}"


# --------------------------------------------------------------------------- event pattern


def _nest(where: Mapping[str, Any], loc: Loc) -> dict[str, Any]:
    """Dotted keys (`data.status`) as nested objects; `$or` lists are nested likewise."""
    out: dict[str, Any] = {}
    for key, value in where.items():
        key = str(key)
        if key == "$or":
            if not isinstance(value, list):
                raise CompileError("`$or` takes a list of patterns", (*loc, key))
            nested: Any = [_nest(v, (*loc, key, i)) if isinstance(v, Mapping) else v for i, v in enumerate(value)]
            _merge(out, {key: nested}, (*loc, key))
            continue
        parts = key.split(".") if not key.startswith("$") else [key]
        if any(not p for p in parts):
            raise CompileError(f"`{key}` is not a field name", (*loc, key))
        leaf = _nest(value, (*loc, key)) if isinstance(value, Mapping) and not _is_operator(value) else value
        node: Any = leaf
        for part in reversed(parts[1:]):
            node = {part: node}
        _merge(out, {parts[0]: node}, (*loc, key))
    return out


def _is_operator(value: Mapping[str, Any]) -> bool:
    return any(str(k) in _OPERATORS for k in value)


_OPERATORS = frozenset(
    {
        "prefix",
        "suffix",
        "anything-but",
        "numeric",
        "exists",
        "cidr",
        "equals-ignore-case",
        "wildcard",
    }
)


def _merge(into: dict[str, Any], other: Mapping[str, Any], loc: Loc) -> None:
    for key, value in other.items():
        if key not in into:
            into[key] = value
        elif isinstance(into[key], dict) and isinstance(value, Mapping):
            _merge(into[key], value, loc)
        else:
            raise CompileError(f"`{key}` is filtered twice", loc)


def event_pattern(automation: Automation, source: str = DEFAULT_SOURCE) -> dict[str, Any]:
    """The rule's pattern: the trigger's source and detail-type, the connections, and `where` inside `detail`;
    one EventBridge would refuse is a `CompileError`."""
    when = automation.when
    trigger = TRIGGERS.get(when.trigger)
    action = outcome_action(when.trigger)
    if trigger is None and action is None:
        raise CompileError(f"no trigger {when.trigger!r}", ("when", "trigger"))
    detail: dict[str, Any] = {}
    if when.where:
        detail = _nest(when.where, ("when", "where"))
    if action is not None:
        if "action" in detail:
            raise CompileError("the trigger names the action: `where` can't filter `action` too", ("when", "where"))
        detail["action"] = [action.name]
    if when.connections:
        if "connection_id" in detail:
            raise CompileError("give the connections in `connections` or in `where`, not both", ("when", "where"))
        detail["connection_id"] = list(when.connections)
    detail_type = trigger.detail_type if trigger is not None else ACTION_SUCCEEDED
    pattern: dict[str, Any] = {"source": [source], "detail-type": [detail_type]}
    if detail:
        pattern["detail"] = detail
    try:
        patterns.validate(pattern)
    except patterns.InvalidEventPattern as exc:
        where = exc.path.removeprefix("detail.")
        raise CompileError(
            f"not a valid EventBridge pattern: {where}: {exc.reason}", where_loc(when.where, where)
        ) from None
    return pattern


def where_loc(where: Mapping[str, Any] | None, field_name: str) -> Loc:
    """Where in the file a `where` field is: its key as written (dotted or nested), else `where` itself."""
    head = field_name.split("[", 1)[0]
    for key in where or {}:
        if head == key or head.startswith(f"{key}."):
            return ("when", "where", key)
    return ("when", "where")


# --------------------------------------------------------------------------- input templates


@dataclass
class _Builder:
    """Builds one InputTemplate, naming one variable per distinct path."""

    kinds: PathKind
    paths: dict[str, str] = field(default_factory=dict)  # variable → path
    locations: dict[str, Loc] = field(default_factory=dict)  # path → where it is first used

    def variable(self, path: str, loc: Loc) -> str:
        if path in PREDEFINED:
            return path
        if split_path(path) is None:
            raise CompileError(f"`{path}` is not a JSON path in dot notation (e.g. `$.detail.data.id`)", loc)
        self.locations.setdefault(path, loc)
        for name, known in self.paths.items():
            if known == path:
                return name
        base = re.sub(r"[^A-Za-z0-9_]+", "_", path.removeprefix("$.").removeprefix("detail.")).strip("_")
        base = base.removeprefix("data_") or "detail"
        name, n = base[:60], 2
        while name in self.paths or name in PREDEFINED:
            name, n = f"{base[:56]}_{n}", n + 1
        if len(self.paths) >= MAX_PATHS:
            raise CompileError(f"a target may use at most {MAX_PATHS} different paths", loc)
        self.paths[name] = path
        return name

    def always_string(self, path: str) -> bool:
        if path in PREDEFINED:
            return path != "aws.events.event.json"
        return self.kinds(path) == frozenset({"string"})

    def value(self, value: Any, loc: Loc) -> str:
        """JSON text of `value` with placeholders."""
        if isinstance(value, Mapping):
            items = []
            for key, item in value.items():
                key = str(key)
                if PLACEHOLDER.search(key) or is_path(key):
                    raise CompileError("a placeholder can't be an object key", (*loc, key))
                items.append(f"{json.dumps(key)}: {self.value(item, (*loc, key))}")
            return "{" + ", ".join(items) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.value(item, (*loc, i)) for i, item in enumerate(value)) + "]"
        if isinstance(value, str):
            return self.string(value, loc)
        return json.dumps(value)

    def whole(self, value: str) -> str | None:
        """The path a whole value stands for (`$.detail.x` or `<x>`), else None."""
        if is_path(value):
            return value
        match = PLACEHOLDER.fullmatch(value)
        return resolve_name(match.group(1)) if match else None

    def string(self, text: str, loc: Loc) -> str:
        path = self.whole(text)
        if path is not None:
            var = self.variable(path, loc)
            return f'"<{var}>"' if self.always_string(path) else f"<{var}>"
        if "$.detail" in text:
            raise CompileError(
                "a `$.detail…` path is a whole value; inside text write `<name>` (e.g. `<data.starts_at>`)", loc
            )
        return '"' + self.text(text, loc, escape=True) + '"'

    def text(self, text: str, loc: Loc, *, escape: bool) -> str:
        """`text` with its `<name>` placeholders as variables; literal parts JSON-escaped when `escape`."""
        out, last = [], 0
        for match in PLACEHOLDER.finditer(text):
            literal = text[last : match.start()]
            out.append(json.dumps(literal)[1:-1] if escape else literal)
            out.append(f"<{self.variable(resolve_name(match.group(1)), loc)}>")
            last = match.end()
        tail = text[last:]
        out.append(json.dumps(tail)[1:-1] if escape else tail)
        return "".join(out)

    def done(self, template: str, loc: Loc) -> InputTransformer:
        if len(template) > MAX_TEMPLATE:
            raise CompileError(f"the target's input is longer than EventBridge's {MAX_TEMPLATE} characters", loc)
        return InputTransformer(dict(self.paths), template)


def idempotency_key(automation: str, index: int) -> str:
    """The InputTemplate text of an action target's key: the change's `event_key`, namespaced by automation and
    target, so two targets (or two automations) running the same action on one change are both done once."""
    return f"{automation}/{index}:<event_key>"


def action_transformer(automation: str, index: int, target: ActionTarget, builder: _Builder) -> InputTransformer:
    """The request the action functions accept as an InputTransformer's output (`eventmodels.ActionRequest`):
    `connection_id` and `event_key` from the event, a key per automation and target, and the input."""
    builder.paths.update(connection_id="$.detail.connection_id", event_key="$.detail.event_key")
    loc: Loc = ("do", index - 1, "input")
    body = builder.value(target.input, loc)
    template = (
        '{"connection_id": "<connection_id>", '
        f'"idempotency_key": "{idempotency_key(automation, index)}", '
        '"event_key": "<event_key>", '
        f'"input": {body}}}'
    )
    return builder.done(template, loc)


def body_transformer(value: Any, loc: Loc, builder: _Builder) -> InputTransformer:
    return builder.done(builder.value(value, loc), loc)


def text_transformer(text: str, loc: Loc, builder: _Builder) -> InputTransformer:
    """A plain-text template (SNS email and SMS): placeholders are filled with the value as it is."""
    if "$.detail" in text and not is_path(text):
        raise CompileError("inside text write `<name>` (e.g. `<data.starts_at>`), not a `$.detail…` path", loc)
    whole = builder.whole(text) if is_path(text) else None
    template = f"<{builder.variable(whole, loc)}>" if whole else builder.text(text, loc, escape=False)
    if template.lstrip()[:1] in ("{", "[", '"'):
        # EventBridge reads a template starting like JSON as JSON: keep text text.
        raise CompileError("a message can't start with `{`, `[` or `\"`", loc)
    return builder.done(template, loc)


def target_id(index: int, target: Target) -> str:
    """`1-action-communication-create`: unique in the rule (by position), readable in the console."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", target.ref.rsplit(":", 1)[-1].rsplit("/", 1)[-1]).strip("-")
    return f"{index}-{target.kind}-{slug}"[:64]


def compile_target(automation: str, index: int, target: Target, kinds: PathKind) -> CompiledTarget:
    """Target `index` (1-based, its position in `do`)."""
    loc: Loc = ("do", index - 1)
    builder = _Builder(kinds)
    transformer: InputTransformer | None
    if isinstance(target, ActionTarget):
        transformer = action_transformer(automation, index, target, builder)
    elif isinstance(target, WebhookTarget | QueueTarget):
        transformer = None if target.body is None else body_transformer(target.body, (*loc, "body"), builder)
    elif isinstance(target, EmailTarget):
        text = f"{target.subject}\n\n{target.message}" if target.subject else target.message
        transformer = text_transformer(text, (*loc, "message"), builder)
    elif isinstance(target, SmsTarget):
        transformer = text_transformer(target.message, (*loc, "message"), builder)
    elif isinstance(target, BusTarget):
        transformer = None
    else:  # pragma: no cover - the union is exhaustive
        raise CompileError(f"unknown target {target!r}", loc)
    wait = (
        compile_wait(target, loc, kinds)
        if isinstance(target, ActionTarget | WebhookTarget | EmailTarget | SmsTarget | QueueTarget)
        else None
    )
    return CompiledTarget(
        target_id(index, target), target.kind, target.ref, transformer, dict(builder.locations), wait=wait
    )


def compile_wait(
    target: ActionTarget | WebhookTarget | EmailTarget | SmsTarget | QueueTarget, loc: Loc, kinds: PathKind
) -> dict[str, Any] | None:
    """`at` as seconds; a `before` path that the trigger's events don't have as text is a `CompileError`."""
    at = target.at
    if at is None:
        return None
    if at.before is None:
        return {"after_seconds": at.after_seconds}
    if split_path(at.before) is None:
        raise CompileError(f"`{at.before}` is not a JSON path in dot notation", (*loc, "at", "before"))
    types = kinds(at.before)
    if types is None:
        raise CompileError(f"the trigger's events have no `{at.before}`", (*loc, "at", "before"))
    if "string" not in types and types != frozenset():
        raise CompileError(f"`{at.before}` is not a timestamp in the trigger's events", (*loc, "at", "before"))
    return {"before": at.before, "offset_seconds": at.offset_seconds}


# --------------------------------------------------------------------------- waiting targets

DUE_REQUEST_PATH = "$.detail.request"
DUE_MESSAGE_PATH = "$.detail.message"


def schedule_transformer(automation: str, index: int, target: CompiledTarget, *, follow: bool) -> InputTransformer:
    """What a waiting target's rule sends the scheduling function (`eventmodels.ScheduleRequest`): the wait, what
    to deliver (the target's own input, rendered from this event) and the trigger event itself."""
    assert target.wait is not None
    inner = target.transformer
    paths = dict(inner.paths_map) if inner is not None else {}
    if target.kind in ("email", "sms"):
        assert inner is not None
        deliver = f'{{"kind": "{target.kind}", "message": "{_json_string_content(inner.template)}"}}'
    else:
        body = inner.template if inner is not None else "<aws.events.event.json>"
        deliver = f'{{"kind": "{target.kind}", "request": {body}}}'
    template = (
        f'{{"automation": "{automation}", "target": {index}, "follow": {"true" if follow else "false"}, '
        f'"at": {json.dumps(dict(target.wait), sort_keys=True)}, "deliver": {deliver}, '
        '"event": <aws.events.event.json>}'
    )
    if len(template) > MAX_TEMPLATE:
        raise CompileError(f"the target's input is longer than EventBridge's {MAX_TEMPLATE} characters", ("do",))
    return InputTransformer(paths, template)


def due_transformer(kind: str) -> InputTransformer:
    """The due rule's input for the target: the stored request (JSON) or message (text) of `Scheduled Action Due`."""
    if kind in ("email", "sms"):
        return InputTransformer({"message": DUE_MESSAGE_PATH}, "<message>")
    return InputTransformer({"request": DUE_REQUEST_PATH}, "<request>")


def _json_string_content(text_template: str) -> str:
    """A text template as the content of a JSON string: its literal parts escaped, its placeholders kept."""
    out, last = [], 0
    for match in PLACEHOLDER.finditer(text_template):
        out.append(json.dumps(text_template[last : match.start()])[1:-1])
        out.append(match.group(0))
        last = match.end()
    out.append(json.dumps(text_template[last:])[1:-1])
    return "".join(out)


def compile_automation(
    automation: Automation, *, source: str = DEFAULT_SOURCE, kinds: PathKind | None = None
) -> CompiledRule:
    """The rule for `automation` on a bus whose trigger events have `source`. `kinds` gives the JSON types at
    a path (default: the trigger's schema); it decides which placeholders are quoted. Raises `CompileError`."""
    pattern = event_pattern(automation, source)
    trigger = automation.when.trigger
    if outcome_action(trigger) is not None:
        for index, target in enumerate(automation.do):
            if getattr(target, "at", None) is not None:
                raise CompileError(
                    "a target of an automation on an action's outcome can't wait: put the wait on the automation "
                    "that runs the action",
                    ("do", index, "at"),
                )
    kinds = kinds or (lambda path: path_types(trigger, path))
    targets = tuple(compile_target(automation.name, i, t, kinds) for i, t in enumerate(automation.do, start=1))
    return CompiledRule(automation.name, automation.description, trigger, pattern, targets)
