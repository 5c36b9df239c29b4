"""Runs the stack's handlers in this process the way Lambda would, against the local stack's queues.

Each *function* gets its own module instance of its handler file (several action functions share
`functions/action/app.py` with different environments), imported and invoked with exactly that function's
environment in `os.environ` (restored afterwards). Schedules are fired on demand; queues are drained:

* an SQS event source (PollQueue → PollWorkerFunction) is delivered as `{"Records": [...]}`, honouring
  ReportBatchItemFailures: only the messages that succeeded are deleted;
* a rule-target queue (`local-<Rule>-<Target>`) holds what EventBridge would have passed the function;
  each message is one asynchronous invocation. A failure leaves the message for another attempt after its
  visibility timeout; after 1 + MaximumRetryAttempts attempts it goes to the OnFailure destination, as a
  Lambda destination record, like Lambda's asynchronous retries would.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.exceptions import ClientError

from cliniko_connector.errors import ConfigurationError
from cliniko_tools.automation_stack.delivery import AutomationDelivery, RetryLater
from cliniko_tools.devtools.sample_events import SqsMessage, scheduled_event, sqs_event
from cliniko_tools.local.archive import LocalArchive
from cliniko_tools.local.endpoint import ensure_local_aws_environment, require_loopback_endpoint
from cliniko_tools.local.schedules import Fired, fire_due
from cliniko_tools.local.stack import FunctionInfo, StackState, stack_owner

# The error codes of a queue that isn't there (moto's query and JSON protocols).
NO_SUCH_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` with `values` set inside the block; those variables are restored (or removed) after.

    Only the given names are touched, never the whole mapping: an in-process moto server thread may be
    reading the environment at the same time."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class LambdaContext:
    """The attributes and method handlers (and Powertools) read from Lambda's context object."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    function: str
    source: str  # "schedule", "invoke", or the queue key
    ok: bool
    error: str | None = None
    message_ids: tuple[str, ...] = ()
    result: Any = None
    handled: str = ""  # what the event was, in a few words (ids and types, never record data)


def describe_event(event: Any) -> str:
    """What a handler was given, for `local run`'s log: a schedule tick, an EventBridge event (its detail-type and
    record), an action request (its action and key), or a batch of queue messages (what each one is)."""
    if not isinstance(event, dict):
        return type(event).__name__
    records = event.get("Records")
    if isinstance(records, list):
        bodies = []
        for record in records:
            try:
                bodies.append(describe_event(json.loads(record.get("body", ""))))
            except (ValueError, AttributeError):
                bodies.append("message")
        counted = Counter(bodies)
        return ", ".join(f"{n} x {what}" if n > 1 else what for what, n in counted.items())
    if event.get("detail-type") == "Scheduled Event":
        return "schedule tick"
    if "detail-type" in event:
        raw = event.get("detail")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
        what = str(event["detail-type"])
        if detail.get("resource") and detail.get("id"):
            what += f" {detail['resource']}/{detail['id']}"
        elif detail.get("action"):
            what += f" {detail['action']}"
        return what
    if "connection_id" in event and "resources" in event:
        return f"poll job {event['connection_id']}/{','.join(map(str, event['resources']))}"
    if "connection_id" in event and "resource" in event:
        return f"poll job {event['connection_id']}/{event['resource']}"
    if "connection_id" in event and "input" in event:
        key = event.get("idempotency_key")
        return f"action request for {event['connection_id']}" + (f" (key {key})" if key else "")
    return "event"


@dataclass
class RunSummary:
    invocations: Counter[str] = field(default_factory=Counter)
    failures: list[Invocation] = field(default_factory=list)
    messages: int = 0

    def record(self, invocation: Invocation) -> None:
        self.invocations[invocation.function] += 1
        if not invocation.ok:
            self.failures.append(invocation)

    def merge(self, other: RunSummary) -> None:
        self.invocations.update(other.invocations)
        self.failures.extend(other.failures)
        self.messages += other.messages

    @property
    def total(self) -> int:
        return sum(self.invocations.values())


