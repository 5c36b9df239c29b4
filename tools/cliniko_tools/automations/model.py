"""Automation files: one small YAML file per automation, and webhook declarations, in a folder of the user's repo.

An automation file:

```yaml
name: no-show-follow-up
description: Memo on the patient and a message to the front desk when a patient does not arrive.
when:
  trigger: individual_appointment.did_not_arrive
  connections: [northside-physio]            # optional; default every connection
  where: {data.appointment_type: ...}        # optional EventBridge content filter on `detail`
do:                                          # one to five targets (one rule's limit)
  - action: communication.create             # a Cliniko action of the catalog, with its input
    input: {patient_id: $.detail.data.patient.links.self, content: "Did not arrive for <starts_at>"}
  - webhook: front-desk-slack                # an API destination declared in the same folder
    body: {text: "No-show: appointment <id>"}
  - email: front-desk-email                  # an SNS topic (name or ARN)
    subject: No-show
    message: "Appointment <id> at <starts_at>"
  - sms: on-call-sms                         # an SNS topic
    message: "No-show <id>"
    at: {after: 2h}                          # optional on any target but `bus`: wait (or `before: $.detail…,
                                             # offset: 24h`); see usecases/schedules.py
  - queue: no-shows                          # an SQS queue (name or ARN); `body` optional (default: the event)
  - bus: analytics                           # another event bus (name or ARN): the event as it is
```

A webhook declaration (`kind: webhook`) names an endpoint and how to authenticate, never the secret itself:
the secret is given at deploy time (standard input or a file) and lives with EventBridge.

```yaml
kind: webhook
name: front-desk-slack
endpoint: https://hooks.example.com/services/T000/B000
method: POST
auth: {type: api_key, header: X-Api-Key}      # or {type: basic, username: …}
                                              # or {type: oauth_client_credentials, token_url: …, client_id: …}
```

`load_folder` reads every `*.yaml`/`*.yml` file of a folder (not its sub-folders) or one file, and reports each
problem as `file:line: message` (`Problem`); values given in `input`, `body` and `message` are compiled by
`compile.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from cliniko_connector.loopback import is_loopback_url
from cliniko_connector.models import CONNECTION_ID_PATTERN

MAX_TARGETS = 5  # targets per EventBridge rule
# Names become parts of rule, target and API destination names (64 characters, with a prefix).
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"
# SNS topic, SQS queue and event bus names, or their ARNs.
RESOURCE_PATTERN = r"^(arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[A-Za-z0-9/._:-]{1,256}|[A-Za-z0-9._/-]{1,256})$"
HEADER_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"  # an HTTP header name (RFC 9110 token)
TARGET_KINDS: tuple[str, ...] = ("action", "webhook", "email", "sms", "queue", "bus")
TargetKind = Literal["action", "webhook", "email", "sms", "queue", "bus"]
# Keys that would carry a secret: refused with a message saying where the secret goes instead.
SECRET_KEYS = frozenset(
    {"value", "api_key", "api_key_value", "key", "password", "secret", "client_secret", "token", "bearer"}
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits and dashes (≤ 48)")]
Resource = Annotated[str, Field(pattern=RESOURCE_PATTERN)]
# Who a topic the automations stack creates sends to (SNS confirms each email address by mail first).
EmailAddress = Annotated[str, Field(pattern=r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$", max_length=254)]
PhoneNumber = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +61400000000")]


class When(_Strict):
    trigger: str = Field(description="A trigger of the catalog, e.g. `patient.created`.")
    connections: list[Annotated[str, Field(pattern=CONNECTION_ID_PATTERN)]] | None = Field(
        default=None, min_length=1, description="Only events of these connections; default every connection."
    )
    where: dict[str, Any] | None = Field(
        default=None,
        description="An EventBridge content filter on the event's `detail`; dotted keys (`data.status`) nest.",
    )

    @field_validator("connections")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a connection is listed twice")
        return value


DURATION_PATTERN = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_WAIT_SECONDS = 366 * 86400  # EventBridge Scheduler's one-time schedules take any date; a year bounds mistakes
MIN_WAIT_SECONDS = 60  # Scheduler fires within a minute of its time: shorter waits are not waits


def duration_seconds(text: str) -> int:
    """`24h`, `2h30m`, `1d`, `90s` → seconds; a `ValueError` saying what is expected otherwise."""
    match = DURATION_PATTERN.fullmatch(str(text).strip()) if str(text).strip() else None
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration: write days, hours, minutes, seconds as `1d`, `24h`, `2h30m`")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


class At(_Strict):
    """When a waiting target runs: `before` a timestamp of the record by `offset`, or `after` the trigger."""

    before: str | None = Field(
        default=None, description="A timestamp of the event, as a `$.detail…` path (e.g. `$.detail.data.starts_at`)."
    )
    offset: str | None = Field(default=None, description="How long before `before` (`24h`, `2h30m`, `1d`).")
    after: str | None = Field(default=None, description="How long after the trigger event's change (`2h`).")

    @model_validator(mode="after")
    def _one_anchor(self) -> At:
        if (self.before is None) == (self.after is None):
            raise ValueError("`at` takes either `before: $.detail…` (with `offset`) or `after: DURATION`")
        if self.before is not None:
            if not self.before.startswith("$.detail."):
                raise ValueError("`at.before` is a `$.detail…` path to a timestamp, e.g. `$.detail.data.starts_at`")
            if self.offset is None:
                raise ValueError("`at.before` needs `offset` (how long before: `24h`, `30m`, `0s` for the time itself)")
            seconds = duration_seconds(self.offset)
            if seconds > MAX_WAIT_SECONDS:
                raise ValueError("`at.offset` is at most 366 days")
        else:
            if self.offset is not None:
                raise ValueError("`at.offset` goes with `before`; `after` is itself the wait")
            seconds = duration_seconds(str(self.after))
            if not MIN_WAIT_SECONDS <= seconds <= MAX_WAIT_SECONDS:
                raise ValueError("`at.after` is between 1 minute and 366 days")
        return self

    @property
    def offset_seconds(self) -> int:
        return duration_seconds(self.offset) if self.offset is not None else 0

    @property
    def after_seconds(self) -> int:
        return duration_seconds(self.after) if self.after is not None else 0


class _Waits(_Strict):
    at: At | None = Field(default=None, description="Wait: run when this time comes, not when the event arrives.")


class ActionTarget(_Waits):
    kind: ClassVar[TargetKind] = "action"
    action: str = Field(description="A Cliniko action of the catalog, e.g. `communication.create`.")
    input: dict[str, Any] = Field(default_factory=dict, description="The action's input: literals, paths, `<name>`.")

    @property
    def ref(self) -> str:
        return self.action


class WebhookTarget(_Waits):
    kind: ClassVar[TargetKind] = "webhook"
    webhook: Name = Field(description="A webhook declared in the same folder (`kind: webhook`).")
    body: Any = Field(default=None, description="The request body; default the whole event.")

    @property
    def ref(self) -> str:
        return self.webhook


class EmailTarget(_Waits):
    kind: ClassVar[TargetKind] = "email"
    email: Resource = Field(description="The SNS topic (name or ARN) whose subscribers get the email.")
    subject: str | None = Field(
        default=None,
        max_length=100,
        description="EventBridge publishes to SNS without a subject: it becomes the message's first line.",
    )
    message: str = Field(min_length=1, description="The text; `<name>` placeholders are filled from the event.")
    subscribe: list[EmailAddress] = Field(
        default_factory=list,
        max_length=20,
        description="Addresses subscribed to the topic when the stack creates it (not for a topic given by ARN).",
    )

    @property
    def ref(self) -> str:
        return self.email


class SmsTarget(_Waits):
    kind: ClassVar[TargetKind] = "sms"
    sms: Resource = Field(description="The SNS topic (name or ARN) whose subscribers get the text message.")
    message: str = Field(min_length=1, description="The text; `<name>` placeholders are filled from the event.")
    subscribe: list[PhoneNumber] = Field(
        default_factory=list,
        max_length=20,
        description="Phone numbers (E.164) subscribed to the topic when the stack creates it.",
    )

    @property
    def ref(self) -> str:
        return self.sms


class QueueTarget(_Waits):
    kind: ClassVar[TargetKind] = "queue"
    queue: Resource = Field(description="The SQS queue (name or ARN).")
    body: Any = Field(default=None, description="The message body; default the whole event.")

    @property
    def ref(self) -> str:
        return self.queue


class BusTarget(_Strict):
    kind: ClassVar[TargetKind] = "bus"
    bus: Resource = Field(description="Another event bus (name or ARN); it receives the event as it is.")

    @property
    def ref(self) -> str:
        return self.bus


def _target_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return str(getattr(value, "kind", None))
    if not isinstance(value, Mapping):
        return None
    kinds = [k for k in TARGET_KINDS if k in value]
    return kinds[0] if len(kinds) == 1 else None


Target = Annotated[
    Annotated[ActionTarget, Tag("action")]
    | Annotated[WebhookTarget, Tag("webhook")]
    | Annotated[EmailTarget, Tag("email")]
    | Annotated[SmsTarget, Tag("sms")]
    | Annotated[QueueTarget, Tag("queue")]
    | Annotated[BusTarget, Tag("bus")],
    Discriminator(
        _target_kind,
        custom_error_type="target_kind",
        custom_error_message=f"a target names exactly one of {', '.join(TARGET_KINDS)}",
    ),
]


class Automation(_Strict):
    name: Name
    description: str = ""
    when: When
    do: list[Target] = Field(min_length=1, max_length=MAX_TARGETS)


# --------------------------------------------------------------------------- webhook declarations


class _Auth(_Strict):
    @model_validator(mode="before")
    @classmethod
    def _no_secret(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            secret = sorted(SECRET_KEYS & {str(k).lower() for k in value})
            if secret:
                raise ValueError(
                    f"`{secret[0]}` looks like a secret: secrets never go in automation files; "
                    "`automations deploy` asks for it (standard input or a file)"
                )
        return value


class ApiKeyAuth(_Auth):
    type: Literal["api_key"]
    header: str = Field(pattern=HEADER_PATTERN, description="The header that carries the key, e.g. `X-Api-Key`.")


class BasicAuth(_Auth):
    type: Literal["basic"]
    username: str = Field(min_length=1, max_length=512)


class OAuthClientCredentialsAuth(_Auth):
    type: Literal["oauth_client_credentials"]
    token_url: str = Field(description="The authorization endpoint that issues tokens (HTTPS).")
    client_id: str = Field(min_length=1, max_length=512)
    http_method: Literal["GET", "POST", "PUT"] = "POST"
    scope: str | None = None

    @field_validator("token_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return _endpoint(value)


WebhookAuth = Annotated[ApiKeyAuth | BasicAuth | OAuthClientCredentialsAuth, Field(discriminator="type")]


def _endpoint(value: str) -> str:
    parts = urlsplit(value)
    if not parts.netloc or parts.scheme not in ("https", "http"):
        raise ValueError("must be an https:// URL")
    if parts.scheme == "http" and not is_loopback_url(value):
        raise ValueError("must be https:// (EventBridge calls only HTTPS endpoints; http:// only on 127.0.0.1)")
    return value


class Webhook(_Strict):
    kind: Literal["webhook"]
    name: Name
    description: str = ""
    endpoint: str = Field(description="The URL EventBridge calls (HTTPS; `*` in the path for path parameters).")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "POST"
    auth: WebhookAuth
    rate_per_second: int | None = Field(default=None, ge=1, le=300, description="Invocation rate limit.")

    @field_validator("endpoint")
    @classmethod
    def _https(cls, value: str) -> str:
        return _endpoint(value)


# --------------------------------------------------------------------------- loading with line numbers

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One problem in one file, printed as `file:line: message`."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Lines:
    """Line numbers (1-based) of every key and item of a YAML document, by location (`("do", 0, "input")`)."""

    by_loc: Mapping[Loc, int]

    def of(self, loc: Sequence[str | int]) -> int:
        """The line of `loc`, else of its nearest enclosing location that has one (else 1)."""
        path = tuple(loc)
        while path:
            if path in self.by_loc:
                return self.by_loc[path]
            path = path[:-1]
        return self.by_loc.get((), 1)


@dataclass(frozen=True)
class AutomationFile:
    automation: Automation
    path: Path
    lines: Lines

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return Problem(self.path, self.lines.of(loc), message)


@dataclass(frozen=True)
class WebhookFile:
    webhook: Webhook
    path: Path
    lines: Lines

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return Problem(self.path, self.lines.of(loc), message)


@dataclass
class Folder:
    """What a folder (or one file) holds: the automations and webhooks that parsed, and every problem found."""

    automations: list[AutomationFile] = field(default_factory=list)
    webhooks: list[WebhookFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def webhook(self, name: str) -> WebhookFile | None:
        return next((w for w in self.webhooks if w.webhook.name == name), None)

    def automation(self, name: str) -> AutomationFile | None:
        return next((a for a in self.automations if a.automation.name == name), None)


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 reads `2026-01-01` as a date; automation values are JSON. The loader gets its own copy of the
# resolvers: PyYAML keeps one dict on the base class, shared with every loader and dumper.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BOOL_11 = re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N)$")


def _bool_or_string(loader: _Loader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_scalar(node)
    if _BOOL_11.match(str(value)):
        return value
    return str(value).lower() == "true"


_Loader.add_constructor("tag:yaml.org,2002:bool", _bool_or_string)


def _lines(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            child = (*loc, key)
            out[child] = key_node.start_mark.line + 1
            _lines(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*loc, index), out)


def parse_yaml(text: str, path: Path) -> tuple[Any, Lines] | Problem:
    """The document of one file and its line numbers, or the problem that stops it being read."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return Problem(path, line, f"not valid YAML: {exc.problem or exc.context or 'cannot be read'}")
    except yaml.YAMLError as exc:
        return Problem(path, 1, f"not valid YAML: {exc}")
    lines: dict[Loc, int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, Lines(lines)


def _message(error: Mapping[str, Any]) -> str:
    """pydantic's message for one error, without the value given."""
    loc = _plain_loc(error.get("loc", ()))
    where = ".".join(str(p) for p in loc)
    kind = error.get("type", "")
    msg = str(error.get("msg", "not valid"))
    if kind == "extra_forbidden":
        return f"`{where}` is not a field here"
    if kind == "missing":
        return f"`{where}` is required"
    if kind in ("union_tag_invalid", "union_tag_not_found") and loc and loc[-1] == "auth":
        return f"`{where}.type` must be one of api_key, basic, oauth_client_credentials"
    if kind == "string_pattern_mismatch" and loc and loc[-1] in ("name", "webhook"):
        return f"`{where}`: use lower-case letters, digits and dashes (at most 48)"
    msg = msg.removeprefix("Value error, ")
    return f"`{where}`: {msg}" if where else msg


_TAGS = frozenset({*TARGET_KINDS, "api_key", "basic", "oauth_client_credentials"})


def _plain_loc(loc: Iterable[Any]) -> tuple[str | int, ...]:
    """pydantic's location without the union tags it inserts (`do.0.action.input` → `do.0.input`)."""
    out: list[str | int] = []
    items = list(loc)
    for i, part in enumerate(items):
        # A tag follows a list index (targets) or the `auth` key, and is followed by the field.
        previous = items[i - 1] if i else None
        if part in _TAGS and (isinstance(previous, int) or previous == "auth") and i + 1 < len(items):
            continue
        out.append(part)
    return tuple(out)


def _validate[M: BaseModel](model: type[M], data: Any, path: Path, lines: Lines) -> M | list[Problem]:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return [Problem(path, lines.of(_plain_loc(e["loc"])), _message(e)) for e in exc.errors()]


def load_file(path: Path) -> AutomationFile | WebhookFile | list[Problem]:
    """One file: an automation, a webhook declaration (`kind: webhook`), or the problems that stop it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return [Problem(path, 1, f"cannot be read: {reason}")]
    parsed = parse_yaml(text, path)
    if isinstance(parsed, Problem):
        return [parsed]
    data, lines = parsed
    if not isinstance(data, dict):
        return [Problem(path, 1, "an automation file is a YAML mapping (name, when, do), or `kind: webhook`")]
    kind = data.get("kind", "automation")
    if kind == "webhook":
        webhook = _validate(Webhook, data, path, lines)
        return webhook if isinstance(webhook, list) else WebhookFile(webhook, path, lines)
    if kind != "automation":
        return [Problem(path, lines.of(("kind",)), "`kind` is `automation` (the default) or `webhook`")]
    body = {k: v for k, v in data.items() if k != "kind"}
    automation = _validate(Automation, body, path, lines)
    return automation if isinstance(automation, list) else AutomationFile(automation, path, lines)


def automation_paths(path: Path) -> list[Path]:
    """The YAML files of a folder (sorted, sub-folders left out), or the one file named."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def load_folder(path: Path | str = "automations") -> Folder:
    """Every automation and webhook of a folder (or one file), and each problem as `file:line: message`.

    Beyond each file's own shape: names are unique across the folder, and every `webhook:` target names a
    webhook declared in it. Whether triggers, actions and paths exist is `validate`'s part."""
    path = Path(path)
    folder = Folder()
    if not path.exists():
        folder.problems.append(Problem(path, 1, "no such file or folder"))
        return folder
    for file in automation_paths(path):
        loaded = load_file(file)
        if isinstance(loaded, list):
            folder.problems.extend(loaded)
        elif isinstance(loaded, WebhookFile):
            folder.webhooks.append(loaded)
        else:
            folder.automations.append(loaded)
    if path.is_file():
        # One automation file may name webhooks declared beside it: they come along (their problems don't).
        for file in automation_paths(path.parent):
            if file.resolve() != path.resolve():
                sibling = load_file(file)
                if isinstance(sibling, WebhookFile):
                    folder.webhooks.append(sibling)
    folder.problems.extend(_folder_problems(folder))
    return folder


def _folder_problems(folder: Folder) -> Iterator[Problem]:
    for kind, items in (("automation", folder.automations), ("webhook", folder.webhooks)):
        first: dict[str, Path] = {}
        for item in items:
            name = item.automation.name if isinstance(item, AutomationFile) else item.webhook.name
            if name in first:
                yield item.problem(("name",), f"the {kind} name {name!r} is already used by {first[name]}")
            else:
                first[name] = item.path
    for item in folder.automations:
        for index, target in enumerate(item.automation.do):
            if isinstance(target, WebhookTarget) and folder.webhook(target.webhook) is None:
                yield item.problem(
                    ("do", index, "webhook"),
                    f"no webhook {target.webhook!r} is declared in this folder (a file with `kind: webhook`)",
                )
