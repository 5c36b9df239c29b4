"""The automations stack on the local stack (moto server): what `automations plan/deploy/list/remove` do there.

Each automation is a rule `automation-<name>` on the connector's bus, filtering on the pattern's source and
detail-type (`coarse_pattern`). Each of its targets is, on moto, a queue `automation-<name>-<target>` that
receives those events untransformed; the runner (`delivery`) applies the whole pattern with EventBridge's
rules, renders the target's InputTransformer with EventBridge's semantics and delivers for real: the action's
handler, an HTTP call to the webhook's endpoint with its connection's auth header, an SNS publish, an SQS
message, PutEvents on the other bus. A delivery that fails past the retries goes
to the automation's dead-letter queue `automation-<name>-dlq`, as on AWS.

What was deployed is recorded in `automations.json` next to the stack's state file (the local counterpart of
the CloudFormation stack); `plan` diffs against it. Webhook secrets go into the EventBridge connection on moto
(which keeps them in its Secrets Manager, as AWS does) and nowhere else.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.loopback import is_loopback_url
from cliniko_tools.automation_stack.cfn import build_template, connection_auth, pattern_for, target_id
from cliniko_tools.automation_stack.connector import ConnectorOutputs, function_logical_id
from cliniko_tools.automation_stack.spec import (
    SCHEDULE_FUNCTION,
    AutomationSpec,
    DeploySpec,
    InputTransformer,
    TargetKind,
    WebhookSpec,
    bounded,
    rule_name,
)
from cliniko_tools.local.endpoint import ensure_local_aws_environment, require_loopback_endpoint
from cliniko_tools.local.stack import StackState, create_queue, write_whole

STATE_FILE_NAME = "automations.json"
METRICS_FILE_NAME = "automations-metrics.jsonl"
RULE_PREFIX = "automation-"  # `local up` keeps rules with this prefix (local.stack.KEPT_RULE_PREFIXES)
DELIVERY_VISIBILITY_SECONDS = 30
AUTH_FIELDS = {"auth", "header", "username", "token_url", "client_id", "token_method", "scope"}


class LocalTarget(BaseModel):
    target_id: str
    kind: TargetKind
    ref: str
    transformer: InputTransformer | None = None
    queue_url: str = Field(description="where moto delivers the matched event for this target")
    function: str | None = None
    topic_arn: str | None = None
    topic_created: bool = False
    target_queue_url: str | None = None
    queue_created: bool = False
    bus: str | None = None


class LocalWebhook(BaseModel):
    name: str
    endpoint: str = Field(description="where the local stack calls (the declared one, or --local-endpoint's)")
    declared_endpoint: str
    method: str
    auth: dict[str, Any] = Field(description="the declaration's auth fields (never the secret)")
    connection_name: str
    connection_arn: str
    secret_arn: str
    fingerprint: str


class LocalAutomation(BaseModel):
    name: str
    part_of: str | None = None
    description: str = ""
    trigger: str = ""
    rule: str
    event_bus: str
    pattern: dict[str, Any]
    fingerprint: str
    targets: list[LocalTarget]
    dlq_url: str
    source_file: str | None = None


class AutomationsState(BaseModel):
    version: int = 1
    endpoint_url: str
    connector_stack: str
    automations: dict[str, LocalAutomation] = Field(default_factory=dict)
    webhooks: dict[str, LocalWebhook] = Field(default_factory=dict)

    def save(self, path: Path) -> None:
        write_whole(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: Path, stack: StackState) -> AutomationsState:
        """What was deployed on this stack's moto server; empty when nothing was, or it was another server."""
        empty = cls(endpoint_url=stack.endpoint_url, connector_stack=stack.stack_name)
        if not path.is_file():
            return empty
        state = cls.model_validate_json(path.read_text(encoding="utf-8"))
        if state.endpoint_url != stack.endpoint_url or state.connector_stack != stack.stack_name:
            return empty  # that moto server is gone: nothing recorded there exists
        return state


def state_path_for(stack_state_path: Path) -> Path:
    return stack_state_path.parent / STATE_FILE_NAME


