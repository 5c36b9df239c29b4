"""`up()`: create template.yaml's tables, queues, bus and rules on the moto server $AWS_ENDPOINT_URL names.

The nested stacks' resources (stacks/*.yaml) are created the same way, in one state keyed by logical id.

moto can't run Lambda code, and its PutEvents fails for rules with Lambda targets, so every Lambda target
becomes an SQS queue `local-<RuleLogicalId>-<TargetId>` (with the rule's own InputTransformer, if any) that
the runner drains into the handler. `up` is idempotent: it creates what is missing, updates queue attributes
and rules, and deletes rules (and their local queues) the template no longer declares, never a running
`events tail`'s rule or the local archive's. A running `local run` picks the new state up (`LocalRunner`).

One state file owns a stack on a moto server (an SSM parameter there names it): `up` from another folder
refuses to take it over while that file still describes it, rather than rebuild it under the other folder.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from cliniko_tools.local.endpoint import ensure_local_aws_environment, require_loopback_endpoint
from cliniko_tools.local.template import (
    FUNCTION_TYPE,
    Physical,
    ResolvedTemplate,
    TemplateError,
    load_template,
    resolve_stacks,
    template_reader,
)

DEFAULT_STATE_PATH = Path(".local/stack.json")
DEFAULT_STACK_NAME = "cliniko-connector-local"
LOCAL_QUEUE_PREFIX = "local-"
# How long a failed event waits in its local rule-target queue before the next attempt.
LOCAL_TARGET_VISIBILITY_SECONDS = 30
DEFAULT_ASYNC_RETRIES = 2  # Lambda's default for asynchronous invocations
ARCHIVE_RULE_NAME = "local-archive"
ARCHIVE_EVENT_PATTERN = {"source": [{"prefix": ""}]}  # every event
ARCHIVE_RETENTION_SECONDS = 1209600
ARCHIVE_FILE_NAME = "archive.jsonl"
# What the local stack sets unless told otherwise: its connections point at the simulator on loopback.
LOCAL_STACK_PARAMETERS = {"AllowBaseUrlOverride": "true"}
# Rules on the stack's bus that `up` never deletes: `events tail`'s temporary ones (usecases.tail) and the
# automations stack's (`automations deploy`, cliniko_tools.automation_stack.local).
KEPT_RULE_PREFIXES = ("cliniko-tail-", "automation-")
OWNER_PARAMETER = "/cliniko-connector/local/{stack_name}/state-file"

_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoThroughputLimit",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)


class StackOwnedElsewhere(TemplateError):
    error_type = "StackOwnedElsewhere"


class TableInfo(BaseModel):
    name: str
    arn: str


class QueueInfo(BaseModel):
    name: str
    url: str
    arn: str
    fifo: bool = False


class RuleTarget(BaseModel):
    """One target of a rule. `function` is set when the template's target is a Lambda function, which
    locally is the queue `queue` (a key of `StackState.queues`) that the runner drains into it."""

    target_id: str
    queue: str
    function: str | None = None
    input_transformer: bool = False


class RuleInfo(BaseModel):
    name: str
    event_bus: str
    arn: str
    pattern: dict[str, Any]
    targets: list[RuleTarget] = Field(default_factory=list)


class SqsEventSource(BaseModel):
    queue: str
    batch_size: int = 10
    report_batch_item_failures: bool = False


class FunctionInfo(BaseModel):
    logical_id: str
    name: str
    arn: str
    code_uri: str = Field(description="Relative to the root template's directory (a nested stack's, rebased).")
    handler: str
    runtime: str | None = None
    timeout: int = 3
    memory_mb: int = 128
    environment: dict[str, str] = Field(default_factory=dict)
    schedules: list[str] = Field(default_factory=list, description="Names of enabled Schedule events.")
    sqs_sources: list[SqsEventSource] = Field(default_factory=list)
    max_retry_attempts: int = DEFAULT_ASYNC_RETRIES
    on_failure_queue: str | None = None
    url: str | None = Field(
        default=None, description="A function URL's local stand-in (`local run` serves it on this loopback port)."
    )


class ArchiveInfo(BaseModel):
    """The local stand-in for the template's EventArchive: a catch-all rule on the bus into a queue, which
    `local.archive.LocalArchive.drain` empties into `path` (JSON lines), for `cliniko-connector replay`."""

    rule: str
    event_bus: str
    queue: QueueInfo
    path: str | None = None


def write_whole(path: str | Path, text: str) -> Path:
    """Written whole, then renamed into place: a running `local run` never reads half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path


