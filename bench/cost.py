"""What one clinic costs to run: AWS calls, capacity units, bytes and invocations of real poll cycles, priced.

`measure` runs whole cycles the way Lambda runs them, one clinic with every trigger on:

* the dispatcher's handler (`functions/poll_dispatcher/app.py`), invoked as the schedule invokes it;
* for each job it queued, what the SQS event source mapping does: one `ReceiveMessage` that returns the job
  (`BatchSize: 1`, so one job per invocation) and, after the handler returned without a failure, one
  `DeleteMessage`; the long polls an event source mapping makes while the queue is empty are a cost of the
  stack, not of a clinic, and are priced from `prices.json`'s assumptions (`esm_idle_pollers`);
* the poll worker's handler (`functions/poll_worker/app.py`) with that message as its SQS event.

Every AWS call the handlers and the modelled event source mapping make goes through the shared boto3 clients
and is counted by operation (`before-call`). DynamoDB capacity units are computed from the items' sizes as
DynamoDB bills them (on-demand: a write unit per KB written, a read unit per 4 KB read, half of one when
eventually consistent). Log bytes are every byte the handlers write to their log streams (Powertools JSON
lines on stderr, EMF metric lines and anything else on stdout) at the template's `LogLevel` default, by
function; custom metrics are the distinct (name, dimension values) sets in those EMF lines, which is what
CloudWatch bills, and a clinic's own are those whose dimension values name its connection. CPU time is the
handler thread's, wall time the handler call's.

`priced` turns those counts into a month at one-minute polling with `prices.json`: an idle clinic, a busy
one (`BUSY_CHANGES_PER_MINUTE`, spread over the streams), and 1,000 idle clinics on one stack. What a clinic
adds is priced per clinic; what the stack pays once (the dispatcher's invocation and log line, the metrics
per service, the alarms, dashboard and key) is shared, and `monthly_stack_fixed_usd` holds what does not grow.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import math
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.env import UNROUTED_SOURCE, LocalAws

ROOT = Path(__file__).resolve().parents[1]
PRICES = Path(__file__).with_name("prices.json")
COST_CONNECTIONS_TABLE = "bench-cost-connections"
COST_QUEUE = "bench-cost-poll-jobs.fifo"
COST_CONNECTION = "bench-cost"
BUSY_CHANGES_PER_MINUTE = 20
CLINICS_AT_SCALE = 1000
FUNCTIONS = ("poll_dispatcher", "poll_worker", "action")
COLD_START_RUNS = 9
# The function each handler directory becomes in template.yaml (the action directory is one function per action).
TEMPLATE_FUNCTION = {"poll_dispatcher": "PollDispatcherFunction", "poll_worker": "PollWorkerFunction"}


# -- counting ------------------------------------------------------------------------------------------


def _attribute_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (low-level JSON form)."""
    (kind, inner), *_ = value.items()
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        return len(str(inner).lstrip("-").replace(".", "").lstrip("0")) // 2 + 1 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(v.encode() if isinstance(v, str) else v) for v in inner)
    if kind == "NS":
        return sum(len(str(v)) // 2 + 2 for v in inner)
    if kind == "L":
        return 3 + sum(1 + _attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _attribute_size(v) for k, v in inner.items())
    return len(json.dumps(inner))


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size as DynamoDB measures it: attribute names plus values."""
    return sum(len(name.encode()) + _attribute_size(value) for name, value in (item or {}).items())


@dataclass
class Meter:
    """AWS calls by operation, DynamoDB capacity units, PutEvents and SQS 64 KB chunks, on the shared clients."""

    side_reader: Any  # a DynamoDB client of its own (not counted): sizes of items an UpdateItem/DeleteItem touched
    calls: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)  # dynamodb.read / dynamodb.write, sqs.chunks, events.chunks
    # AWS calls and Cliniko requests by the thread that made them (`threading.get_ident`): the waits one after
    # another of an invocation whose streams are polled on several threads at once.
    aws_by_thread: Counter[int] = field(default_factory=Counter)
    cliniko_by_thread: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _hooks(self, aws: LocalAws) -> list[tuple[Any, str, Any]]:
        hooks = [
            (aws.client(service).meta.events, event, handler)
            for service in ("dynamodb", "events", "sqs", "secretsmanager")
            for event, handler in (("before-call", self._count), ("before-parameter-build", self._remember))
        ]
        return [*hooks, (aws.client("dynamodb").meta.events, "after-call.dynamodb", self._dynamodb)]

    def install(self, aws: LocalAws) -> None:
        for events, name, handler in self._hooks(aws):
            events.register(name, handler)

    def uninstall(self, aws: LocalAws) -> None:
        for events, name, handler in self._hooks(aws):
            events.unregister(name, handler)

    def add(self, operation: str, n: int = 1) -> None:
        with self._lock:
            self.calls[operation] += n

    def cliniko_response(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """A `requests` response hook on the Cliniko clients' shared session: runs on the thread that sent it."""
        with self._lock:
            self.cliniko_by_thread[threading.get_ident()] += 1
        return response

    def by_thread(self) -> tuple[Counter[int], Counter[int]]:
        with self._lock:
            return Counter(self.aws_by_thread), Counter(self.cliniko_by_thread)

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        with self._lock:
            return Counter(self.calls), Counter(self.units)

    def _count(self, model: Any, **_: Any) -> None:
        self.add(f"{model.service_model.service_name}.{model.name}")  # `events.PutEvents`, not `eventbridge.…`
        with self._lock:
            self.aws_by_thread[threading.get_ident()] += 1

    def _remember(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = params
        service, operation = model.service_model.service_name, model.name
        chunks = 0
        if (service, operation) == ("events", "PutEvents"):
            with self._lock:
                self.units["events.entries"] += len(params.get("Entries", []))
            chunks = sum(math.ceil(len(json.dumps(e).encode()) / 65536) for e in params.get("Entries", []))
        elif service == "sqs" and operation in ("SendMessage", "SendMessageBatch"):
            bodies = [e.get("MessageBody", "") for e in params.get("Entries", [params])]
            chunks = max(1, math.ceil(sum(len(b.encode()) for b in bodies) / 65536))
        elif service == "sqs":
            chunks = 1
        elif service == "dynamodb" and operation == "DeleteItem":
            found = self.side_reader.get_item(TableName=params["TableName"], Key=params["Key"], ConsistentRead=True)
            context["bench_deleted_size"] = item_size(found.get("Item"))
        if chunks:
            with self._lock:
                self.units[f"{service}.chunks"] += chunks

    def _dynamodb(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        operation = model.name
        params: dict[str, Any] = context.get("bench_params", {})
        read = write = 0.0

        def reads(size: int, consistent: bool) -> float:
            return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)

        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            read = reads(item_size(parsed.get("Item")), consistent)
        elif operation == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                strongly = bool(params.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
                read += sum(reads(item_size(i), strongly) for i in items)
        elif operation in ("Query", "Scan"):
            read = reads(sum(item_size(i) for i in parsed.get("Items", [])), consistent)
        elif operation == "PutItem":
            write = max(1, math.ceil(item_size(params.get("Item")) / 1024))
        elif operation == "UpdateItem":
            after = self.side_reader.get_item(TableName=params["TableName"], Key=params["Key"], ConsistentRead=True)
            write = max(1, math.ceil(item_size(after.get("Item")) / 1024))
        elif operation == "DeleteItem":
            write = max(1, math.ceil(context.get("bench_deleted_size", 0) / 1024))
        elif operation == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    item = request.get("PutRequest", {}).get("Item")
                    write += max(1, math.ceil(item_size(item) / 1024))
        with self._lock:
            self.units["dynamodb.read"] += read  # type: ignore[assignment]
            self.units["dynamodb.write"] += write  # type: ignore[assignment]


class _ByteCount(io.TextIOBase):
    """A text stream that keeps what is written (EMF lines are parsed afterwards) and counts UTF-8 bytes."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.bytes = 0
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        parts = (self._partial + text).split("\n")
        self._partial = parts.pop()
        self.lines.extend(p for p in parts if p)
        return len(text)


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = "bench-request"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000)


@dataclass
class Invocation:
    function: str
    cpu_seconds: float  # every thread of the invocation's
    wall_seconds: float
    aws_calls: int
    cliniko_requests: int
    log_bytes: int = 0
    # The longest chain of waits: the handler thread's calls and requests, plus those of the one thread of the
    # invocation's pool that sent the most Cliniko requests (then made the most AWS calls). Equal to the
    # totals when everything runs on the handler thread.
    critical_aws_calls: int = 0
    critical_cliniko_requests: int = 0
    threads: int = 1


@dataclass
class Cycle:
    calls: Counter[str]
    units: Counter[str]
    invocations: list[Invocation]
    log_bytes: int
    log_lines: int
    log_lines_by_kind: Counter[str]  # `INFO stream polled`, `EMF`: what an operator pays to ingest
    metrics: set[tuple[str, tuple[tuple[str, str], ...]]]
    events: int
    cliniko_requests: int
    polled: dict[str, dict[str, Any]]  # resource: records, events (the worker's INFO "stream polled" line)
    records_polled: int = 0  # every stream's, idle or not (the metric lines' RecordsPolled)


def _template() -> dict[str, Any]:
    from cliniko_tools.local.template import load_template

    return load_template(ROOT / "template.yaml")


def function_config(template: dict[str, Any], function: str) -> dict[str, Any]:
    """MemorySize, Architectures, Timeout and Tracing of a function as the template configures it."""
    glob = template["Globals"]["Function"]
    props = template["Resources"][TEMPLATE_FUNCTION[function]]["Properties"]

    def default(value: Any) -> Any:  # a `Ref` to a parameter: as deployed without overrides
        if isinstance(value, dict) and "Ref" in value:
            return template["Parameters"][value["Ref"]]["Default"]
        return value

    return {
        "memory_mb": int(default(props.get("MemorySize", glob["MemorySize"]))),
        "architecture": default((props.get("Architectures") or glob["Architectures"])[0]),
        "timeout": int(default(props.get("Timeout", glob["Timeout"]))),
        "tracing": default(props.get("Tracing", glob.get("Tracing"))) or "PassThrough",
    }


def _load(function: str, tag: str) -> ModuleType:
    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"bench_{function}_{tag}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the measured cycles -------------------------------------------------------------------------------


def _changes(sim: Any, changes: int, rng_seed: int) -> Counter[str]:
    """`changes` staff writes, as the freshness benchmark makes them, in turn: a patient edited, a patient
    created, a medical alert created (each gives one event)."""
    import random

    rng = random.Random(rng_seed)
    patients = [p["id"] for p in sim.list("patients")]
    made: Counter[str] = Counter()
    for n in range(changes):
        if n % 3 == 0:
            sim.update("patients", rng.choice(patients), {"first_name": f"Edited{rng.randrange(10**9)}"})
            made["patients (edited)"] += 1
        elif n % 3 == 1:
            sim.create("patients", {"first_name": "New", "last_name": f"Patient {rng.randrange(10**9)}"})
            made["patients (created)"] += 1
        else:
            sim.create("medical_alerts", {"name": "Latex", "patient_id": rng.choice(patients)})
            made["medical_alerts (created)"] += 1
    return made


def measure(aws: LocalAws) -> dict[str, Any]:
    import boto3

    from bench.runtime import build, connect, poller_settings
    from cliniko_connector.adapters.dynamodb import DynamoConnectionStore
    from cliniko_connector.catalog.triggers import STREAMS
    from cliniko_connector.observability import logger
    from cliniko_tools.local.stack import create_declared_table
    from cliniko_tools.simulator import Simulator

    ddb, sqs = aws.client("dynamodb"), aws.client("sqs")
    create_declared_table(ddb, "ConnectionsTable", COST_CONNECTIONS_TABLE)
    queue_url = sqs.create_queue(QueueName=COST_QUEUE, Attributes={"FifoQueue": "true", "VisibilityTimeout": "1800"})[
        "QueueUrl"
    ]
    template = _template()
    key = "bench-cost-au1"
    with Simulator(api_keys=[key], rate_limit=10**6, seed="generate:300") as sim:
        sim.start()
        runtime = build(aws, poller_settings())
        runtime.connections = DynamoConnectionStore(COST_CONNECTIONS_TABLE, client=ddb)
        connect(runtime, sim, COST_CONNECTION, key)
        env = {
            "CONNECTIONS_TABLE": COST_CONNECTIONS_TABLE,
            "EVENT_SOURCE": UNROUTED_SOURCE,  # accepted by PutEvents, delivered nowhere (moto's delivery is slow)
            "SECRETS_PREFIX": "bench/",
            "POLL_QUEUE_URL": queue_url,
            "POLL_TIME_BUDGET_SECONDS": "240",
            "CLINIKO_ALLOW_BASE_URL_OVERRIDE": "true",  # its connection points at the simulator on loopback
        }
        saved = {k: os.environ.get(k) for k in [*env, "STATE_TABLE", "EVENT_BUS_NAME", "CLINIKO_CONTACT_EMAIL"]}
        from bench.env import BUS, CONTACT_EMAIL, STATE_TABLE

        os.environ.update(
            env | {"STATE_TABLE": STATE_TABLE, "EVENT_BUS_NAME": BUS, "CLINIKO_CONTACT_EMAIL": CONTACT_EMAIL}
        )
        try:
            dispatcher = _load("poll_dispatcher", "cost")
            worker = _load("poll_worker", "cost")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        from cliniko_connector.adapters.cliniko_http import shared_session

        meter = Meter(side_reader=boto3.client("dynamodb"))
        meter.install(aws)
        session_hooks = shared_session().hooks["response"]
        session_hooks.append(meter.cliniko_response)
        configs = {f: function_config(template, f) for f in TEMPLATE_FUNCTION}
        clock_frozen = sim.clock.freeze()
        del clock_frozen

        window = worker.settings.rate_window_seconds

        def cycle() -> Cycle:
            sim.clock.advance(60)  # one schedule tick later in Cliniko's time
            # A clinic's cycle comes once a minute, in a rate-budget window of its own (the budget runs on the
            # wall clock): cycles back to back would share windows and wait for room as a deployed one doesn't.
            time.sleep(window - time.time() % window + 0.01)
            calls0, units0 = meter.snapshot()
            sim.requests_clear()
            invocations: list[Invocation] = []
            logs, emf = _ByteCount(), _ByteCount()
            handler = logger.registered_handler
            assert isinstance(handler, logging.StreamHandler)
            old_stream, old_level = handler.stream, logger.log_level
            handler.setStream(logs)
            logger.setLevel(template["Parameters"]["LogLevel"]["Default"])
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
            try:
                with contextlib.redirect_stdout(emf):
                    invocations.append(
                        _invoke(
                            meter,
                            sim,
                            (logs, emf),
                            "poll_dispatcher",
                            configs,
                            dispatcher.lambda_handler,
                            _schedule_event(),
                        )
                    )
                    while True:
                        received = sqs.receive_message(
                            QueueUrl=queue_url, MaxNumberOfMessages=1, AttributeNames=["All"], WaitTimeSeconds=0
                        ).get("Messages", [])
                        if not received:
                            break
                        message = received[0]
                        event = _sqs_event(message, queue_url)
                        invocation = _invoke(
                            meter, sim, (logs, emf), "poll_worker", configs, worker.lambda_handler, event
                        )
                        invocations.append(invocation)
                        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                # The last, empty receive only ended this loop: the event source mapping's empty polls are the
                # stack's (priced from the assumptions), not the clinic's.
                meter.add("sqs.ReceiveMessage", -1)
                meter.units["sqs.chunks"] -= 1
            finally:
                os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
                handler.setStream(old_stream)
                logger.setLevel(old_level)
            calls1, units1 = meter.snapshot()
            calls, units = calls1 - calls0, units1 - units0
            calls["lambda.Invoke"] = len(invocations)
            metric_ids: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
            kinds: Counter[str] = Counter()
            records_polled = 0  # from the metric lines: an idle stream's "stream polled" line is DEBUG
            for line in logs.lines:
                doc = json.loads(line)
                kinds[f"{doc.get('level')} {doc.get('message')}"] += 1
            for line in emf.lines:
                try:
                    doc = json.loads(line)
                except ValueError:
                    kinds["stdout text"] += 1
                    continue
                spec = doc.get("_aws", {}).get("CloudWatchMetrics", []) if isinstance(doc, dict) else []
                kinds["EMF" if spec else "stdout JSON"] += 1
                if spec and isinstance(doc.get("RecordsPolled"), int | float):
                    records_polled += int(doc["RecordsPolled"])
                for directive in spec:
                    for dims in directive.get("Dimensions", []):
                        labels = tuple(sorted((d, str(doc.get(d))) for d in dims))
                        for metric in directive.get("Metrics", []):
                            metric_ids.add((metric["Name"], labels))
            events = int(units.get("events.entries", 0))
            polled: dict[str, dict[str, Any]] = {}
            for line in logs.lines:
                doc = json.loads(line)
                if doc.get("message") == "stream polled":
                    polled[doc["stream"].rsplit("/", 1)[-1]] = {k: doc[k] for k in ("records", "events")}
            return Cycle(
                calls=calls,
                units=units,
                invocations=invocations,
                log_bytes=logs.bytes + emf.bytes,
                log_lines=len(logs.lines) + len(emf.lines),
                log_lines_by_kind=kinds,
                metrics=metric_ids,
                events=events,
                cliniko_requests=len(sim.requests),
                polled=polled,
                records_polled=records_polled,
            )

        try:
            cycle()  # warm: clients, connection pool, secret cache, first cursor writes
            sim.clock.advance(180)  # past the overlap: the seed's last records are not re-read
            cycle()
            idle = cycle()
            busy_cycles = []
            for n in range(3):  # the overlap re-reads the last two minutes: the third is steady
                changed = _changes(sim, BUSY_CHANGES_PER_MINUTE, n)
                busy_cycles.append(cycle())
            busy = busy_cycles[-1]
            sim.clock.advance(180)
            cycle()  # settles past the overlap
            secrets_cold = _cold_secret_calls(worker, meter, cycle)
        finally:
            meter.uninstall(aws)
            session_hooks.remove(meter.cliniko_response)
    return {
        "cost_streams": len(STREAMS),
        "cost_functions": configs,
        "cost_secret_cache_ttl_seconds": secrets_cold["ttl"],
        "cost_secret_calls_per_cold_cache_cycle": secrets_cold["calls"],
        "cost_worker_max_concurrency": _worker_max_concurrency(template),
        **_cycle_figures("idle", idle),
        **_cycle_figures("busy", busy),
        "busy_changes_per_minute": BUSY_CHANGES_PER_MINUTE,
        "busy_changes_by_stream": dict(changed),
    }


def _cold_secret_calls(worker: ModuleType, meter: Meter, cycle: Any) -> dict[str, Any]:
    """GetSecretValue calls of a cycle whose worker starts with an empty secret cache (a new container)."""
    secrets = worker.worker.worker.runtime.secrets
    secrets.invalidate()
    measured = cycle()
    return {"calls": measured.calls.get("secretsmanager.GetSecretValue", 0), "ttl": secrets._ttl}


def _worker_max_concurrency(template: dict[str, Any]) -> int:
    events = template["Resources"]["PollWorkerFunction"]["Properties"]["Events"]
    (source,) = [e for e in events.values() if e["Type"] == "SQS"]
    return int(source["Properties"]["ScalingConfig"]["MaximumConcurrency"])


def _invoke(
    meter: Meter,
    sim: Any,
    streams: tuple[_ByteCount, ...],
    function: str,
    configs: dict[str, Any],
    handler: Any,
    event: dict[str, Any],
) -> Invocation:
    config = configs[function]
    bytes_before = sum(s.bytes for s in streams)
    context = LambdaContext(function, config["memory_mb"], config["timeout"])
    requests_before = len(sim.requests)
    calls_before = sum(meter.snapshot()[0].values())
    aws_before, cliniko_before = meter.by_thread()
    pool_before = _pool_cpu()
    wall, cpu = time.perf_counter(), time.thread_time()
    response = handler(event, context)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    pool_after = _pool_cpu()
    aws_after, cliniko_after = meter.by_thread()
    aws, cliniko = aws_after - aws_before, cliniko_after - cliniko_before
    me = threading.get_ident()
    others = [t for t in {*aws, *cliniko} if t != me]
    longest = max(others, key=lambda t: (cliniko[t], aws[t]), default=None)
    if isinstance(response, dict) and response.get("batchItemFailures"):
        raise RuntimeError(f"the poll job failed: {response}")
    return Invocation(
        function=function,
        cpu_seconds=cpu + sum(t - pool_before.get(ident, 0.0) for ident, t in pool_after.items()),
        wall_seconds=wall,
        aws_calls=sum(meter.snapshot()[0].values()) - calls_before,
        cliniko_requests=len(sim.requests) - requests_before,
        log_bytes=sum(s.bytes for s in streams) - bytes_before,
        critical_aws_calls=aws[me] + (aws[longest] if longest is not None else 0),
        critical_cliniko_requests=cliniko[me] + (cliniko[longest] if longest is not None else 0),
        threads=1 + len(others),
    )


def _pool_cpu() -> dict[int, float]:
    """CPU seconds so far of each thread the poll worker polls streams on (its pool outlives an invocation, as
    in a warm Lambda container, so each one's clock is read before and after)."""
    clocks: dict[int, float] = {}
    for thread in threading.enumerate():
        if thread.name.startswith("poll-stream") and thread.ident is not None:
            with contextlib.suppress(OSError, ProcessLookupError):
                clocks[thread.ident] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return clocks


def _schedule_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "bench-tick",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-01-05T09:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }


def _sqs_event(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:" + queue_url.rsplit("/", 1)[-1],
                "awsRegion": "us-east-1",
            }
        ]
    }


def _cycle_figures(name: str, cycle: Cycle) -> dict[str, Any]:
    by_function: dict[str, dict[str, Any]] = {}
    for function in TEMPLATE_FUNCTION:
        mine = [i for i in cycle.invocations if i.function == function]
        by_function[function] = {
            "invocations": len(mine),
            "cpu_ms": round(1000 * sum(i.cpu_seconds for i in mine), 2),
            "wall_ms": round(1000 * sum(i.wall_seconds for i in mine), 2),
            "aws_calls": sum(i.aws_calls for i in mine),
            "cliniko_requests": sum(i.cliniko_requests for i in mine),
            "critical_aws_calls": sum(i.critical_aws_calls for i in mine),
            "critical_cliniko_requests": sum(i.critical_cliniko_requests for i in mine),
            "threads": max((i.threads for i in mine), default=0),
            "log_bytes": sum(i.log_bytes for i in mine),
        }
    metrics = sorted(f"{n} {dict(d)}" for n, d in cycle.metrics)
    # A clinic's own metrics: a dimension names its connection (the rest are one per stack, however many clinics).
    per_connection = sum(1 for _, d in cycle.metrics if any(v == COST_CONNECTION for _, v in d))
    return {
        f"{name}_aws_calls_by_operation": dict(sorted(cycle.calls.items())),
        f"{name}_aws_calls_per_cycle": sum(cycle.calls.values()),
        f"{name}_dynamodb_read_units": round(cycle.units.get("dynamodb.read", 0), 2),
        f"{name}_dynamodb_write_units": round(cycle.units.get("dynamodb.write", 0), 2),
        f"{name}_sqs_request_chunks": int(cycle.units.get("sqs.chunks", 0)),
        f"{name}_putevents_event_chunks": int(cycle.units.get("events.chunks", 0)),
        f"{name}_cliniko_requests": cycle.cliniko_requests,
        f"{name}_events_published": cycle.events,
        f"{name}_records_polled": cycle.records_polled,
        f"{name}_polled_by_stream": {r: p for r, p in sorted(cycle.polled.items()) if p["records"] or p["events"]},
        f"{name}_invocations_by_function": by_function,
        f"{name}_log_bytes": cycle.log_bytes,
        f"{name}_log_lines": cycle.log_lines,
        f"{name}_log_lines_by_kind": dict(sorted(cycle.log_lines_by_kind.items())),
        f"{name}_custom_metrics": len(cycle.metrics),
        f"{name}_custom_metrics_per_connection": per_connection,
        f"{name}_custom_metric_names": metrics,
    }


# -- the price -----------------------------------------------------------------------------------------


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    prices: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return prices


def _tiered(count: float, tiers: list[list[float | None]]) -> float:
    total, left = 0.0, count
    for size, usd in tiers:
        take = left if size is None else min(left, size)
        total += take * float(usd or 0)
        left -= take
        if left <= 0:
            break
    return total


def monthly(results: dict[str, Any], kind: str, clinics: int, prices: dict[str, Any]) -> dict[str, float]:
    """USD per month by service for `clinics` clinics like the measured `kind` cycle (`idle` or `busy`).

    Per clinic: the workers' invocations and what they call, the dispatcher's calls per connection, the secret,
    the workers' log bytes, the metrics whose dimensions name the clinic's connection (none since metrics are
    per service). Per stack (shared by every clinic): the dispatcher's invocation and its log line, the event
    source mapping's empty long polls; the metrics per service are in `stack_fixed`.

    Lambda duration: an invocation's CPU time (every thread's) stretched by 1,769 / `MemorySize` (below
    1,769 MB Lambda gives a share of one vCPU, so the CPU's GB-seconds do not depend on the memory), plus
    the assumed latency of the waits that come one after another: the handler thread's AWS calls and
    Cliniko requests and those of the busiest of the threads it polls streams on (`critical_*`: the worker
    polls a job's streams a few at once, and their waits overlap). Threads' CPU that runs while others wait
    is charged on top of the waits, so the figure is an upper bound of the billed duration, not a guess
    below it. Results measured before the waits were counted by thread charge every call in turn.

    X-Ray: with the template's default `TracingMode` (PassThrough) nothing on the poll path is traced (the
    schedule sends no trace header, so the dispatcher's jobs carry none either); with Active, Lambda traces
    the first invocation each second and 5% of the rest (a rate that can't be configured for Lambda)."""
    p = {k: v["usd"] for k, v in prices["prices"].items()}
    a = {k: v["value"] for k, v in prices["assumptions"].items()}
    cycles = prices["hours_per_month"] * 60  # one-minute polling
    calls: dict[str, int] = results[f"{kind}_aws_calls_by_operation"]
    functions: dict[str, dict[str, Any]] = results[f"{kind}_invocations_by_function"]
    configs: dict[str, dict[str, Any]] = results["cost_functions"]

    def gb_seconds(function: str, copies: float) -> float:
        f, c = functions[function], configs[function]
        if not f["invocations"]:
            return 0.0
        stretch = max(1.0, a["lambda_mb_per_vcpu"] / c["memory_mb"])
        # The waits one after another (results from before they were measured: every call in turn).
        aws_waits = f.get("critical_aws_calls", f["aws_calls"])
        cliniko_waits = f.get("critical_cliniko_requests", f["cliniko_requests"])
        waits = aws_waits * a["aws_call_latency_ms"] + cliniko_waits * a["cliniko_request_latency_ms"]
        per_invocation = (f["cpu_ms"] * stretch + waits) / f["invocations"]
        billed_ms = math.ceil(per_invocation) * f["invocations"] * copies
        return float(billed_ms / 1000 * c["memory_mb"] / 1024)

    def gb_price(function: str) -> float:
        return float(p[f"lambda_gb_second_{configs[function]['architecture']}"])

    worker_invocations = functions["poll_worker"]["invocations"] * clinics
    invocations = worker_invocations + functions["poll_dispatcher"]["invocations"]
    # The dispatcher is one invocation per tick whatever the number of clinics; its work grows with them.
    lambda_usd = cycles * (
        invocations * p["lambda_request"]
        + gb_seconds("poll_worker", clinics) * gb_price("poll_worker")
        + gb_seconds("poll_dispatcher", clinics) * gb_price("poll_dispatcher")
    )
    dynamodb_usd = (
        cycles
        * clinics
        * (
            results[f"{kind}_dynamodb_read_units"] * p["dynamodb_read_request_unit"]
            + results[f"{kind}_dynamodb_write_units"] * p["dynamodb_write_request_unit"]
        )
    )
    idle_long_polls = a["esm_idle_pollers"] * 60 / a["esm_long_poll_seconds"] * cycles
    sqs_usd = (cycles * clinics * results[f"{kind}_sqs_request_chunks"] + idle_long_polls) * p["sqs_fifo_request"]
    eventbridge_usd = cycles * clinics * results[f"{kind}_putevents_event_chunks"] * p["eventbridge_custom_event"]
    # The secret cache: each worker container reads a clinic's key once per TTL; the workers' SQS concurrency
    # caps the containers, and one clinic's ten jobs a minute reach each of them.
    containers = min(results["cost_worker_max_concurrency"], max(1, functions["poll_worker"]["invocations"]))
    secret_reads = containers * prices["hours_per_month"] * 3600 / results["cost_secret_cache_ttl_seconds"]
    measured_reads = calls.get("secretsmanager.GetSecretValue", 0) * cycles  # beyond the cache, if any
    secrets_usd = clinics * (
        p["secretsmanager_secret_month"] + (secret_reads + measured_reads) * p["secretsmanager_api_call"]
    )
    traced_share = 1.0 if configs["poll_worker"]["tracing"] == "Active" else 0.0  # PassThrough: no header
    per_second = invocations * cycles / (prices["hours_per_month"] * 3600)
    if traced_share and per_second > a["xray_reservoir_per_second"]:
        reservoir = a["xray_reservoir_per_second"] / per_second
        traced_share = reservoir + (1 - reservoir) * a["xray_rate_beyond_reservoir"]
    xray_usd = invocations * cycles * traced_share * p["xray_trace_recorded"]
    # The dispatcher logs once a tick for all clinics; results from before log bytes were split count it per clinic.
    stack_log_bytes = functions["poll_dispatcher"].get("log_bytes", 0)
    log_bytes = ((results[f"{kind}_log_bytes"] - stack_log_bytes) * clinics + stack_log_bytes) * cycles
    metric_count = results[f"{kind}_custom_metrics_per_connection"] * clinics
    logs_usd = log_bytes / 1e9 * p["cloudwatch_log_gb_ingested"]
    metrics_usd = _tiered(metric_count, prices["cloudwatch_custom_metric_month_tiers"]["tiers"])
    breakdown = {
        "lambda": lambda_usd,
        "dynamodb": dynamodb_usd,
        "sqs": sqs_usd,
        "eventbridge": eventbridge_usd,
        "secretsmanager": secrets_usd,
        "xray": xray_usd,
        "cloudwatch_logs": logs_usd,
        "cloudwatch_metrics": metrics_usd,
    }
    return {k: round(v, 4) for k, v in breakdown.items()} | {"total": round(sum(breakdown.values()), 4)}


def stack_fixed(prices: dict[str, Any], results: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the stack costs and does not grow with clinics: alarms, dashboard, KMS key, and the business metrics
    per service that a working stack publishes (those of the busy cycle: CloudWatch bills a metric for each
    hour it gets a value, so a quiet hour costs less; the action metrics come on top in hours actions run)."""
    results = results or {}
    kind = "busy" if "busy_custom_metrics" in results else "idle"
    service_metrics = results.get(f"{kind}_custom_metrics", 0) - results.get(f"{kind}_custom_metrics_per_connection", 0)
    template = _template()
    resources = template["Resources"].values()
    alarms = sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Alarm")
    dashboards = sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Dashboard")
    keys = sum(1 for r in resources if r["Type"] == "AWS::KMS::Key")
    p = {k: v["usd"] for k, v in prices["prices"].items()}
    return {
        "alarms": alarms,
        "dashboards": dashboards,
        "kms_keys": keys,
        "custom_metrics": service_metrics,
        "usd": round(
            alarms * p["cloudwatch_alarm_metric_month"]
            + dashboards * p["cloudwatch_dashboard_month"]
            + keys * p["kms_key_month"]
            + _tiered(service_metrics, prices["cloudwatch_custom_metric_month_tiers"]["tiers"]),
            2,
        ),
    }


def priced(results: dict[str, Any], prices: dict[str, Any] | None = None) -> dict[str, Any]:
    """The monthly figures from `measure`'s counts (empty when the cost benchmark did not run)."""
    if "idle_invocations_by_function" not in results:
        return {}
    prices = prices or load_prices()
    idle = monthly(results, "idle", 1, prices)
    busy = monthly(results, "busy", 1, prices)
    scale = monthly(results, "idle", CLINICS_AT_SCALE, prices)
    fixed = stack_fixed(prices, results)
    streams = results["cost_streams"]
    traced = results | {"cost_functions": {f: c | {"tracing": "Active"} for f, c in results["cost_functions"].items()}}
    # Each connection's API key is a secret of its own (one per connection, for per-connection IAM and tag
    # isolation): its monthly fee is a floor no change to the polling can lower, so it is also shown apart.
    secret_fee = prices["prices"]["secretsmanager_secret_month"]["usd"]
    return {
        "monthly_cost_per_clinic_usd": idle["total"],
        "monthly_cost_per_clinic_excluding_secret_fee_usd": round(idle["total"] - secret_fee, 4),
        "monthly_secret_fee_per_clinic_usd": secret_fee,
        "monthly_cost_per_clinic_usd_by_service": idle,
        "monthly_cost_busy_clinic_usd": busy["total"],
        "monthly_cost_busy_clinic_usd_by_service": busy,
        "monthly_cost_1000_clinics_usd": scale["total"],
        "monthly_cost_1000_clinics_usd_by_service": scale,
        "monthly_cost_per_clinic_at_1000_usd": round(scale["total"] / CLINICS_AT_SCALE, 4),
        "monthly_cost_per_clinic_at_1000_excluding_secret_fee_usd": round(
            scale["total"] / CLINICS_AT_SCALE - secret_fee, 4
        ),
        "monthly_stack_fixed_usd": fixed["usd"],
        "monthly_stack_fixed": fixed,
        "monthly_xray_per_clinic_if_active_usd": monthly(traced, "idle", 1, prices)["xray"],
        "idle_aws_calls_by_operation": results["idle_aws_calls_by_operation"],
        "aws_calls_per_idle_stream": round(results["idle_aws_calls_per_cycle"] / streams, 2),
        "prices_as_of": prices["as_of"],
        "prices_region": prices["region"],
    }