def metrics_path_for(stack_state_path: Path) -> Path:
    return stack_state_path.parent / METRICS_FILE_NAME


def connector_from_state(stack: StackState) -> ConnectorOutputs:
    from cliniko_connector.catalog.actions import ACTIONS

    bus = stack.event_buses.get("EventBus") or next(iter(stack.event_buses.values()), None)
    if bus is None:
        raise ConfigurationError("the local stack has no event bus: run `cliniko-connector local up` first")
    functions = {
        name: stack.functions[function_logical_id(name)].arn
        for name in ACTIONS
        if function_logical_id(name) in stack.functions
    }
    return ConnectorOutputs(
        stack_name=stack.stack_name,
        region=stack.region,
        account_id=stack.account_id,
        bus_name=bus,
        bus_arn=f"arn:aws:events:{stack.region}:{stack.account_id}:event-bus/{bus}",
        event_source=stack.parameters.get("EventSource", "cliniko"),
        alarm_topic_arn=stack.parameters.get("AlarmTopicArn", ""),
        function_arns=functions,
        schedule_function_arn=stack.functions[SCHEDULE_FUNCTION].arn if SCHEDULE_FUNCTION in stack.functions else "",
        schedule_group=next(iter(stack.schedule_groups.values()), ""),
    )


# -- plan --


@dataclass
class Plan:
    """What a deploy would do: names per kind of change (automations, and webhooks as `webhook NAME`)."""

    add: list[str] = field(default_factory=list)
    change: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    details: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.remove)


def _target_summary(kind: str, ref: str) -> str:
    return f"{kind} {ref}".strip()


def local_plan(
    spec: DeploySpec, recorded: AutomationsState, endpoint_overrides: Mapping[str, str] | None = None
) -> Plan:
    plan = Plan()
    wanted = {a.name: a for a in spec.automations}
    for name, automation in wanted.items():
        before = recorded.automations.get(name)
        if before is None:
            plan.add.append(name)
        elif before.fingerprint != automation.fingerprint():
            plan.change.append(name)
            plan.details[name] = _differences(before, automation)
    plan.remove.extend(sorted(set(recorded.automations) - set(wanted)))
    overrides = endpoint_overrides or {}
    for name in spec.used_webhooks():
        webhook = spec.webhooks[name]
        before_hook = recorded.webhooks.get(name)
        label = f"webhook {name}"
        if before_hook is None:
            plan.add.append(label)
        elif before_hook.fingerprint != webhook.fingerprint() or (
            name in overrides and overrides[name] != before_hook.endpoint
        ):
            plan.change.append(label)
    plan.remove.extend(f"webhook {n}" for n in sorted(set(recorded.webhooks) - set(spec.used_webhooks())))
    return plan


def _differences(before: LocalAutomation, after: AutomationSpec) -> list[str]:
    lines: list[str] = []
    if before.trigger != after.trigger:
        lines.append(f"trigger {before.trigger} → {after.trigger}")
    old = [_target_summary(t.kind, t.ref) for t in before.targets]
    new = [_target_summary(t.kind, t.ref) for t in after.targets]
    lines.extend(f"+ target {t}" for t in new if t not in old)
    lines.extend(f"- target {t}" for t in old if t not in new)
    if not lines:
        lines.append("pattern or target input changed")
    return lines


# -- deploy --


