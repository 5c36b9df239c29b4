"""`cliniko-connector backfill CONNECTION TRIGGER… --since TIME|--all`: publish history, resumably.

The streams' start moves back and the same poll worker as the Lambda polls them until they catch up, with
a progress bar on stderr (plain lines when stderr is not a terminal). Stopped anywhere (Ctrl-C, `--time-limit`),
running the same command again continues from the last checkpoint; `--restart` starts over.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from cliniko_connector.errors import ConnectorError
from cliniko_connector.models import StartPoint
from cliniko_connector.settings import PollerSettings
from cliniko_connector.timeutil import to_z
from cliniko_connector.usecases.backfill import Backfill, BackfillProgress, StreamOutcome
from cliniko_connector.usecases.connections import ConnectionAdmin
from cliniko_connector.wiring import build_runtime, poll_worker
from cliniko_tools.cli.connections import trigger_names
from cliniko_tools.cli.context import add_stack_options, settings_from
from cliniko_tools.cli.output import emit_json, table
from cliniko_tools.cli.replay import parse_when
from cliniko_tools.cli.status import duration, guarded, rate_usage_for, report_error

EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130
BAR_WIDTH = 24


class ProgressDisplay:
    """A redrawn status line on a terminal; a line every `plain_interval` seconds (and on state changes)
    otherwise, so logs of a scheduled run stay readable."""

    def __init__(
        self, out: TextIO, *, tty: bool | None = None, plain_interval: float = 5.0, window_seconds: int = 60
    ) -> None:
        self.out = out
        self.window_seconds = window_seconds
        self.tty = out.isatty() if tty is None else tty
        self.plain_interval = plain_interval
        self._last_plain = float("-inf")
        self._last_key: tuple[str, str] | None = None
        self._drawn = False

    def update(self, p: BackfillProgress) -> None:
        key = (p.resource, p.state)
        if self.tty:
            self.out.write("\r\x1b[K" + self._line(p, bar=True))
            self.out.flush()
            self._drawn = True
        elif key != self._last_key or time.monotonic() - self._last_plain >= self.plain_interval:
            self.out.write(self._line(p, bar=False) + "\n")
            self.out.flush()
            self._last_plain = time.monotonic()
        self._last_key = key

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.out.write("\n")
            self.out.flush()
            self._drawn = False

    def _line(self, p: BackfillProgress, *, bar: bool) -> str:
        fraction = p.fraction
        percent = f"{fraction * 100:3.0f}%" if fraction is not None else "  ?%"
        parts = [f"{p.connection_id}/{p.resource} [{p.index}/{p.streams}]"]
        if bar:
            filled = round((fraction or 0.0) * BAR_WIDTH)
            parts.append("[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]")
        parts.append(percent)
        records = f"{p.done:,}/{p.total:,} records" if p.total is not None else f"{p.done:,} records"
        details = [records, f"{p.pages} page{'' if p.pages == 1 else 's'}", f"at {to_z(p.position)}"]
        if p.rate_limit is not None:
            used = p.rate_used if p.rate_used is not None else "?"
            cap = int(p.rate_limit * self.window_seconds / 60)
            details.append(f"rate {used}/{cap} in this {self.window_seconds}s window")
        details.append(f"ETA {duration(p.eta_seconds)}" if p.eta_seconds is not None else "ETA -")
        state = {
            "busy": "waiting: the scheduled poller is on this stream",
            "rate-limited": "waiting for the rate budget",
            "caught-up": "caught up",
            "stopped": "paused",
        }.get(p.state)
        if state:
            details.append(state)
        return " ".join(parts) + "  " + ", ".join(details)


def _start_point(args: argparse.Namespace) -> StartPoint:
    if args.all:
        return StartPoint(kind="beginning")
    return StartPoint(kind="timestamp", timestamp=args.since)


def _print_outcomes(outcomes: list[StreamOutcome]) -> None:
    rows = [
        (
            o.resource,
            {"start": "started", "restart": "restarted", "resume": "resumed"}[o.action],
            "caught up" if o.caught_up else "paused" if o.stopped else "not reached",
            o.pages,
            o.records,
            o.events,
            f"{o.done:,}/{o.total:,}" if o.total is not None else f"{o.done:,}",
            duration(o.seconds),
            o.cursor or "-",
        )
        for o in outcomes
    ]
    headers = ["STREAM", "BACKFILL", "STATE", "PAGES", "RECORDS", "EVENTS", "DONE", "TIME", "CURSOR"]
    print(table(rows, headers))


def _backfill(args: argparse.Namespace) -> int:
    if args.time_limit is not None and args.time_limit < 0:
        print("error: --time-limit must be 0 or more seconds", file=sys.stderr)
        return 2
    triggers = trigger_names(list(args.triggers))
    settings = settings_from(args, PollerSettings)
    runtime = build_runtime(settings)
    worker = poll_worker(settings, runtime)
    admin = ConnectionAdmin(runtime.connections, runtime.secrets, runtime.state, runtime.api_for_key)
    backfill = Backfill(admin, worker, rate_usage=rate_usage_for(runtime))
    display = ProgressDisplay(sys.stderr, window_seconds=settings.rate_window_seconds)
    outcomes: list[StreamOutcome] = []
    try:
        plans = backfill.prepare(args.connection, triggers, _start_point(args), restart=args.restart)
        for plan in plans:
            c = plan.cursor
            if plan.action == "resume":
                done = f"{c.backfill_done:,}/{c.backfill_total:,}" if c.backfill_total is not None else "?"
                line = f"resuming {args.connection}/{plan.resource} at {to_z(c.position)} ({done} records done)"
            else:
                verb = "starting" if plan.action == "start" else "restarting"
                total = f"{c.backfill_total:,}" if c.backfill_total is not None else "?"
                line = f"{verb} {args.connection}/{plan.resource} from {to_z(c.origin)} ({total} records)"
            print(line, file=sys.stderr, flush=True)
        outcomes = backfill.run(args.connection, plans, on_progress=display.update, time_limit=args.time_limit)
    except ConnectorError as exc:
        display.finish()
        return report_error(exc, args, args.connection)
    except KeyboardInterrupt:
        display.finish()
        print(
            "interrupted: every stream keeps its last checkpoint; run the same command again to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except BaseException:
        display.finish()  # the AWS error line goes below the progress line
        raise
    display.finish()
    if args.json:
        emit_json([o.to_dict() for o in outcomes])
    else:
        _print_outcomes(outcomes)
    if any(o.stopped for o in outcomes) or not all(o.caught_up for o in outcomes) or len(outcomes) < len(plans):
        print("time limit reached: run the same command again to continue", file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "backfill",
        help="publish the history of triggers (resumable: run again to continue)",
        description="Move the triggers' streams back and poll them until they catch up. "
        "Exit status 3 when --time-limit stopped it first; run the same command again to continue.",
    )
    p.add_argument("connection")
    p.add_argument("triggers", nargs="+", metavar="TRIGGER", help="trigger names, or `all`")
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument(
        "--since", type=parse_when, metavar="TIME", help="2026-01-05T09:30:00Z, 2026-01-05, or 7d / 12h ago"
    )
    start.add_argument("--all", action="store_true", help="from the beginning of the account")
    p.add_argument("--restart", action="store_true", help="start over instead of resuming an unfinished backfill")
    p.add_argument("--time-limit", type=float, metavar="SECONDS", help="pause after this long (exit status 3)")
    p.add_argument("--json", action="store_true")
    add_stack_options(p)
    p.set_defaults(func=guarded(_backfill))
