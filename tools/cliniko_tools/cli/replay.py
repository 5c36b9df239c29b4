"""`cliniko-connector replay --since TIME [--until TIME]`: send what reached the bus in a window again.

On AWS it starts an EventBridge replay from the bus's archive (`EVENT_ARCHIVE_ARN`, else the bus's only
archive) and follows it; `--rule` limits it to chosen rules. On the local stack it puts the archived events
of the window that match `--pattern` back on the bus (see `local.archive`; the first replay on a stack
brought up without the archive turns it on).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from cliniko_connector.adapters.bus_operations import EventBridgeArchive
from cliniko_connector.adapters.eventbridge import EventBridgePublisher
from cliniko_connector.errors import ConfigurationError
from cliniko_connector.settings import ActionSettings
from cliniko_connector.timeutil import to_z, utc_now
from cliniko_connector.usecases.replay import (
    ArchiveReplay,
    LocalReplay,
    ReplayProgress,
    outlives_idempotency,
    replay_name,
)
from cliniko_tools.cli.context import add_stack_options
from cliniko_tools.cli.events import StackTarget, json_object, stack_target
from cliniko_tools.cli.output import emit_json, plural
from cliniko_tools.cli.status import guarded
from cliniko_tools.local.archive import LocalArchive, event_time, replay_resource
from cliniko_tools.local.stack import ARCHIVE_FILE_NAME, add_archive

# How long an action's idempotency record lasts (the template leaves the functions at the default).
IDEMPOTENCY_TTL_SECONDS: int = ActionSettings.model_fields["idempotency_ttl_seconds"].default
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str) -> datetime:
    """argparse type: `2026-01-05T09:30:00Z` (no zone: UTC), `2026-01-05`, `now`, or `90m` / `12h` / `7d` ago."""
    value = text.strip()
    if value == "now":
        return utc_now()
    relative = _RELATIVE.match(value)
    if relative:
        return utc_now() - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use 2026-01-05T09:30:00Z, 2026-01-05, or 12h / 7d for that long ago"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _local(args: argparse.Namespace, target: StackTarget) -> int:
    state, path = target.local, target.state_path
    assert state is not None and path is not None
    sqs, events = target.client("sqs"), target.client("events")
    if state.archive is None or state.archive.path is None:
        add_archive(state, sqs, events, path.parent / ARCHIVE_FILE_NAME)
        state.save(path)
        raise ConfigurationError(
            "the local stack kept no archive of its bus until now; it records every event from now on, "
            "so what happens next can be replayed"
        )
    archive = LocalArchive(state.archive, sqs)
    archive.drain()
    replay = LocalReplay(
        EventBridgePublisher(state.archive.event_bus, events),
        archived=archive.events,
        event_time=event_time,
        marker=lambda name: replay_resource(state, name),
    )
    if args.dry_run:
        chosen = replay.matching(args.since, args.until, args.pattern, exclude_action_requests=args.exclude_actions)
        counts: dict[str, int] = {}
        for event in chosen:
            counts[str(event.get("detail-type"))] = counts.get(str(event.get("detail-type")), 0) + 1
        if args.json:
            emit_json({"mode": "local", "dry_run": True, "would_replay": len(chosen), "by_detail_type": counts})
        else:
            print(f"would replay {plural(len(chosen), 'event')} from {to_z(args.since)} to {to_z(args.until)}")
            for detail_type, n in sorted(counts.items()):
                print(f"  {n:5} x {detail_type}")
        return 0
    outcome = replay.replay(
        replay_name(), args.since, args.until, args.pattern, exclude_action_requests=args.exclude_actions
    )
    if args.json:
        emit_json(outcome.to_dict())
        return 0
    print(
        f"replayed {plural(outcome.replayed, 'event')} from {to_z(args.since)} to {to_z(args.until)} "
        f"onto {state.archive.event_bus} ({outcome.name})"
    )
    for detail_type, n in sorted(outcome.by_detail_type.items()):
        print(f"  {n:5} x {detail_type}")
    if outcome.replayed:
        print("next: `cliniko-connector local run --once` delivers them to the rules' targets")
    return 0


def _aws(args: argparse.Namespace, target: StackTarget) -> int:
    archive = EventBridgeArchive.of_bus(
        target.client("events"),
        target.settings.event_bus_name,
        bus_arn=os.environ.get("EVENT_BUS_ARN"),
        archive_arn=os.environ.get("EVENT_ARCHIVE_ARN"),
    )
    replay = ArchiveReplay(archive)
    progress = replay.start(
        replay_name(), args.since, args.until, args.rule or (), exclude_action_requests=args.exclude_actions
    )
    tty = sys.stderr.isatty()

    def show(p: ReplayProgress) -> None:
        fraction = f" {p.fraction * 100:.0f}%" if p.fraction is not None else ""
        last = f", replayed up to {to_z(p.last_replayed)}" if p.last_replayed else ""
        line = f"replay {p.name}: {p.state}{fraction}{last}"
        sys.stderr.write(("\r\x1b[K" + line) if tty else line + "\n")
        sys.stderr.flush()

    show(progress)
    if not args.no_wait:
        try:
            progress = replay.follow(progress, show)
        except KeyboardInterrupt:
            print(
                f"\nstopped watching; the replay {progress.name} goes on in AWS "
                f"(`aws events describe-replay --replay-name {progress.name}`)",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        if tty:
            sys.stderr.write("\n")
    if args.json:
        emit_json(progress.to_dict())
    else:
        print(f"replay {progress.name} {progress.state.lower()}: {to_z(args.since)} to {to_z(args.until)}")
    if progress.state in ("FAILED", "CANCELLED"):
        print(f"error: the replay {progress.state.lower()}: {progress.reason or 'no reason given'}", file=sys.stderr)
        return 1
    return 0


def _idempotency_guard(args: argparse.Namespace) -> None:
    """Past the idempotency records' lifetime a replay is not harmless: say so, and leave action requests out
    unless --include-action-requests."""
    args.exclude_actions = False
    if not outlives_idempotency(args.since, utc_now(), IDEMPOTENCY_TTL_SECONDS):
        return
    hours = IDEMPOTENCY_TTL_SECONDS // 3600
    args.exclude_actions = not args.include_action_requests
    left = (
        "action requests are included (--include-action-requests): the writes they ask for will run again"
        if args.include_action_requests
        else "only trigger events are replayed (--include-action-requests adds action requests)"
    )
    print(
        f"warning: the window starts more than {hours}h ago, before the idempotency records still kept: write "
        f"actions its events lead to would run again; {left}",
        file=sys.stderr,
    )


def _replay(args: argparse.Namespace) -> int:
    if args.until is None:
        args.until = utc_now()
    _idempotency_guard(args)
    target = stack_target(args)
    if target.is_local and args.rule:
        print("error: --rule is for AWS replays; on the local stack use --pattern", file=sys.stderr)
        return EXIT_USAGE
    if not target.is_local and (args.pattern or args.dry_run):
        option = "--pattern" if args.pattern else "--dry-run"
        print(
            f"error: {option} works on the local stack only: EventBridge replays every archived event of the "
            "window; use --rule NAME to replay to chosen rules only",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return _local(args, target) if target.is_local else _aws(args, target)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("replay", help="send the events of a time window to the bus again")
    p.add_argument("--since", type=parse_when, required=True, metavar="TIME", help="2026-01-05T09:30:00Z or 2h (ago)")
    p.add_argument("--until", type=parse_when, metavar="TIME", help="default: now")
    p.add_argument("--pattern", type=json_object, metavar="JSON", help="local stack: only events matching it")
    p.add_argument("--rule", action="append", metavar="NAME", help="AWS: replay to this rule only (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="local stack: count what would be replayed")
    p.add_argument("--no-wait", action="store_true", help="AWS: start the replay and return")
    p.add_argument(
        "--include-action-requests",
        action="store_true",
        help="a window older than the idempotency records (a day) replays trigger events only; this adds "
        "`Cliniko Action Requested` events, whose writes then run again",
    )
    p.add_argument("--json", action="store_true")
    add_stack_options(p)
    p.set_defaults(func=guarded(_replay))