class StackState(BaseModel):
    """What `up` created, with physical names; what the runner and `local status` work from."""

    version: int = 1
    endpoint_url: str
    region: str
    account_id: str
    stack_name: str
    template_path: str
    parameters: dict[str, str]
    conditions: dict[str, bool]
    tables: dict[str, TableInfo] = Field(default_factory=dict)
    queues: dict[str, QueueInfo] = Field(default_factory=dict, description="Template queues and local-* queues.")
    event_buses: dict[str, str] = Field(default_factory=dict, description="Logical id → bus name.")
    schedule_groups: dict[str, str] = Field(
        default_factory=dict, description="Logical id → EventBridge Scheduler group (the runner fires their schedules)."
    )
    rules: dict[str, RuleInfo] = Field(default_factory=dict)
    functions: dict[str, FunctionInfo] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list, description="What the local stack left out, and why.")
    archive: ArchiveInfo | None = Field(default=None, description="Set by `up(..., archive=True)`.")

    @property
    def project_root(self) -> Path:
        return Path(self.template_path).parent

    def save(self, path: str | Path) -> Path:
        return write_whole(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> StackState:
        path = Path(path)
        if not path.is_file():
            raise TemplateError(f"no local stack state at {path}; run `cliniko-connector local up` first")
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def queue_consumers(self) -> dict[str, tuple[str, str]]:
        """Queue key → (function logical id, "sqs" for an event source or "rule" for a rule target)."""
        consumers: dict[str, tuple[str, str]] = {}
        for function in self.functions.values():
            for source in function.sqs_sources:
                consumers[source.queue] = (function.logical_id, "sqs")
        for rule in self.rules.values():
            for target in rule.targets:
                if target.function:
                    consumers[target.queue] = (target.function, "rule")
        return consumers

    def target_for_queue(self, queue: str) -> tuple[RuleInfo, RuleTarget] | None:
        for rule in self.rules.values():
            for target in rule.targets:
                if target.queue == queue:
                    return rule, target
        return None


def create_table(dynamodb: Any, name: str, props: Mapping[str, Any]) -> None:
    """Create table `name` as template `Properties` declare it (keys, indexes, stream, TTL), on demand; a
    table already there is kept."""
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if index_kind in props:
            request[index_kind] = props[index_kind]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    try:
        dynamodb.create_table(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )


def create_queue(sqs: Any, name: str, attributes: dict[str, str], *, fifo: bool = False) -> str:
    """Create queue `name`, or bring an existing one to `attributes`; its URL."""
    create_attributes = {**attributes, **({"FifoQueue": "true"} if fifo else {})}
    try:
        url: str = sqs.create_queue(QueueName=name, Attributes=create_attributes)["QueueUrl"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        if attributes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url


def create_declared_table(dynamodb: Any, logical_id: str, name: str) -> None:
    """Create table `name` as the stack declares its `logical_id` table (for tests and benchmarks on moto)."""
    from cliniko_tools.devtools.template import table_properties

    create_table(dynamodb, name, table_properties(logical_id))


def local_target_queue_name(rule_logical_id: str, target_id: str) -> str:
    name = f"{LOCAL_QUEUE_PREFIX}{rule_logical_id}-{target_id}"
    if len(name) > 80:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:71]}-{digest}"
    return name


def _physical_name(stack_name: str, logical_id: str, limit: int) -> str:
    name = f"{stack_name}-{logical_id}"
    if len(name) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: limit - 9]}-{digest}"
    return name


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise TemplateError(f"environment variable value {value!r} is not a scalar")
    return str(value)


