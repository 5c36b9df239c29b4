"""`cliniko-connector dlq list|redrive`: what failed for good, why, and sending it back.

Queues (`--queue`): `actions` (action invocations that failed after their retries), `rule-targets` (events
EventBridge could not deliver to a rule's target), `poll` (poll jobs that failed three times), `dispatcher`
(schedule ticks the dispatcher failed on) and `bus` (events the bus itself could not take). On AWS their URLs
come from ACTION_FAILURE_QUEUE_URL, RULE_TARGET_DLQ_URL, POLL_DLQ_URL, POLL_DISPATCHER_FAILURE_QUEUE_URL and
EVENT_BUS_DLQ_URL (and POLL_QUEUE_URL for sending poll jobs back); on the local stack from its state file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cliniko_connector.adapters.eventbridge import EventBridgePublisher
from cliniko_connector.adapters.sqs import SqsDeadLetterQueues, SqsJobQueue
from cliniko_connector.errors import ConfigurationError, ConnectorError
from cliniko_connector.models import StreamKey
from cliniko_connector.ports import FunctionInvoker, PollJob
from cliniko_connector.timeutil import to_z
from cliniko_connector.usecases.dlq import (
    QUEUE_ENV,
    QUEUE_KINDS,
    QUEUE_LOGICAL_IDS,
    QUEUE_OUTPUTS,
    DeadLetters,
    FailedMessage,
    QueueKind,
    RedriveTargets,
)
from cliniko_connector.wiring import build_runtime
from cliniko_tools.cli.context import add_stack_options
from cliniko_tools.cli.events import StackTarget, stack_target
from cliniko_tools.cli.output import emit_json, plural, table
from cliniko_tools.cli.status import guarded

EXIT_USAGE = 2


def _queues(queue: QueueKind | None, target: StackTarget) -> dict[QueueKind, str]:
    kinds: tuple[QueueKind, ...] = (queue,) if queue else QUEUE_KINDS
    queues: dict[QueueKind, str] = {}
    missing: list[str] = []
    for kind in kinds:
        url = target.queue_url(QUEUE_LOGICAL_IDS[kind], QUEUE_ENV[kind])
        if url:
            queues[kind] = url
        else:
            missing.append(f"{QUEUE_ENV[kind]} (stack output {QUEUE_OUTPUTS[kind]})")
    if not queues or (queue and missing):
        raise ConfigurationError(f"dead-letter queue URL unknown: set {', '.join(missing)}; see docs/cli.md")
    return queues


def dead_letters(target: StackTarget, queue: QueueKind | None = None) -> DeadLetters:
    """The stack's dead-letter queues (`queue`: only that one), each message's why filled in; shared by `dlq` and
    the console."""
    runtime = build_runtime(target.settings)

    def poll_error(job: PollJob) -> str | None:
        keys = [StreamKey(connection_id=job.connection_id, resource=r) for r in job.resources]
        errors = [(k.resource, c.last_error) for k, c in runtime.state.get_cursors(keys).items() if c.last_error]
        if len(keys) == 1:
            return errors[0][1] if errors else None
        return "; ".join(f"{resource}: {error}" for resource, error in errors) or None

    return DeadLetters(SqsDeadLetterQueues(target.client("sqs")), _queues(queue, target), poll_error=poll_error)


def _invoker(target: StackTarget) -> FunctionInvoker:
    """Invoke a function asynchronously: Lambda on AWS; its rule-target queue on the local stack."""
    if target.local is None:
        lambda_client = target.client("lambda")

        def invoke(function_arn: str, payload: Any) -> None:
            lambda_client.invoke(
                FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(payload).encode()
            )

        return invoke
    state = target.local
    sqs = target.client("sqs")

    def invoke_locally(function_arn: str, payload: Any) -> None:
        unqualified = function_arn.split(":function:", 1)[-1].split(":", 1)[0]
        function = next((f for f in state.functions.values() if f.name == unqualified or f.arn == function_arn), None)
        if function is None:
            raise ConfigurationError(f"the local stack has no function {unqualified}")
        consumers = state.queue_consumers().items()
        queue = next((q for q, (fn, kind) in consumers if fn == function.logical_id and kind == "rule"), None)
        if queue is not None:
            # Its rule-target queue: `local run` delivers it, with retries and the failure destination.
            sqs.send_message(QueueUrl=state.queues[queue].url, MessageBody=json.dumps(payload))
            return
        from cliniko_tools.local.runner import HandlerError, LocalRunner

        try:  # no rule delivers to it (the dispatcher runs on a schedule): run it here and now
            LocalRunner(state).invoke(function.logical_id, payload)
        except HandlerError as exc:
            raise ConnectorError(f"{function.logical_id} failed again: {exc.error}") from None

    return invoke_locally


def redrive_targets(target: StackTarget) -> RedriveTargets:
    """Where redriven messages go: events to the bus, poll jobs to the poll queue, actions invoked again."""
    bus_name = target.settings.event_bus_name
    poll_queue_url = target.queue_url("PollQueue", "POLL_QUEUE_URL")
    return RedriveTargets(
        bus=EventBridgePublisher(bus_name, target.client("events")),
        bus_name=bus_name,
        poll_queue=SqsJobQueue(poll_queue_url, target.client("sqs")) if poll_queue_url else None,
        invoke_function=_invoker(target),
    )


def send_back(letters: DeadLetters, chosen: list[FailedMessage], to: RedriveTargets) -> list[dict[str, Any]]:
    """Redrive each chosen message; one that fails goes back to its queue. Each message's summary with `redriven`
    and `result` (what was done, or why not: our own errors' message, else only the error's type)."""
    results: list[dict[str, Any]] = []
    for m in chosen:
        try:
            done = letters.redrive(m, to)
            results.append({**m.summary(), "redriven": True, "result": done})
        except Exception as exc:
            letters.release([m])
            reason = str(exc) if isinstance(exc, ConnectorError) else type(exc).__name__
            results.append({**m.summary(), "redriven": False, "result": reason})
    return results


def _rows(messages: list[FailedMessage]) -> list[tuple[Any, ...]]:
    return [
        (
            m.message_id[:8],
            m.queue,
            to_z(m.sent_at) if m.sent_at else "-",
            m.what,
            m.connection_id or "-",
            m.key or "-",
            m.error or "-",
        )
        for m in messages
    ]


HEADERS = ["ID", "QUEUE", "FAILED AT", "WHAT", "CONNECTION", "KEY", "WHY"]


def _list(args: argparse.Namespace) -> int:
    target = stack_target(args)
    letters = dead_letters(target, args.queue)
    messages = letters.receive(letters.queues, limit=args.limit)
    letters.release(messages)
    if args.json:
        emit_json([m.summary() for m in messages])
        return 0
    if not messages:
        print(f"nothing failed: {', '.join(letters.queues)} empty")
        return 0
    print(table(_rows(messages), HEADERS))
    redrive = "cliniko-connector dlq redrive [--queue Q] [--id ID] --yes"
    print(f"{plural(len(messages), 'message')}; send them back: {redrive}")
    return 0


def _confirm(count: int) -> bool | None:
    """True/False from the operator; None when nobody can be asked."""
    if not sys.stdin.isatty():
        return None
    print(f"send {plural(count, 'message')} back? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _redrive(args: argparse.Namespace) -> int:
    target = stack_target(args)
    letters = dead_letters(target, args.queue)
    messages = letters.receive(letters.queues, limit=args.limit)
    chosen = [m for m in messages if not args.id or any(m.message_id.startswith(i) for i in args.id)]
    letters.release([m for m in messages if m not in chosen])
    if not chosen:
        print("nothing to send back" + (" with those ids" if args.id else ""))
        return 0
    if not args.yes:
        answer = _confirm(len(chosen))
        if answer is None:
            letters.release(chosen)
            print("error: pass --yes to send messages back without a prompt", file=sys.stderr)
            return EXIT_USAGE
        if not answer:
            letters.release(chosen)
            print("kept")
            return 1
    results = send_back(letters, chosen, redrive_targets(target))
    failed = sum(1 for r in results if not r["redriven"])
    if not args.json:
        for r in results:
            outcome = r["result"] if r["redriven"] else f"NOT sent back ({r['result']}); it stays in the queue"
            print(f"{r['message_id'][:8]}  {r['what']}: {outcome}")
    if args.json:
        emit_json(results)
    else:
        print(f"{len(chosen) - failed} sent back, {failed} failed")
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("dlq", help="what failed for good, why, and sending it back")
    sub = p.add_subparsers(dest="action", required=True)

    def common(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--queue", choices=QUEUE_KINDS, help="one queue (default: every one the stack has)")
        cmd.add_argument("--limit", type=int, default=100, metavar="N", help="per queue (default: 100)")
        cmd.add_argument("--json", action="store_true")
        add_stack_options(cmd)

    ls = sub.add_parser("list", help="the failed messages, with why they failed (nothing is changed)")
    common(ls)
    ls.set_defaults(func=guarded(_list))
    rd = sub.add_parser(
        "redrive", help="send failed messages back: actions re-invoked, events to the bus, jobs to the poll queue"
    )
    common(rd)
    rd.add_argument("--id", action="append", metavar="ID", help="only this message (an id prefix from `dlq list`)")
    rd.add_argument("--yes", action="store_true", help="don't ask")
    rd.set_defaults(func=guarded(_redrive))