class HandlerError(Exception):
    """The handler (or its module's import) raised; `error` is the one-line summary."""

    def __init__(self, function: str, error: str) -> None:
        super().__init__(f"{function}: {error}")
        self.function = function
        self.error = error


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class LocalRunner:
    """Invokes the stack's handlers; `project_root` is where the template's CodeUri paths start."""

    def __init__(
        self,
        state: StackState,
        project_root: str | Path | None = None,
        *,
        retry_delay_seconds: int | None = None,
        on_invocation: Callable[[Invocation], None] | None = None,
        state_path: str | Path | None = None,
    ) -> None:
        _require_local(state)
        ensure_local_aws_environment()
        self.state = state
        # `local up` run again rewrites this file; `run` picks the new state up between cycles.
        self.state_path = Path(state_path) if state_path is not None else None
        self._state_stamp = self._stamp()
        self.project_root = Path(project_root) if project_root is not None else state.project_root
        self.retry_delay_seconds = retry_delay_seconds
        self.on_invocation = on_invocation
        self._modules: dict[str, ModuleType] = {}
        self._sqs = boto3.client("sqs", endpoint_url=state.endpoint_url, region_name=state.region)
        self._automations: AutomationDelivery | None = None
        self._automation_summary = RunSummary()
        # One invocation at a time: each swaps its function's environment into os.environ (function URLs are
        # served from other threads).
        self._invoking = threading.RLock()

    # -- following `local up` --

    def _stamp(self) -> tuple[int, int] | None:
        if self.state_path is None:
            return None
        try:
            stat = self.state_path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def refresh(self) -> bool:
        """Load the state file again if `local up` rewrote it for the same moto server; True if it did.
        Functions whose definition changed are imported afresh, with their new environment."""
        stamp = self._stamp()
        if self.state_path is None or stamp is None or stamp == self._state_stamp:
            return False
        self._state_stamp = stamp
        try:
            state = StackState.load(self.state_path)
        except (ConfigurationError, ValueError):
            return False  # gone or unreadable: keep running what we have
        if state.endpoint_url != self.state.endpoint_url:
            return False
        _require_local(state)
        for logical_id, function in self.state.functions.items():
            if state.functions.get(logical_id) != function:
                self._modules.pop(logical_id, None)
        self.state = state
        return True

    # -- loading and invoking --

    def _handler(self, function: FunctionInfo) -> Callable[[Any, Any], Any]:
        module_path, _, attribute = function.handler.rpartition(".")
        module = self._modules.get(function.logical_id)
        if module is None:
            code_dir = (self.project_root / function.code_uri).resolve()
            source = code_dir / (module_path.replace(".", "/") + ".py")
            if not source.is_file():
                raise HandlerError(function.logical_id, f"handler file {source} does not exist")
            name = f"_cliniko_local_{function.logical_id}"
            spec = importlib.util.spec_from_file_location(name, source)
            if spec is None or spec.loader is None:
                raise HandlerError(function.logical_id, f"can't import {source}")
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(code_dir))
            try:
                with patched_environ(function.environment):
                    spec.loader.exec_module(module)
            except Exception as exc:
                raise HandlerError(function.logical_id, f"init failed: {_describe(exc)}") from exc
            finally:
                with contextlib.suppress(ValueError):
                    sys.path.remove(str(code_dir))
            self._modules[function.logical_id] = module
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise HandlerError(function.logical_id, f"{function.handler} is not a function")
        return handler  # type: ignore[no-any-return]

    def invoke(self, function_id: str, event: Any) -> Any:
        """Call the function's handler with `event` and a fresh context; raises `HandlerError` on failure."""
        with self._invoking:
            return self._invoke(function_id, event)

    def _invoke(self, function_id: str, event: Any) -> Any:
        function = self.state.functions[function_id]
        handler = self._handler(function)
        context = LambdaContext(
            function_name=function.name,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory_mb,
            timeout_seconds=function.timeout,
        )
        with patched_environ({**function.environment, "_X_AMZN_TRACE_ID": f"Root=1-{uuid.uuid4().hex[:24]}"}):
            try:
                return handler(event, context)
            except Exception as exc:
                raise HandlerError(function_id, _describe(exc)) from exc

    def _call(self, function_id: str, event: Any, source: str, message_ids: tuple[str, ...] = ()) -> Invocation:
        try:
            result = self.invoke(function_id, event)
            invocation = Invocation(
                function_id, source, True, message_ids=message_ids, result=result, handled=describe_event(event)
            )
        except HandlerError as exc:
            invocation = Invocation(function_id, source, False, exc.error, message_ids, handled=describe_event(event))
            if os.environ.get("CLINIKO_LOCAL_TRACEBACKS") and exc.__cause__ is not None:
                traceback.print_exception(exc.__cause__, file=sys.stderr)
        if self.on_invocation:
            self.on_invocation(invocation)
        return invocation

    # -- schedules --

    def fire_schedules(self) -> RunSummary:
        """Invoke every function that has an enabled Schedule event, once, with a Scheduled Event."""
        summary = RunSummary()
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for function in self.state.functions.values():
            for schedule in function.schedules:
                rule_arn = (
                    f"arn:aws:events:{self.state.region}:{self.state.account_id}:"
                    f"rule/{self.state.stack_name}-{function.logical_id}{schedule}"
                )
                event = scheduled_event(
                    rule_arn=rule_arn,
                    event_id=str(uuid.uuid4()),
                    time=now,
                    account=self.state.account_id,
                    region=self.state.region,
                )
                summary.record(self._call(function.logical_id, event, "schedule"))
        return summary

    # -- queues --

    def _receive(self, queue_url: str, limit: int) -> list[dict[str, Any]]:
        try:
            response = self._sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=max(1, min(10, limit)),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in NO_SUCH_QUEUE:
                raise
            return []  # `local up` removed it (its rule is gone) since this cycle began: nothing to deliver
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _delete(self, queue_url: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _retry_later(self, queue_url: str, messages: list[dict[str, Any]]) -> None:
        if self.retry_delay_seconds is None:
            return
        for message in messages:
            self._sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self.retry_delay_seconds
            )

    def _drain_event_source(self, queue: str, function: FunctionInfo, limit: int) -> RunSummary:
        summary = RunSummary()
        info = self.state.queues[queue]
        source = next(s for s in function.sqs_sources if s.queue == queue)
        messages = self._receive(info.url, min(limit, source.batch_size))
        if not messages:
            return summary
        summary.messages += len(messages)
        event = sqs_event(
            [
                SqsMessage(
                    message_id=m["MessageId"],
                    receipt_handle=m["ReceiptHandle"],
                    body=m["Body"],
                    attributes=m.get("Attributes", {}),
                    message_attributes=_lambda_message_attributes(m.get("MessageAttributes", {})),
                )
                for m in messages
            ],
            queue_arn=info.arn,
            region=self.state.region,
        )
        ids = tuple(m["MessageId"] for m in messages)
        invocation = self._call(function.logical_id, event, queue, ids)
        if not invocation.ok:
            summary.record(invocation)
            self._retry_later(info.url, messages)
            return summary
        failed: set[str] = set()
        if source.report_batch_item_failures and isinstance(invocation.result, dict):
            failed = {str(f.get("itemIdentifier")) for f in invocation.result.get("batchItemFailures") or []}
        summary.record(invocation)
        if failed:
            summary.failures.append(
                Invocation(function.logical_id, queue, False, "batchItemFailures", tuple(sorted(failed)))
            )
        self._delete(info.url, [m for m in messages if m["MessageId"] not in failed])
        self._retry_later(info.url, [m for m in messages if m["MessageId"] in failed])
        return summary

    def _drain_rule_target(self, queue: str, function: FunctionInfo, limit: int) -> RunSummary:
        summary = RunSummary()
        info = self.state.queues[queue]
        located = self.state.target_for_queue(queue)
        transformed = located is not None and located[1].input_transformer
        for message in self._receive(info.url, limit):
            summary.messages += 1
            event = json.loads(message["Body"])
            if not transformed and isinstance(event, dict):
                event = self._as_eventbridge_delivered(event)
            invocation = self._call(function.logical_id, event, queue, (message["MessageId"],))
            summary.record(invocation)
            if invocation.ok:
                self._delete(info.url, [message])
                continue
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if attempts > function.max_retry_attempts:
                self._send_to_on_failure(function, event, invocation, attempts)
                self._delete(info.url, [message])
            else:
                self._retry_later(info.url, [message])
        return summary

    def _as_eventbridge_delivered(self, event: dict[str, Any]) -> dict[str, Any]:
        """moto's default target input lacks `account` and adds `ingestion-time`; EventBridge does neither."""
        event = {key: value for key, value in event.items() if key != "ingestion-time"}
        if "detail-type" in event and "account" not in event:
            ordered = {}
            for key, value in event.items():
                ordered[key] = value
                if key == "source":
                    ordered["account"] = self.state.account_id
            event = ordered
        return event

    def _send_to_on_failure(self, function: FunctionInfo, event: Any, invocation: Invocation, attempts: int) -> None:
        if function.on_failure_queue is None:
            return
        error_type, _, message = (invocation.error or "").partition(": ")
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function.arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": message, "errorType": error_type},
        }
        destination = self.state.queues[function.on_failure_queue]
        self._sqs.send_message(QueueUrl=destination.url, MessageBody=json.dumps(record))

    def drain(self, max_messages: int = 1000) -> RunSummary:
        """Deliver queued messages to their functions until the queues are empty (or `max_messages`);
        cascades (dispatcher → poll worker → bus → action) complete within one call."""
        summary = RunSummary()
        consumers = self.state.queue_consumers()
        while summary.messages < max_messages:
            progress = 0
            for queue, (function_id, kind) in consumers.items():
                remaining = max_messages - summary.messages
                if remaining <= 0:
                    break
                function = self.state.functions[function_id]
                drainer = self._drain_event_source if kind == "sqs" else self._drain_rule_target
                part = drainer(queue, function, remaining)
                progress += part.messages
                summary.merge(part)
            remaining = max_messages - summary.messages
            if remaining > 0:
                delivered = self._drain_automations(remaining, summary)
                summary.messages += delivered
                progress += delivered
            if not progress:
                break
        return summary

    # -- the automations stack (`cliniko-connector automations deploy` on the local stack) --

    def automations(self) -> AutomationDelivery | None:
        """What delivers the deployed automations' targets; None when the stack's state file is unknown."""
        if self._automations is None:
            path = self.state_path
            if path is None:
                ssm = boto3.client("ssm", endpoint_url=self.state.endpoint_url, region_name=self.state.region)
                owner = stack_owner(ssm, self.state.stack_name)
                path = Path(owner) if owner else None
            if path is None:
                return None
            self._automations = AutomationDelivery(
                self.state, path, self._invoke_action_target, retry_delay_seconds=self.retry_delay_seconds
            )
        self._automations.stack = self.state
        return self._automations

    def _drain_automations(self, limit: int, summary: RunSummary) -> int:
        delivery = self.automations()
        if delivery is None:
            return 0
        self._automation_summary = summary
        return delivery.drain(limit)

    def _invoke_action_target(self, function_id: str, payload: Any, source: str, attempts: int) -> bool:
        """An automation's action target: one asynchronous invoke, with Lambda's retries and failure destination."""
        function = self.state.functions[function_id]
        invocation = self._call(function_id, payload, source)
        self._automation_summary.record(invocation)
        if invocation.ok:
            return True
        if attempts <= function.max_retry_attempts:
            raise RetryLater(function_id)
        self._send_to_on_failure(function, payload, invocation, attempts)
        return False

    def fire_due_schedules(self, now: datetime | None = None) -> Fired:
        """What EventBridge Scheduler does for the stack's one-time schedules whose time has come (moto keeps
        them but never runs them): put each one's event on the bus and delete it. `now` lets a test look ahead."""
        if not self.state.schedule_groups:
            return Fired()
        clients = {
            name: boto3.client(name, endpoint_url=self.state.endpoint_url, region_name=self.state.region)
            for name in ("scheduler", "events")
        }
        return fire_due(self.state, clients["scheduler"], clients["events"], self._sqs, now)

    def run_once(self, max_messages: int = 1000) -> RunSummary:
        summary = self.fire_schedules()
        self.fire_due_schedules()
        summary.merge(self.drain(max_messages))
        self.drain_archive()
        return summary

    def drain_archive(self) -> int:
        """Move what reached the bus into the local archive file (when the stack keeps one)."""
        archive = self.state.archive
        if archive is None or archive.path is None:
            return 0
        return LocalArchive(archive, self._sqs).drain()

    def run(self, interval_seconds: float = 10.0, until: Callable[[], bool] | None = None) -> RunSummary:
        """fire_schedules + drain every `interval_seconds` until `until()` is true or Ctrl-C."""
        summary = RunSummary()
        try:
            while until is None or not until():
                self.refresh()
                summary.merge(self.run_once())
                deadline = time.monotonic() + interval_seconds
                while time.monotonic() < deadline:
                    if until is not None and until():
                        return summary
                    time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        except KeyboardInterrupt:
            pass
        return summary


def _require_local(state: StackState) -> None:
    require_loopback_endpoint(state.endpoint_url)
    for function in state.functions.values():
        require_loopback_endpoint(function.environment.get("AWS_ENDPOINT_URL", ""))


def _lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API message attributes (`StringValue`) in the Lambda event's spelling (`stringValue`)."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        converted[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
    return converted
