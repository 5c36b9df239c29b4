"""What a deploy works from: each automation's rule pattern and targets (with their InputTransformers), and the
webhooks they call. Built from the automation files by `cliniko_tools.automations` (model and compiler);
everything here is already compiled, so the stack builders never read YAML themselves."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# `schedule`: the connector's scheduling function, for a target that waits (its `due` rule delivers it later).
TargetKind = Literal["action", "webhook", "email", "sms", "queue", "bus", "schedule"]
AuthType = Literal["api_key", "basic", "oauth_client_credentials"]
MAX_TARGETS = 5  # one EventBridge rule's limit
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
# A waiting automation's other rules: `<name>.follow` (its record's later events) and `<name>.due-<n>`.
PART_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}\.(follow|due-[1-5])$")
SCHEDULE_FUNCTION = "ScheduleActionsFunction"


class InputTransformer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_paths_map: dict[str, str] = Field(default_factory=dict)
    input_template: str

    def cfn(self) -> dict[str, Any]:
        body: dict[str, Any] = {"InputTemplate": self.input_template}
        if self.input_paths_map:
            body["InputPathsMap"] = dict(self.input_paths_map)
        return body


class TargetSpec(BaseModel):
    """One target. `ref` names what it delivers to: the action (`communication.create`), the webhook's
    declaration, an SNS topic ARN for email/sms (empty: the stack creates a topic with `subscriptions`), an SQS
    queue ARN or name (a name: the stack creates it), or an event bus ARN or name."""

    model_config = ConfigDict(extra="forbid")

    kind: TargetKind
    ref: str = ""
    id: str = Field(default="", description="the rule target's Id (the compiler's; default `<kind><n>`)")
    transformer: InputTransformer | None = None
    subscriptions: list[str] = Field(default_factory=list, description="email addresses or phone numbers")
    wait: dict[str, Any] | None = Field(default=None, description="`at`, compiled (`eventmodels.Wait`)")


class AutomationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    trigger: str = ""
    pattern: dict[str, Any]
    targets: list[TargetSpec]
    source_file: str | None = None
    part_of: str | None = Field(default=None, description="the automation this rule is a part of (waiting targets)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value) and not PART_PATTERN.match(value):
            raise ValueError("an automation's name is lower-case letters, digits and dashes, at most 48")
        return value

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[TargetSpec]) -> list[TargetSpec]:
        if not 1 <= len(value) <= MAX_TARGETS:
            raise ValueError(f"an automation has 1 to {MAX_TARGETS} targets (one EventBridge rule's limit)")
        return value

    def fingerprint(self) -> str:
        """Changes whenever what the rule does changes; what `plan` compares on the local stack."""
        body = self.model_dump(mode="json", exclude={"source_file", "description", "part_of"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


class WebhookSpec(BaseModel):
    """A webhook declaration: where and how to call. Its secret (the API key, the basic-auth password or the
    OAuth client secret) is never part of it: it is given at deploy (see `secrets`)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    endpoint: str
    method: str = "POST"
    auth: AuthType = "api_key"
    header: str = "Authorization"
    username: str = ""
    token_url: str = ""
    client_id: str = ""
    token_method: str = "POST"  # noqa: S105 (an HTTP method, not a secret)
    scope: str | None = None
    rate_per_second: int = 10

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class DeploySpec(BaseModel):
    """Everything one automations stack holds."""

    automations: list[AutomationSpec] = Field(default_factory=list)
    webhooks: dict[str, WebhookSpec] = Field(default_factory=dict)

    def used_webhooks(self) -> list[str]:
        names = {t.ref for a in self.automations for t in a.targets if t.kind == "webhook"}
        return sorted(names)

    def check(self) -> list[str]:
        """Problems that would make the stack unbuildable (the file checks proper are `automations validate`)."""
        problems: list[str] = []
        seen: set[str] = set()
        for automation in self.automations:
            if automation.name in seen:
                problems.append(f"{automation.name}: two automations have this name")
            seen.add(automation.name)
            for target in automation.targets:
                if target.kind == "webhook" and target.ref not in self.webhooks:
                    problems.append(f"{automation.name}: webhook {target.ref!r} is not declared in the folder")
                if not target.ref:
                    problems.append(f"{automation.name}: a {target.kind} target needs a name")
        return problems


def camel(name: str) -> str:
    """`no-show-follow-up` → `NoShowFollowUp` (CloudFormation logical ids are alphanumeric)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def bounded(name: str, limit: int) -> str:
    """`name`, or its head and a hash when longer than `limit` (AWS name limits)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9]}-{digest}"


def rule_name(automation: str) -> str:
    """The rule's name on the connector's bus, the same on AWS and on the local stack."""
    return bounded(f"automation-{automation}", 64)