def assign_physical(template: ResolvedTemplate, stack_name: str, region: str, account_id: str, endpoint: str) -> None:
    """Every resource's physical name and attributes as the local stack names them (what `up` creates, what
    `dev render` writes into env.json), before anything is created."""
    arn = f"arn:aws:{{service}}:{region}:{account_id}:{{resource}}"

    def named(declared: Any, logical_id: str, limit: int, *, prefix: bool = True) -> str:
        if declared is not None:
            return str(template.resolve(declared))
        return _physical_name(stack_name, logical_id, limit) if prefix else logical_id[:limit]

    for logical_id, resource in template.resources().items():
        kind = resource["Type"]
        props = resource.get("Properties", {})
        physical: Physical
        if kind == "AWS::DynamoDB::Table":
            name = named(props.get("TableName"), logical_id, 255)
            table_arn = arn.format(service="dynamodb", resource=f"table/{name}")
            physical = Physical(name, {"Arn": table_arn, "StreamArn": f"{table_arn}/stream/local"})
        elif kind == "AWS::SQS::Queue":
            name = named(props.get("QueueName"), logical_id, 80 - 5 if props.get("FifoQueue") else 80)
            if props.get("FifoQueue") and not name.endswith(".fifo"):
                name += ".fifo"
            url = f"{endpoint}/{account_id}/{name}"
            physical = Physical(
                url, {"Arn": arn.format(service="sqs", resource=name), "QueueName": name, "QueueUrl": url}
            )
        elif kind == "AWS::Events::EventBus":
            name = str(template.resolve(props["Name"]))
            physical = Physical(name, {"Arn": arn.format(service="events", resource=f"event-bus/{name}"), "Name": name})
        elif kind == "AWS::EventSchemas::Registry":  # not created locally; nested stacks are passed its name
            name = named(props.get("RegistryName"), logical_id, 64)
            physical = Physical(
                name, {"Arn": arn.format(service="schemas", resource=f"registry/{name}"), "RegistryName": name}
            )
        elif kind in (FUNCTION_TYPE, "AWS::Lambda::Function"):
            name = named(props.get("FunctionName"), logical_id, 64)
            physical = Physical(name, {"Arn": arn.format(service="lambda", resource=f"function:{name}")})
        elif kind == "AWS::Scheduler::ScheduleGroup":
            name = named(props.get("Name"), logical_id, 64)
            physical = Physical(name, {"Arn": arn.format(service="scheduler", resource=f"schedule-group/{name}")})
        else:
            name = _physical_name(stack_name, logical_id, 64)
            physical = Physical(name, {"Arn": arn.format(service="local", resource=f"{logical_id}/{name}")})
        template.physical[logical_id] = physical
    # Rules last: their ARNs name their bus.
    for logical_id, resource in template.resources("AWS::Events::Rule").items():
        props = resource.get("Properties", {})
        name = named(props.get("Name"), logical_id, 64, prefix=False)
        bus = str(template.resolve(props.get("EventBusName", "default"))).rsplit("/", 1)[-1]
        path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
        template.physical[logical_id] = Physical(name, {"Arn": arn.format(service="events", resource=path)})


def declared_environment(template: ResolvedTemplate, logical_id: str) -> dict[str, str]:
    """A function's environment variables as the template declares them (Globals merged), resolved."""
    variables = template.function_properties(logical_id).get("Environment", {}).get("Variables", {})
    return {name: _env_value(value) for name, value in template.resolve(variables).items()}


