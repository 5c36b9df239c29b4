"""`cliniko-connector events tail`: what reaches the bus, as it comes. Also how the bus commands (`events`,
`replay`, `dlq`) find the stack: AWS from the environment, or the local stack from its state file."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.adapters.bus_operations import EventBridgeTail
from cliniko_connector.errors import ConfigurationError
from cliniko_connector.settings import AwsResourceSettings
from cliniko_connector.usecases import tail as tail_usecase
from cliniko_connector.usecases.tail import EVERY_EVENT, BusTail
from cliniko_tools.cli.context import DEFAULT_STATE, STATE_ENV, add_stack_options, settings_from
from cliniko_tools.cli.status import guarded
from cliniko_tools.local.stack import StackState


@dataclass
class StackTarget:
    """The stack a command works on: `local` is set when it is the local stack (moto on loopback)."""

    settings: AwsResourceSettings
    local: StackState | None = None
    state_path: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.local is not None

    def queue_url(self, logical_id: str, env_name: str) -> str | None:
        if self.local is not None:
            info = self.local.queues.get(logical_id)
            return info.url if info else None
        return os.environ.get(env_name) or None

    def client(self, service: str, *, long_poll_seconds: int = 0) -> Any:
        return boto3_client(service, long_poll_seconds=long_poll_seconds)


def _local_state(args: argparse.Namespace) -> tuple[StackState, Path] | None:
    """The local stack's state when this command runs against it: its state file exists and the environment
    doesn't name another stack (an earlier command in this process may have copied the local one's in)."""
    path = getattr(args, "stack_state", None) or Path(os.environ.get(STATE_ENV, DEFAULT_STATE))
    if not path.is_file():
        return None
    if "CONNECTIONS_TABLE" in os.environ:
        state = StackState.load(path)
        table = state.tables.get("ConnectionsTable")
        same = table is not None and os.environ["CONNECTIONS_TABLE"] == table.name
        if not same or os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/") != state.endpoint_url:
            return None
        return state, path
    return StackState.load(path), path


def stack_target(args: argparse.Namespace) -> StackTarget:
    located = _local_state(args)
    settings = settings_from(args, AwsResourceSettings)  # for the local stack: its environment, loopback checked
    if located is None:
        return StackTarget(settings)
    return StackTarget(settings, located[0], located[1])


def json_object(text: str) -> dict[str, Any]:
    """argparse type: a JSON object (an EventBridge event pattern)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict) or not value:
        raise argparse.ArgumentTypeError(
            'an event pattern is a non-empty JSON object, e.g. \'{"detail-type": ["Patient Created"]}\''
        )
    return value


def summarize(event: dict[str, Any]) -> str:
    """One line per event: time, detail-type and ids, never record data or action inputs."""
    detail: dict[str, Any] = event["detail"] if isinstance(event.get("detail"), dict) else {}
    parts = [str(event.get("time", "")), str(event.get("detail-type", "?"))]
    if detail.get("connection_id"):
        parts.append(str(detail["connection_id"]))
    if "trigger" in detail:
        parts.append(f"{detail.get('resource')}/{detail.get('id')}")
        parts.append(f"event_key={detail.get('event_key')}")
    elif "action" in detail:
        parts.append(f"action={detail['action']}")
        if detail.get("status"):
            parts.append(f"status={detail['status']}")
        key = detail.get("idempotency_key") or detail.get("event_key")
        if key:
            parts.append(f"key={key}")
    else:
        parts.append(f"source={event.get('source')}")
    return "  ".join(parts)


def _tail(args: argparse.Namespace) -> int:
    target = stack_target(args)
    bus = target.settings.event_bus_name
    pattern = args.pattern or EVERY_EVENT
    deadline = time.monotonic() + args.timeout if args.timeout is not None else None
    seen = 0
    long_poll = tail_usecase.LONG_POLL_SECONDS
    channel = EventBridgeTail(target.client("events"), target.client("sqs", long_poll_seconds=long_poll), bus)
    tail = BusTail(channel, pattern)
    try:
        with tail:
            limit = f"; stops after {args.max_events} event(s)" if args.max_events else ""
            print(f"watching {bus} (temporary rule {tail.name}){limit}; Ctrl-C stops", file=sys.stderr, flush=True)
            while args.max_events is None or seen < args.max_events:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                wait = long_poll if remaining is None else max(0, min(long_poll, int(remaining)))
                for event in tail.receive(wait):
                    if args.json:
                        print(json.dumps(event, separators=(",", ":"), sort_keys=True), flush=True)
                    else:
                        print(summarize(event), flush=True)
                    seen += 1
                    if args.max_events is not None and seen >= args.max_events:
                        break
                if wait == 0 and remaining is not None:
                    time.sleep(min(0.2, max(0.0, remaining)))
    finally:
        for thing in tail.left_behind:
            print(f"warning: could not remove the tail's {thing}; delete it by hand", file=sys.stderr)
    print(f"{seen} event(s)", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    events = subparsers.add_parser("events", help="watch the events on the bus")
    events_sub = events.add_subparsers(dest="action", required=True)
    tail = events_sub.add_parser(
        "tail", help="print events as they reach the bus (a temporary rule and queue, removed on exit)"
    )
    tail.add_argument("--pattern", type=json_object, metavar="JSON", help="an EventBridge event pattern (default: all)")
    tail.add_argument("--json", action="store_true", help="each whole event as one JSON line (includes record data)")
    tail.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    tail.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after this long")
    add_stack_options(tail)
    tail.set_defaults(func=guarded(_tail))


def required_env(env_name: str, what: str, output: str) -> str:
    """A value only the environment can give on AWS: `env_name`, from the stack's output `output`."""
    value = os.environ.get(env_name)
    if not value:
        raise ConfigurationError(f"{what} is unknown: set {env_name} (the stack's output {output}); see docs/cli.md")
    return value