class LocalAutomationsStack:
    """Deploys a `DeploySpec` onto the local stack `stack` and records it at `path`."""

    def __init__(self, stack: StackState, stack_state_path: Path) -> None:
        require_loopback_endpoint(stack.endpoint_url)
        ensure_local_aws_environment()
        self.stack = stack
        self.path = state_path_for(stack_state_path)
        self.connector = connector_from_state(stack)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.stack.endpoint_url, region_name=self.stack.region
            )
        return self._clients[service]

    def recorded(self) -> AutomationsState:
        """What was deployed and is still there: a moto server started afresh on the same port holds none of it."""
        state = AutomationsState.load(self.path, self.stack)
        if state.automations:
            live = self._rule_names()
            state.automations = {n: a for n, a in state.automations.items() if a.rule in live}
        if state.webhooks:
            live = {c["Name"] for c in self.client("events").list_connections(NamePrefix=RULE_PREFIX)["Connections"]}
            state.webhooks = {n: w for n, w in state.webhooks.items() if w.connection_name in live}
        return state

    def _rule_names(self) -> set[str]:
        """The automations' rules on the bus, every page (a waiting automation has three)."""
        names: set[str] = set()
        kwargs: dict[str, Any] = {"NamePrefix": RULE_PREFIX, "EventBusName": self.connector.bus_name}
        while True:
            page = self.client("events").list_rules(**kwargs)
            names.update(rule["Name"] for rule in page.get("Rules", []))
            if not page.get("NextToken"):
                return names
            kwargs["NextToken"] = page["NextToken"]

    def plan(self, spec: DeploySpec, endpoint_overrides: Mapping[str, str] | None = None) -> Plan:
        build_template(spec, self.connector)  # the same checks as on AWS: every action has its function
        return local_plan(spec, self.recorded(), endpoint_overrides)

    def deploy(
        self,
        spec: DeploySpec,
        secrets: Mapping[str, str],
        endpoint_overrides: Mapping[str, str] | None = None,
    ) -> Plan:
        """Apply `spec`; `secrets` holds the webhook secrets given at this deploy (required for new webhooks)."""
        overrides = dict(endpoint_overrides or {})
        problems = spec.check()
        if problems:
            raise ConfigurationError("; ".join(problems))
        recorded = self.recorded()
        plan = self.plan(spec, overrides)
        missing = [n for n in spec.used_webhooks() if n not in recorded.webhooks and n not in secrets]
        if missing:
            raise ConfigurationError(
                f"the webhook(s) {', '.join(missing)} need a secret at their first deploy: "
                "--secret-file NAME=FILE (or NAME=- for standard input)"
            )
        for name in spec.used_webhooks():
            recorded.webhooks[name] = self._webhook(
                spec.webhooks[name], recorded.webhooks.get(name), secrets.get(name), overrides.get(name)
            )
        for name in [n for n in recorded.webhooks if n not in spec.used_webhooks()]:
            self._delete_webhook(recorded.webhooks.pop(name))
        for automation in spec.automations:
            before = recorded.automations.get(automation.name)
            recorded.automations[automation.name] = self._automation(automation, before)
        for name in [n for n in recorded.automations if n not in {a.name for a in spec.automations}]:
            gone = recorded.automations.pop(name)
            self._delete_automation(gone, list(recorded.automations.values()))
        recorded.save(self.path)
        return plan

    def remove(self, name: str) -> bool:
        """Remove one deployed automation (and webhooks nothing uses any more); False if it isn't deployed."""
        recorded = self.recorded()
        automation = recorded.automations.pop(name, None)
        if automation is None:
            return False
        parts = [n for n, a in recorded.automations.items() if a.part_of == name]  # a waiting one's other rules
        for gone in [automation, *(recorded.automations.pop(n) for n in parts)]:
            self._delete_automation(gone, list(recorded.automations.values()))
        used = {t.ref for a in recorded.automations.values() for t in a.targets if t.kind == "webhook"}
        for hook in [n for n in recorded.webhooks if n not in used]:
            self._delete_webhook(recorded.webhooks.pop(hook))
        recorded.save(self.path)
        return True

    # -- webhooks --

    def _webhook(
        self, webhook: WebhookSpec, before: LocalWebhook | None, secret: str | None, override: str | None
    ) -> LocalWebhook:
        endpoint = override or (before.endpoint if before and before.declared_endpoint == webhook.endpoint else None)
        endpoint = endpoint or webhook.endpoint
        if not is_loopback_url(endpoint):
            raise ConfigurationError(
                f"webhook {webhook.name}: the local stack calls only loopback endpoints; point it at a local "
                f"receiver with --local-endpoint {webhook.name}=http://127.0.0.1:PORT/…"
            )
        events = self.client("events")
        connection_name = bounded(f"automation-{webhook.name}", 64)
        if before is not None and secret is None:
            connection_arn, secret_arn = before.connection_arn, before.secret_arn
            if before.auth != webhook.model_dump(include=AUTH_FIELDS):
                raise ConfigurationError(
                    f"webhook {webhook.name}: its auth changed; give its secret again with --secret-file"
                )
        else:
            if before is not None:
                self._delete_connection(before.connection_name)
            created = events.create_connection(Name=connection_name, **connection_auth(webhook, str(secret)))
            connection_arn = created["ConnectionArn"]
            secret_arn = events.describe_connection(Name=connection_name)["SecretArn"]
        destination = bounded(f"automation-{webhook.name}", 64)
        with contextlib.suppress(ClientError):
            events.delete_api_destination(Name=destination)
        events.create_api_destination(
            Name=destination,
            ConnectionArn=connection_arn,
            InvocationEndpoint=endpoint,
            HttpMethod=webhook.method.upper(),
            InvocationRateLimitPerSecond=webhook.rate_per_second,
        )
        return LocalWebhook(
            name=webhook.name,
            endpoint=endpoint,
            declared_endpoint=webhook.endpoint,
            method=webhook.method.upper(),
            auth=webhook.model_dump(include=AUTH_FIELDS),
            connection_name=connection_name,
            connection_arn=connection_arn,
            secret_arn=secret_arn,
            fingerprint=webhook.fingerprint(),
        )

    def _delete_connection(self, name: str) -> None:
        with contextlib.suppress(ClientError):
            self.client("events").delete_connection(Name=name)

    def _delete_webhook(self, webhook: LocalWebhook) -> None:
        with contextlib.suppress(ClientError):
            self.client("events").delete_api_destination(Name=bounded(f"automation-{webhook.name}", 64))
        self._delete_connection(webhook.connection_name)

    # -- automations --

    def _queue(self, name: str) -> tuple[str, str]:
        url = create_queue(self.client("sqs"), name, {"VisibilityTimeout": str(DELIVERY_VISIBILITY_SECONDS)})
        return url, f"arn:aws:sqs:{self.stack.region}:{self.stack.account_id}:{name}"

    def _automation(self, automation: AutomationSpec, before: LocalAutomation | None) -> LocalAutomation:
        events = self.client("events")
        bus = self.connector.bus_name
        rule = rule_name(automation.name)
        pattern = pattern_for(automation, self.connector)
        dlq_url, _ = self._queue(bounded(re.sub(r"[^A-Za-z0-9_-]", "_", f"{rule}-dlq"), 80))
        events.put_rule(
            Name=rule,
            EventBusName=bus,
            EventPattern=json.dumps(coarse_pattern(pattern)),
            State="ENABLED",
            Description=(automation.description or f"automation {automation.name}")[:512],
        )
        targets: list[LocalTarget] = []
        requests: list[dict[str, Any]] = []
        for index, spec_target in enumerate(automation.targets):
            tid = target_id(index, spec_target)
            queue_url, queue_arn = self._queue(bounded(re.sub(r"[^A-Za-z0-9_-]", "_", f"{rule}-{tid}"), 80))
            target = LocalTarget(
                target_id=tid,
                kind=spec_target.kind,
                ref=spec_target.ref,
                transformer=spec_target.transformer,
                queue_url=queue_url,
            )
            self._destination(automation, tid, spec_target.subscriptions, target)
            targets.append(target)
            requests.append({"Id": tid, "Arn": queue_arn})
        existing = events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]
        stale = [t["Id"] for t in existing if t["Id"] not in {r["Id"] for r in requests}]
        if stale:
            events.remove_targets(Rule=rule, EventBusName=bus, Ids=stale)
        events.put_targets(Rule=rule, EventBusName=bus, Targets=requests)
        if before is not None:
            kept = {t.queue_url for t in targets}
            self._delete_targets(
                [t for t in before.targets if t.queue_url not in kept],
                _destinations([]) | {v for t in targets for v in (t.topic_arn, t.target_queue_url) if v},
            )
        return LocalAutomation(
            name=automation.name,
            description=automation.description,
            trigger=automation.trigger,
            rule=rule,
            event_bus=bus,
            pattern=pattern,
            fingerprint=automation.fingerprint(),
            targets=targets,
            dlq_url=dlq_url,
            source_file=automation.source_file,
            part_of=automation.part_of,
        )

    def _destination(self, automation: AutomationSpec, tid: str, subscriptions: list[str], target: LocalTarget) -> None:
        if target.kind == "action":
            logical_id = function_logical_id(target.ref)
            self.connector.function_arn(target.ref)  # refuses an action the stack has no function for
            target.function = logical_id
        elif target.kind == "schedule":
            self.connector.scheduling_function_arn()  # refuses a stack without the scheduling function
            target.function = SCHEDULE_FUNCTION
        elif target.kind in ("email", "sms"):
            sns = self.client("sns")
            if target.ref.startswith("arn:"):
                target.topic_arn = target.ref
            else:
                target.topic_arn = sns.create_topic(Name=target.ref)["TopicArn"]
                target.topic_created = True
                for endpoint in subscriptions:
                    sns.subscribe(TopicArn=target.topic_arn, Protocol=target.kind, Endpoint=endpoint)
        elif target.kind == "queue":
            sqs = self.client("sqs")
            if target.ref.startswith("arn:"):
                target.target_queue_url = sqs.get_queue_url(QueueName=target.ref.rsplit(":", 1)[-1])["QueueUrl"]
            else:
                target.target_queue_url = create_queue(sqs, target.ref, {})
                target.queue_created = True
        elif target.kind == "bus":
            name = target.ref.rsplit("/", 1)[-1]
            names = {b["Name"] for b in self.client("events").list_event_buses()["EventBuses"]}
            if name not in names:
                raise ConfigurationError(f"{automation.name}: there is no event bus {name} on the local stack")
            target.bus = name

    def _delete_targets(self, targets: list[LocalTarget], still_used: set[str] | None = None) -> None:
        """Delete the targets' delivery queues, and the topics and queues the stack created for them that no
        remaining automation (`still_used`: their topic ARNs and queue URLs) uses."""
        sqs = self.client("sqs")
        used = still_used or set()
        for target in targets:
            _quietly(sqs.delete_queue, QueueUrl=target.queue_url)
            if target.topic_created and target.topic_arn and target.topic_arn not in used:
                _quietly(self.client("sns").delete_topic, TopicArn=target.topic_arn)
            if target.queue_created and target.target_queue_url and target.target_queue_url not in used:
                _quietly(sqs.delete_queue, QueueUrl=target.target_queue_url)

    def _delete_automation(self, automation: LocalAutomation, remaining: list[LocalAutomation] | None = None) -> None:
        events = self.client("events")
        try:
            ids = [
                t["Id"]
                for t in events.list_targets_by_rule(Rule=automation.rule, EventBusName=automation.event_bus)["Targets"]
            ]
            if ids:
                events.remove_targets(Rule=automation.rule, EventBusName=automation.event_bus, Ids=ids)
            events.delete_rule(Name=automation.rule, EventBusName=automation.event_bus)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        self._delete_targets(automation.targets, _destinations(remaining or []))
        _quietly(self.client("sqs").delete_queue, QueueUrl=automation.dlq_url)


def coarse_pattern(pattern: dict[str, Any]) -> dict[str, Any]:
    """What moto's rule filters on: the pattern's source and detail-type, plain strings its matcher gets right.
    The runner applies the whole pattern with EventBridge's rules (`eventbridge.matches`), so moto's looser
    handling of wildcard, numeric, anything-but or arrays of objects can neither add nor drop a match."""
    coarse: dict[str, Any] = {key: pattern[key] for key in ("source", "detail-type") if key in pattern}
    return coarse or {"source": [{"prefix": ""}]}


def _destinations(automations: list[LocalAutomation]) -> set[str]:
    return {
        value
        for automation in automations
        for target in automation.targets
        for value in (target.topic_arn, target.target_queue_url)
        if value
    }


def _quietly(call: Any, **kwargs: Any) -> None:
    with contextlib.suppress(ClientError):
        call(**kwargs)