def from_folder(path: str | Path, *, source: str) -> tuple[DeploySpec, list[str]]:
    """The automation files of `path` compiled for a bus whose triggers have `source`, and every problem
    (`file:line: message`) that stops a deploy: parse and compile problems (`automations validate` says more)."""
    from cliniko_tools.automations.compile import CompileError, compile_automation
    from cliniko_tools.automations.model import ApiKeyAuth, BasicAuth, EmailTarget, SmsTarget, load_folder

    folder = load_folder(Path(path))
    problems = [str(p) for p in folder.problems]
    spec = DeploySpec()
    for webhook_file in folder.webhooks:
        hook = webhook_file.webhook
        auth = hook.auth
        fields: dict[str, Any] = {"auth": auth.type}
        if isinstance(auth, ApiKeyAuth):
            fields["header"] = auth.header
        elif isinstance(auth, BasicAuth):
            fields["username"] = auth.username
        else:
            fields.update(
                token_url=auth.token_url, client_id=auth.client_id, token_method=auth.http_method, scope=auth.scope
            )
        spec.webhooks[hook.name] = WebhookSpec(
            name=hook.name,
            endpoint=hook.endpoint,
            method=hook.method,
            rate_per_second=hook.rate_per_second or 10,
            **fields,
        )
    for item in folder.automations:
        try:
            rule = compile_automation(item.automation, source=source)
        except CompileError as exc:
            problems.append(str(item.problem(exc.loc, str(exc))))
            continue
        targets = []
        for compiled, declared in zip(rule.targets, item.automation.do, strict=True):
            transformer = None
            if compiled.transformer is not None:
                transformer = InputTransformer(
                    input_paths_map=dict(compiled.transformer.paths_map), input_template=compiled.transformer.template
                )
            targets.append(
                TargetSpec(
                    wait=dict(compiled.wait) if compiled.wait is not None else None,
                    kind=compiled.kind,
                    ref=compiled.ref,
                    id=compiled.id,
                    transformer=transformer,
                    subscriptions=list(declared.subscribe) if isinstance(declared, EmailTarget | SmsTarget) else [],
                )
            )
        spec.automations.extend(
            waiting_parts(
                AutomationSpec(
                    name=rule.automation,
                    description=rule.description,
                    trigger=rule.trigger,
                    pattern=rule.event_pattern,
                    targets=targets,
                    source_file=str(item.path),
                ),
                [t.wait for t in rule.targets],
                source,
            )
        )
    problems.extend(spec.check())
    return spec, problems


def waiting_parts(automation: AutomationSpec, waits: list[Any], source: str) -> list[AutomationSpec]:
    """An automation whose targets wait, as the rules that make it work (none wait: the automation itself):
    - the automation's rule, each waiting target replaced by the scheduling function with a schedule request;
    - `<name>.follow`: the record's other triggers, sent to the scheduling function to move or drop the schedule;
    - `<name>.due-<n>`: `Scheduled Action Due` of this automation and target, delivered to the target itself."""
    from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE, TRIGGERS
    from cliniko_connector.eventmodels import SCHEDULED_ACTION_DUE
    from cliniko_tools.automations.compile import CompiledTarget, due_transformer, schedule_transformer
    from cliniko_tools.automations.compile import InputTransformer as Compiled

    if not any(waits):
        return [automation]
    main: list[TargetSpec] = []
    follow: list[TargetSpec] = []
    parts: list[AutomationSpec] = []
    for index, (target, wait) in enumerate(zip(automation.targets, waits, strict=True), start=1):
        if not wait:
            main.append(target)
            continue
        inner = None
        if target.transformer is not None:
            inner = Compiled(dict(target.transformer.input_paths_map), target.transformer.input_template)
        compiled = CompiledTarget(target.id, target.kind, target.ref, inner, wait=wait)  # type: ignore[arg-type]
        for follows, into in ((False, main), (True, follow)):
            request = schedule_transformer(automation.name, index, compiled, follow=follows)
            into.append(
                TargetSpec(
                    kind="schedule",
                    ref=SCHEDULE_FUNCTION,
                    id=f"{index}-schedule-{target.kind}"[:64],
                    transformer=InputTransformer(
                        input_paths_map=dict(request.paths_map), input_template=request.template
                    ),
                )
            )
        due = due_transformer(target.kind)
        parts.append(
            AutomationSpec(
                name=f"{automation.name}.due-{index}",
                description=f"{automation.name}: target {index} when its time comes",
                trigger=automation.trigger,
                pattern={
                    "source": [source],
                    "detail-type": [SCHEDULED_ACTION_DUE],
                    "detail": {"automation": [automation.name], "target": [index]},
                },
                targets=[
                    target.model_copy(
                        update={
                            "wait": None,
                            "transformer": InputTransformer(
                                input_paths_map=dict(due.paths_map), input_template=due.template
                            ),
                        }
                    )
                ],
                source_file=automation.source_file,
                part_of=automation.name,
            )
        )
    trigger = TRIGGERS[automation.trigger]
    others = [t.detail_type for t in STREAMS_BY_RESOURCE[trigger.resource].triggers if t.name != trigger.name]
    follow_pattern: dict[str, Any] = {"source": [source], "detail-type": others}
    connections = automation.pattern.get("detail", {}).get("connection_id")
    if connections:
        follow_pattern["detail"] = {"connection_id": connections}
    head = automation.model_copy(update={"targets": main})
    follower = AutomationSpec(
        name=f"{automation.name}.follow",
        description=f"{automation.name}: later changes of the record move or drop its pending schedules",
        trigger=automation.trigger,
        pattern=follow_pattern,
        targets=follow,
        source_file=automation.source_file,
        part_of=automation.name,
    )
    return [head, follower, *parts]