class _StackBuilder:
    def __init__(self, template_path: Path, parameters: Mapping[str, str], stack_name: str, endpoint: str) -> None:
        self.template_path = template_path.resolve()
        self.endpoint = endpoint
        session = boto3.session.Session()
        self.region = session.region_name or "us-east-1"
        self.clients: dict[str, Any] = {}
        self.account_id: str = self.client("sts").get_caller_identity()["Account"]
        self.stack_name = stack_name
        self.template = ResolvedTemplate(
            load_template(template_path),
            parameters,
            pseudo={"AWS::Region": self.region, "AWS::AccountId": self.account_id, "AWS::StackName": stack_name},
        )
        self.templates: list[ResolvedTemplate] = [self.template]  # the root and its nested stacks
        self.state = StackState(
            endpoint_url=endpoint,
            region=self.region,
            account_id=self.account_id,
            stack_name=stack_name,
            template_path=str(self.template_path),
            parameters=self.template.parameters,
            conditions=dict(self.template.conditions),
        )
        self._queue_by_arn: dict[str, str] = {}
        self._function_by_arn: dict[str, str] = {}
        self.previous: StackState | None = None

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service, endpoint_url=self.endpoint, region_name=self.region)
        return self.clients[service]

    # -- physical names (all resources, before anything is created) --

    def assign_physical(self) -> None:
        self.templates = resolve_stacks(
            self.template,
            template_reader(self.template_path),
            lambda t: assign_physical(t, self.stack_name, self.region, self.account_id, self.endpoint),
        )
        for nested in self.templates[1:]:  # the same parameters decide them: one name, one value
            self.state.conditions.update(nested.conditions)
        for template, logical_id, resource in self.each():
            arn = template.physical[logical_id].attributes.get("Arn", "")
            if resource["Type"] == "AWS::SQS::Queue":
                self._queue_by_arn[arn] = logical_id
            elif resource["Type"] in (FUNCTION_TYPE, "AWS::Lambda::Function"):
                self._function_by_arn[arn] = logical_id

    def each(self, *types: str) -> Iterator[tuple[ResolvedTemplate, str, dict[str, Any]]]:
        """Every resource (of `types`) of every stack, with the template it is in; logical ids are unique."""
        seen: set[str] = set()
        for template in self.templates:
            for logical_id, resource in template.resources(*types).items():
                if logical_id in seen:
                    raise TemplateError(f"{logical_id} is declared by two of the stacks")
                seen.add(logical_id)
                yield template, logical_id, resource

    # -- tables --

    def tables(self) -> None:
        dynamodb = self.client("dynamodb")
        for template, logical_id, resource in self.each("AWS::DynamoDB::Table"):
            physical = template.physical[logical_id]
            create_table(dynamodb, physical.ref, template.resolve(resource.get("Properties", {})))
            self.state.tables[logical_id] = TableInfo(name=physical.ref, arn=physical.attributes["Arn"])

    # -- queues --

    def queues(self) -> None:
        declared = list(self.each("AWS::SQS::Queue"))
        # Dead-letter queues first: a RedrivePolicy needs its target to exist.
        ordered = sorted(declared, key=lambda item: "RedrivePolicy" in item[2].get("Properties", {}))
        for template, logical_id, resource in ordered:
            props = template.resolve(resource.get("Properties", {}))
            physical = template.physical[logical_id]
            attributes = {key: _env_value(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            fifo = bool(props.get("FifoQueue"))
            url = self._create_queue(physical.attributes["QueueName"], attributes, fifo=fifo)
            template.physical[logical_id] = Physical(url, {**physical.attributes, "QueueUrl": url})
            self.state.queues[logical_id] = QueueInfo(
                name=physical.attributes["QueueName"], url=url, arn=physical.attributes["Arn"], fifo=fifo
            )

    def _create_queue(self, name: str, attributes: dict[str, str], *, fifo: bool = False) -> str:
        return create_queue(self.client("sqs"), name, attributes, fifo=fifo)

    # -- event buses and rules --

    def event_buses(self) -> None:
        events = self.client("events")
        for template, logical_id, _ in self.each("AWS::Events::EventBus"):
            name = template.physical[logical_id].ref
            try:
                events.create_event_bus(Name=name)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                    raise
            self.state.event_buses[logical_id] = name

    def schedule_groups(self) -> None:
        scheduler = self.client("scheduler")
        for logical_id in self.template.resources("AWS::Scheduler::ScheduleGroup"):
            name = self.template.physical[logical_id].ref
            try:
                scheduler.create_schedule_group(Name=name)
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("ConflictException", "ResourceAlreadyExistsException"):
                    raise
            self.state.schedule_groups[logical_id] = name

    def rules(self) -> None:
        events = self.client("events")
        wanted: dict[str, set[str]] = {}
        for template, logical_id, resource in self.each("AWS::Events::Rule"):
            props = template.resolve(resource.get("Properties", {}))
            physical = template.physical[logical_id]
            bus = str(props.get("EventBusName", "default")).rsplit("/", 1)[-1]
            if "EventPattern" not in props:
                self.state.notes.append(f"{logical_id}: rules without an EventPattern (schedules) are not created")
                continue
            pattern = props["EventPattern"]
            events.put_rule(
                Name=physical.ref,
                EventBusName=bus,
                EventPattern=json.dumps(pattern),
                State=props.get("State", "ENABLED"),
                Description=str(props.get("Description", ""))[:512],
            )
            wanted.setdefault(bus, set()).add(physical.ref)
            rule = RuleInfo(name=physical.ref, event_bus=bus, arn=physical.attributes["Arn"], pattern=pattern)
            requests = []
            for target in props.get("Targets", []):
                local = self._local_target(logical_id, target)
                if local is None:
                    continue
                rule_target, queue_arn = local
                request: dict[str, Any] = {"Id": target["Id"], "Arn": queue_arn}
                if "InputTransformer" in target:
                    request["InputTransformer"] = target["InputTransformer"]
                for passthrough in ("Input", "InputPath"):
                    if passthrough in target:
                        request[passthrough] = target[passthrough]
                requests.append(request)
                rule.targets.append(rule_target)
            existing = events.list_targets_by_rule(Rule=physical.ref, EventBusName=bus)["Targets"]
            stale = [t["Id"] for t in existing if t["Id"] not in {r["Id"] for r in requests}]
            if stale:
                events.remove_targets(Rule=physical.ref, EventBusName=bus, Ids=stale)
            if requests:
                events.put_targets(Rule=physical.ref, EventBusName=bus, Targets=requests)
            self.state.rules[logical_id] = rule
        self._delete_stale_rules(wanted)

    def _local_target(self, rule_id: str, target: dict[str, Any]) -> tuple[RuleTarget, str] | None:
        target_arn = str(target["Arn"])
        transformer = "InputTransformer" in target
        if target_arn in self._function_by_arn:
            function = self._function_by_arn[target_arn]
            name = local_target_queue_name(rule_id, target["Id"])
            attributes = {"VisibilityTimeout": str(LOCAL_TARGET_VISIBILITY_SECONDS)}
            url = self._create_queue(name, attributes)
            queue_arn = f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"
            self.state.queues[name] = QueueInfo(name=name, url=url, arn=queue_arn)
            return RuleTarget(target_id=target["Id"], queue=name, function=function, input_transformer=transformer), (
                queue_arn
            )
        if target_arn in self._queue_by_arn:
            queue = self._queue_by_arn[target_arn]
            return RuleTarget(target_id=target["Id"], queue=queue, input_transformer=transformer), target_arn
        self.state.notes.append(f"{rule_id}: target {target['Id']} ({target_arn}) is not a function or queue; skipped")
        return None

    def _delete_stale_rules(self, wanted: dict[str, set[str]]) -> None:
        events = self.client("events")
        sqs = self.client("sqs")
        for bus in self.state.event_buses.values():
            rules = [r for page in events.get_paginator("list_rules").paginate(EventBusName=bus) for r in page["Rules"]]
            for rule in rules:
                if rule["Name"] in wanted.get(bus, set()) or rule["Name"] == ARCHIVE_RULE_NAME:
                    continue
                if rule["Name"].startswith(KEPT_RULE_PREFIXES):
                    continue
                targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
                if targets:
                    events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=[t["Id"] for t in targets])
                events.delete_rule(Name=rule["Name"], EventBusName=bus)
        live = {q.name for q in self.state.queues.values()}
        for url in sqs.list_queues(QueueNamePrefix=LOCAL_QUEUE_PREFIX).get("QueueUrls", []):
            if url.rsplit("/", 1)[-1] not in live:
                sqs.delete_queue(QueueUrl=url)

    # -- which state file owns the stack --

    def claim(self, state_path: Path) -> None:
        """Record `state_path` as the stack's owner, unless another state file still describes it."""
        ssm = self.client("ssm")
        name = OWNER_PARAMETER.format(stack_name=self.stack_name)
        mine = str(state_path.resolve())
        owner = stack_owner(ssm, self.stack_name)
        if owner is not None and owner != mine:
            if _describes(Path(owner), self.endpoint, self.stack_name):
                raise StackOwnedElsewhere(
                    f"the local stack {self.stack_name} on {self.endpoint} belongs to {owner}: run `local up` "
                    f"in that folder, or `local down` there first, or give this one another --stack-name"
                )
            self.state.notes.append(f"took the stack over from {owner}, which no longer describes it")
        ssm.put_parameter(Name=name, Value=mine, Type="String", Overwrite=True)

    # -- the local archive --

    def archive(self, path: Path | None) -> None:
        """After `rules()`, which deletes rules the template doesn't declare."""
        add_archive(self.state, self.client("sqs"), self.client("events"), path)

    # -- functions --

    def functions(self) -> None:
        for template, logical_id, _ in self.each(FUNCTION_TYPE):
            props = template.function_properties(logical_id)
            resolve = template.resolve
            physical = template.physical[logical_id]
            environment = declared_environment(template, logical_id)
            logging_config = resolve(props.get("LoggingConfig", {}))
            memory = int(resolve(props.get("MemorySize", 128)))
            environment.update(
                {
                    "AWS_ENDPOINT_URL": self.endpoint,
                    "AWS_REGION": self.region,
                    "AWS_DEFAULT_REGION": self.region,
                    "AWS_LAMBDA_FUNCTION_NAME": physical.ref,
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
                    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                    "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{physical.ref}",
                    "AWS_SAM_LOCAL": "true",
                    "POWERTOOLS_TRACE_DISABLED": "true",
                }
            )
            if logging_config.get("LogFormat") == "JSON":
                environment["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
                if "ApplicationLogLevel" in logging_config:
                    environment["AWS_LAMBDA_LOG_LEVEL"] = str(logging_config["ApplicationLogLevel"])
            info = FunctionInfo(
                logical_id=logical_id,
                name=physical.ref,
                arn=physical.attributes["Arn"],
                code_uri=_from_root(template, str(resolve(props.get("CodeUri", ".")))),
                handler=str(resolve(props["Handler"])),
                runtime=resolve(props.get("Runtime")),
                timeout=int(resolve(props.get("Timeout", 3))),
                memory_mb=memory,
                environment=environment,
            )
            if props.get("FunctionUrlConfig"):
                info.url = self._function_url(logical_id)
                # What the CLI reads on AWS from the CliEnvironment output: the stack's hook URL.
                info.environment["HOOKS_URL"] = info.url
            self._events(info, resolve(props.get("Events", {})))
            invoke_config = resolve(props.get("EventInvokeConfig", {}))
            info.max_retry_attempts = int(invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES))
            on_failure = invoke_config.get("DestinationConfig", {}).get("OnFailure", {})
            if on_failure.get("Destination") in self._queue_by_arn:
                info.on_failure_queue = self._queue_by_arn[on_failure["Destination"]]
            self.state.functions[logical_id] = info

    def _function_url(self, logical_id: str) -> str:
        """A loopback URL for the function: the one it had before `local up` ran again, else a free port's."""
        previous = self.previous.functions.get(logical_id) if self.previous is not None else None
        if previous is not None and previous.url:
            return previous.url
        from cliniko_tools.local.moto import free_port

        return f"http://127.0.0.1:{free_port()}/"

    def _events(self, info: FunctionInfo, events: dict[str, Any]) -> None:
        for name, event in events.items():
            kind = event.get("Type")
            props = event.get("Properties", {})
            if kind in ("Schedule", "ScheduleV2"):
                enabled = props.get("Enabled", True) and props.get("State", "ENABLED") == "ENABLED"
                if enabled:
                    info.schedules.append(name)
            elif kind == "SQS":
                queue = self._queue_by_arn.get(str(props.get("Queue")))
                if queue is None:
                    self.state.notes.append(f"{info.logical_id}.{name}: SQS queue {props.get('Queue')} is not local")
                    continue
                info.sqs_sources.append(
                    SqsEventSource(
                        queue=queue,
                        batch_size=int(props.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    )
                )
            else:
                self.state.notes.append(f"{info.logical_id}.{name}: {kind} events are not run locally")


def _from_root(template: ResolvedTemplate, path: str) -> str:
    """`path` (relative to `template`'s directory) relative to the root template's directory."""
    return posixpath.normpath(posixpath.join(template.directory, path)) + "/" if template.directory else path


def stack_owner(ssm: Any, stack_name: str) -> str | None:
    """The state file that owns `stack_name` on this moto server, if any."""
    try:
        value: str = ssm.get_parameter(Name=OWNER_PARAMETER.format(stack_name=stack_name))["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return None
    return value


def _describes(path: Path, endpoint: str, stack_name: str) -> bool:
    try:
        state = StackState.load(path)
    except (TemplateError, ValueError, OSError):
        return False
    return state.endpoint_url == endpoint and state.stack_name == stack_name


def add_archive(state: StackState, sqs: Any, events: Any, path: Path | None) -> ArchiveInfo:
    """A catch-all rule on the stack's bus into the queue `<stack>-LocalArchive` (see `ArchiveInfo`); sets
    and returns `state.archive`. Idempotent. The queue isn't `local-` prefixed, so `up` never deletes it."""
    if not state.event_buses:
        raise TemplateError("the local stack has no event bus to archive")
    bus = state.event_buses.get("EventBus") or next(iter(state.event_buses.values()))
    name = _physical_name(state.stack_name, "LocalArchive", 80)
    url = create_queue(sqs, name, {"MessageRetentionPeriod": str(ARCHIVE_RETENTION_SECONDS)})
    queue = QueueInfo(name=name, url=url, arn=f"arn:aws:sqs:{state.region}:{state.account_id}:{name}")
    events.put_rule(
        Name=ARCHIVE_RULE_NAME,
        EventBusName=bus,
        EventPattern=json.dumps(ARCHIVE_EVENT_PATTERN),
        State="ENABLED",
        Description="Local stand-in for EventArchive: every event on the bus, for `cliniko-connector replay`.",
    )
    events.put_targets(Rule=ARCHIVE_RULE_NAME, EventBusName=bus, Targets=[{"Id": "archive", "Arn": queue.arn}])
    state.archive = ArchiveInfo(
        rule=ARCHIVE_RULE_NAME, event_bus=bus, queue=queue, path=str(path.resolve()) if path is not None else None
    )
    return state.archive


def up(
    template_path: str | Path,
    *,
    parameters: Mapping[str, str],
    state_path: str | Path | None = DEFAULT_STATE_PATH,
    stack_name: str = DEFAULT_STACK_NAME,
    archive: bool = False,
) -> StackState:
    """Create (or update) the template's resources on the loopback endpoint $AWS_ENDPOINT_URL; save and
    return the state. Raises `NotLocalEndpoint` when $AWS_ENDPOINT_URL is unset or not loopback.
    `LOCAL_STACK_PARAMETERS` apply unless `parameters` says otherwise.

    With `archive`, every event reaching the bus is also kept for `replay` (see `ArchiveInfo`), in
    `archive.jsonl` next to the state file."""
    endpoint = require_loopback_endpoint()
    ensure_local_aws_environment()
    declared = load_template(template_path).get("Parameters", {})
    local = {k: v for k, v in LOCAL_STACK_PARAMETERS.items() if k in declared}
    builder = _StackBuilder(Path(template_path), {**local, **parameters}, stack_name, endpoint)
    if state_path is not None:
        builder.claim(Path(state_path))
        if _describes(Path(state_path), endpoint, stack_name):
            builder.previous = StackState.load(state_path)
    builder.assign_physical()
    builder.tables()
    builder.queues()
    builder.event_buses()
    builder.schedule_groups()
    builder.rules()
    if archive:
        builder.archive(Path(state_path).parent / ARCHIVE_FILE_NAME if state_path is not None else None)
    builder.functions()
    if state_path is not None:
        builder.state.save(state_path)
    return builder.state
