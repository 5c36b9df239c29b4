"""What failed for good, why, and sending it back: the stack's three dead-letter queues.

* `actions` (ActionFailureQueue): Lambda OnFailure destination records of action invocations that failed
  after their retries. `requestContext.functionArn` names the function, `requestPayload` is what it got,
  `responsePayload` the error. Redrive invokes the function again with the same payload (asynchronously,
  so its retries and destination apply again); the action's idempotency makes a repeat harmless.
* `rule-targets` (RuleTargetDeadLetterQueue): events EventBridge could not deliver to a rule's target; the
  message attributes say why (`ERROR_CODE`, `ERROR_MESSAGE`). Redrive puts the event back on the bus.
* `poll` (PollDeadLetterQueue): poll jobs that failed three times. The stream's cursor keeps the error.
  Redrive sends the job back to the poll queue.
* `dispatcher` (PollDispatcherFailureQueue): schedule ticks the dispatcher failed on (destination records,
  like `actions`); redrive invokes it again. `bus` (EventBusDeadLetterQueue): events the bus itself could
  not take (e.g. its KMS key was unusable), like `rule-targets`; redrive puts them back on the bus.

Listing hides the messages for a moment and then makes them visible again; nothing is changed. Only ids,
types, keys and error messages are shown, never record data.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import ConfigurationError, ConnectorError, PublishError
from cliniko_connector.models import BusEvent
from cliniko_connector.ports import (
    DeadLetterQueues,
    EventPublisher,
    FunctionInvoker,
    JobRequeue,
    PollJob,
    QueuedMessage,
)
from cliniko_connector.timeutil import to_z

QueueKind = Literal["actions", "rule-targets", "poll", "dispatcher", "bus"]
QUEUE_KINDS: tuple[QueueKind, ...] = ("actions", "rule-targets", "poll", "dispatcher", "bus")
# Stack logical ids, environment variables and stack outputs of each queue.
QUEUE_LOGICAL_IDS: dict[QueueKind, str] = {
    "actions": "ActionFailureQueue",
    "rule-targets": "RuleTargetDeadLetterQueue",
    "poll": "PollDeadLetterQueue",
    "dispatcher": "PollDispatcherFailureQueue",
    "bus": "EventBusDeadLetterQueue",
}
QUEUE_ENV: dict[QueueKind, str] = {
    "actions": "ACTION_FAILURE_QUEUE_URL",
    "rule-targets": "RULE_TARGET_DLQ_URL",
    "poll": "POLL_DLQ_URL",
    "dispatcher": "POLL_DISPATCHER_FAILURE_QUEUE_URL",
    "bus": "EVENT_BUS_DLQ_URL",
}
QUEUE_OUTPUTS: dict[QueueKind, str] = {kind: f"{logical_id}Url" for kind, logical_id in QUEUE_LOGICAL_IDS.items()}
# Lambda destination records (function failures) and EventBridge dead letters (delivery failures).
DESTINATION_RECORD_QUEUES: tuple[QueueKind, ...] = ("actions", "dispatcher")
EVENTBRIDGE_DLQ_QUEUES: tuple[QueueKind, ...] = ("rule-targets", "bus")
MAX_ERROR_CHARS = 240
HIDE_SECONDS = 60


class FailedMessage(BaseModel):
    """One dead letter, summarised: what it was, for which connection, and why it failed."""

    model_config = ConfigDict(frozen=True)

    queue: QueueKind
    message_id: str
    sent_at: datetime | None = None
    receive_count: int = 0
    what: str = Field(description="Detail-type, `action NAME` or `poll STREAM`.")
    connection_id: str | None = None
    key: str | None = Field(default=None, description="event_key, idempotency key or stream.")
    target: str | None = Field(default=None, description="Function or rule that failed.")
    error: str | None = None
    attempts: int | None = None
    redrivable: bool = True
    receipt_handle: str = Field(default="", exclude=True, repr=False)
    body: Any = Field(default=None, exclude=True, repr=False)
    attributes: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)

    def summary(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["sent_at"] = to_z(self.sent_at) if self.sent_at else None
        return data


def _short(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _function_name(arn: str | None) -> str | None:
    if not arn or ":function:" not in arn:
        return arn
    return arn.split(":function:", 1)[1].split(":", 1)[0]


def _our_error_types() -> set[str]:
    """Error types this project raises; their messages never carry record data (see `errors`)."""
    found: set[str] = set()
    pending: list[type[ConnectorError]] = [ConnectorError]
    while pending:
        cls = pending.pop()
        found.update({cls.__name__, cls.error_type})
        pending.extend(cls.__subclasses__())
    return found


def _action_of(function: str | None) -> str | None:
    """The catalog action a function runs, from its name (`…MedicalAlertCreateActionFunction…`)."""
    if not function:
        return None
    return next((a.name for a in ACTIONS.values() if f"{a.function_suffix}ActionFunction" in function), None)


def _request_of(payload: Any) -> dict[str, Any]:
    if isinstance(payload, dict) and "detail-type" in payload and isinstance(payload.get("detail"), dict):
        detail: dict[str, Any] = payload["detail"]
        return detail
    return payload if isinstance(payload, dict) else {}


def parse_message(
    queue: QueueKind, message: QueuedMessage, poll_error: Callable[[PollJob], str | None]
) -> FailedMessage:
    common: dict[str, Any] = {
        "queue": queue,
        "message_id": message.message_id,
        "receipt_handle": message.receipt_handle,
        "sent_at": message.sent_at,
        "receive_count": message.receive_count,
        "attributes": dict(message.attributes),
    }
    try:
        body = json.loads(message.body)
    except ValueError:
        return FailedMessage(**common, what="unreadable message", error="the body is not JSON", redrivable=False)
    common["body"] = body
    if queue in DESTINATION_RECORD_QUEUES:
        return _parse_destination_record(body, common)
    if queue in EVENTBRIDGE_DLQ_QUEUES:
        return _parse_eventbridge_dead_letter(body, common)
    return _parse_poll_failure(body, common, poll_error)


def _what_failed(request: dict[str, Any], function: str | None) -> str:
    action = request.get("action") or _action_of(function)
    if action:
        return f"action {action}"
    if function and "PollDispatcherFunction" in function:
        return "poll dispatch"
    return f"invocation of {function or '?'}"


def _parse_destination_record(body: Any, common: dict[str, Any]) -> FailedMessage:
    if not isinstance(body, dict) or "requestContext" not in body:
        return FailedMessage(**common, what="unknown", error="not a Lambda destination record", redrivable=False)
    context: dict[str, Any] = body.get("requestContext") or {}
    response: dict[str, Any] = body["responsePayload"] if isinstance(body.get("responsePayload"), dict) else {}
    request = _request_of(body.get("requestPayload"))
    function = _function_name(context.get("functionArn"))
    error_type = response.get("errorType") or context.get("condition")
    # Another exception's message could quote a record (a KeyError's is the missing value): type only.
    message = response.get("errorMessage") if error_type in _our_error_types() else None
    return FailedMessage(
        **common,
        what=_what_failed(request, function),
        connection_id=request.get("connection_id"),
        key=request.get("idempotency_key") or request.get("event_key"),
        target=function,
        error=_short(f"{error_type}: {message}" if message else error_type),
        attempts=context.get("approximateInvokeCount"),
        redrivable=bool(context.get("functionArn")) and "requestPayload" in body,
    )


def _parse_eventbridge_dead_letter(body: Any, common: dict[str, Any]) -> FailedMessage:
    attrs: dict[str, str] = common["attributes"]
    is_event = isinstance(body, dict) and "detail-type" in body and isinstance(body.get("detail"), dict)
    detail = body["detail"] if is_event else (body if isinstance(body, dict) else {})
    code, message = attrs.get("ERROR_CODE"), attrs.get("ERROR_MESSAGE")
    rule = attrs.get("RULE_ARN", "").rsplit("/", 1)[-1] or None
    attempts = attrs.get("RETRY_ATTEMPTS")
    return FailedMessage(
        **common,
        what=str(body["detail-type"]) if is_event else "transformed input",
        connection_id=detail.get("connection_id"),
        key=detail.get("event_key") or detail.get("idempotency_key"),
        target=rule,
        error=_short(f"{code}: {message}" if code and message else code or message),
        attempts=int(attempts) if attempts and attempts.isdigit() else None,
        redrivable=is_event or bool(attrs.get("TARGET_ARN")),
    )


def _parse_poll_failure(
    body: Any, common: dict[str, Any], poll_error: Callable[[PollJob], str | None]
) -> FailedMessage:
    try:
        job = PollJob.model_validate(body)
    except ValidationError:
        return FailedMessage(**common, what="unknown", error="not a poll job", redrivable=False)
    try:
        error = poll_error(job)
    except Exception:
        error = None
    return FailedMessage(
        **common,
        what=f"poll {job.resource}" + (" (reconcile)" if job.reconcile else ""),
        connection_id=job.connection_id,
        key=job.group,
        target="PollWorkerFunction",
        error=_short(error) or "failed 3 times; the stream's cursor had no error recorded (see the worker's logs)",
    )


@dataclass
class RedriveTargets:
    """Where dead letters go back to."""

    bus: EventPublisher
    bus_name: str
    poll_queue: JobRequeue | None
    invoke_function: FunctionInvoker


@dataclass
class DeadLetters:
    """The dead-letter use-case behind `dlq list` and `dlq redrive`."""

    dlqs: DeadLetterQueues
    queues: dict[QueueKind, str]  # kind → queue URL
    poll_error: Callable[[PollJob], str | None] = lambda job: None
    hide_seconds: int = HIDE_SECONDS
    _held: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def receive(self, kinds: Iterable[QueueKind], limit: int = 100) -> list[FailedMessage]:
        """Up to `limit` messages per queue, hidden from other readers until `release` or `delete`."""
        found: list[FailedMessage] = []
        for kind in kinds:
            url = self.queues.get(kind)
            if url is None:
                continue
            seen: set[str] = set()
            while len(seen) < limit:
                received = self.dlqs.receive(url, min(10, limit - len(seen)), hide_seconds=self.hide_seconds)
                messages = [m for m in received if m.message_id not in seen]
                if not messages:
                    break
                for m in messages:
                    seen.add(m.message_id)
                    self._held[m.message_id] = (url, m.receipt_handle)
                    found.append(parse_message(kind, m, self.poll_error))
        return sorted(found, key=lambda m: (m.sent_at or datetime.min.replace(tzinfo=UTC), m.message_id))

    def release(self, messages: Iterable[FailedMessage]) -> None:
        for m in messages:
            held = self._held.pop(m.message_id, None)
            if held is not None:
                # If this fails, the message becomes visible again by itself after `hide_seconds`.
                with contextlib.suppress(Exception):
                    self.dlqs.release(*held)

    def delete(self, message: FailedMessage) -> None:
        url, handle = self._held.pop(message.message_id)
        self.dlqs.delete(url, handle)

    def redrive(self, message: FailedMessage, to: RedriveTargets) -> str:
        """Send one dead letter back where it came from, then delete it; what was done, in a few words."""
        if not message.redrivable:
            raise ConnectorError(f"message {message.message_id} can't be sent back: {message.error}")
        done = _send_back(message, to)
        self.delete(message)
        return done


def _send_back(message: FailedMessage, to: RedriveTargets) -> str:
    body = message.body
    if message.queue in DESTINATION_RECORD_QUEUES:
        arn = str(body["requestContext"]["functionArn"])
        to.invoke_function(arn, body["requestPayload"])
        return f"invoked {_function_name(arn)} again"
    if message.queue in EVENTBRIDGE_DLQ_QUEUES:
        if isinstance(body, dict) and "detail-type" in body:
            _put_back(to, body)
            return f"put back on {to.bus_name}"
        target = message.attributes.get("TARGET_ARN", "")
        if ":function:" not in target:
            raise ConnectorError(f"message {message.message_id} holds a transformed input for {target or '?'}")
        to.invoke_function(target, body)
        return f"invoked {_function_name(target)} again"
    if to.poll_queue is None:
        raise ConfigurationError("the poll queue is unknown: set POLL_QUEUE_URL (the stack output PollQueueUrl)")
    to.poll_queue.requeue(PollJob.model_validate(body))
    return "sent back to the poll queue"


def _put_back(to: RedriveTargets, event: dict[str, Any]) -> None:
    resent = BusEvent(
        source=event["source"],
        detail_type=event["detail-type"],
        detail=event["detail"],
        resources=tuple(str(r) for r in event.get("resources") or []),
    )
    try:
        to.bus.publish([resent])
    except PublishError as exc:
        code = exc.error_codes[0] if exc.error_codes else "?"
        raise ConnectorError(f"the bus refused the event ({code})") from None
