"""`cliniko-connector status [CONNECTION]`: per stream, the triggers on, cursor, lag, last poll and error,
events sent, and the API key's rate budget, read from the state the poll workers write.

Also what the operator commands share: how errors are told (one line, with what to do next) and how much
of a key's rate budget is used."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from cliniko_connector.errors import ConnectionNotFound, ConnectorError, HookNotFound
from cliniko_connector.loopback import is_loopback_url
from cliniko_connector.models import Connection
from cliniko_connector.settings import PollerSettings
from cliniko_connector.timeutil import to_z, utc_now
from cliniko_connector.usecases.status import ConnectionReport, StatusReader, allowed_by_kind, hint_for
from cliniko_connector.wiring import Runtime, build_runtime, rate_key_id
from cliniko_tools.cli.context import UsageError, add_stack_options, settings_from
from cliniko_tools.cli.output import emit_json, table

EXIT_ERROR = 1


def report_error(exc: ConnectorError, args: argparse.Namespace, connection_id: str | None = None) -> int:
    """Print `exc` as one line on stderr, led by what to do about it when that is known; exit status 1."""
    hint = hint_for(exc, connection_id)
    line = f"{hint} ({exc})" if hint else str(exc)
    if isinstance(exc, ConnectionNotFound):
        line += "; see `cliniko-connector connections list`"
    if isinstance(exc, HookNotFound):
        line += "; see `cliniko-connector hooks list`"
    print(f"error: {line}", file=sys.stderr)
    if getattr(args, "verbose", False):
        print(f"  type: {exc.error_type}", file=sys.stderr)
    return EXIT_ERROR


def report_aws_error(exc: Exception, args: argparse.Namespace) -> int:
    """An AWS SDK error as one line on stderr; exit status 1."""
    print(f"error: {aws_error_line(exc)}", file=sys.stderr)
    if getattr(args, "verbose", False):
        print(f"  type: {type(exc).__name__}", file=sys.stderr)
    return EXIT_ERROR


def aws_error_line(exc: Exception) -> str:
    """An AWS SDK error as one line: the operation and AWS's code and message, and where to look."""
    if isinstance(exc, NoCredentialsError):
        line = "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or `aws sso login`"
    elif isinstance(exc, BotoConnectionError | HTTPClientError):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        endpoint = str(endpoint).rstrip("/")
        if not isinstance(exc, BotoConnectionError):
            line = f"the connection to {endpoint} broke off ({type(exc).__name__}): run the same command again"
        elif is_loopback_url(endpoint):
            line = (
                f"nothing answers at {endpoint}: start the local moto server (`cliniko-connector local moto "
                "--port PORT`) and point AWS_ENDPOINT_URL at it"
            )
        else:
            line = f"could not reach {endpoint}: check AWS_DEFAULT_REGION and your network"
    elif isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        hint = {
            "AccessDeniedException": "your AWS identity lacks this permission",
            "AccessDenied": "your AWS identity lacks this permission",
            "ResourceNotFoundException": "check the stack's environment variables (docs/cli.md)",
            "AWS.SimpleQueueService.NonExistentQueue": "check the stack's queue URLs (docs/cli.md)",
            "QueueDoesNotExist": "check the stack's queue URLs (docs/cli.md)",
        }.get(code)
        line = f"AWS refused {exc.operation_name}: {code}: {message}" + (f"; {hint}" if hint else "")
    else:
        line = f"AWS call failed: {type(exc).__name__}"
    return line


def guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run an operator command so every expected failure ends as one line on stderr and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except UsageError:
            raise  # exit status 2, from main
        except ConnectorError as exc:
            return report_error(exc, args, getattr(args, "connection", None))
        except (BotoCoreError, ClientError) as exc:
            return report_aws_error(exc, args)

    run.__doc__ = command.__doc__
    return run


def rate_usage_for(runtime: Runtime) -> Callable[[Connection], int]:
    """Requests counted in the current minute for a connection's API key (shared by every connection of
    that key). Reads the key to find its budget; never prints or keeps it."""
    usage = getattr(runtime.rate_budget, "usage", None)

    def used(connection: Connection) -> int:
        if usage is None:
            raise ConnectorError("this rate budget can't report its usage")
        key_id = rate_key_id(runtime.secrets.get(connection.secret_id))
        count, _cap = usage(key_id)
        return int(count)

    return used


def duration(seconds: float | None) -> str:
    """`45s`, `12m 05s`, `3h 02m`, `4d 06h`."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def ago(when: datetime | None, now: datetime) -> str:
    return "never" if when is None else f"{duration((now - when).total_seconds())} ago"


SORT_NOT_HONOURED_NOTE = (
    "ClinikoSortNotHonoured: a list page came back out of the order asked for (last at {at}); the stream reads "
    "such windows without relying on order, at the cost of more requests"
)


def _print_report(report: ConnectionReport, now: datetime) -> None:
    c = report.connection
    if report.rate_used is not None:
        budget = (
            f"rate budget {report.rate_used}/{report.rate_cap} requests used in this {report.rate_window_seconds}s "
            f"window ({c.rate_limit_per_minute}/min)"
        )
    else:
        budget = report.rate_note or "rate budget unknown"
    interval = f"polled every {c.poll_interval_seconds}s"
    payload = report.payload_mode.value + (" (stack default)" if c.payload_mode is None else "")
    print(f"{c.id} ({c.name}): {c.status.value}, {interval}, payload {payload}, {budget}")
    allowed = allowed_by_kind(c)
    print(f"  allowed reads: {', '.join(allowed['reads']) or 'none'}")
    print(f"  allowed writes: {', '.join(allowed['writes']) or 'none'}")
    if not report.streams:
        print(f"  no triggers on: cliniko-connector triggers enable {c.id} patient.created …")
        return
    rows = []
    errors: list[tuple[str, str]] = []
    for s in report.streams:
        cursor = s.cursor
        backfill = "-"
        if cursor is not None and cursor.backfill_total is not None:
            total = cursor.backfill_total
            done = min(cursor.backfill_done, total)
            backfill = f"{done * 100 // total}%" if total else "done"
        error = "-"
        if cursor is not None and cursor.last_error:
            error = cursor.last_error.split(":", 1)[0].split(" ", 1)[0]
            errors.append((s.resource, cursor.last_error))
        if cursor is not None and cursor.sort_not_honoured_at:
            error = "ClinikoSortNotHonoured" if error == "-" else error
            errors.append((s.resource, SORT_NOT_HONOURED_NOTE.format(at=to_z(cursor.sort_not_honoured_at))))
        rows.append(
            (
                s.resource,
                ",".join(s.triggers),
                to_z(cursor.position) if cursor else "not started",
                duration(s.lag_seconds),
                ago(cursor.last_poll_at if cursor else None, now),
                s.events_this_hour,
                s.events_last_24h,
                backfill,
                error,
            )
        )
    since = f"EVENTS SINCE {now:%H}:00"  # whole hours: the same counts as the bus archive over the same window
    headers = ["STREAM", "TRIGGERS", "CURSOR", "LAG", "LAST POLL", since, "24H", "BACKFILL", "LAST ERROR"]
    print("\n".join("  " + line for line in table(rows, headers).splitlines()))
    for resource, error in errors:
        print(f"  {resource}: {error}")


def _status(args: argparse.Namespace) -> int:
    settings = settings_from(args, PollerSettings)
    runtime = build_runtime(settings)
    reader = StatusReader(
        runtime.connections,
        runtime.state,
        rate_usage_for(runtime),
        default_payload_mode=settings.default_payload_mode,
        rate_window_seconds=settings.rate_window_seconds,
    )
    reports = reader.report(args.connection)
    pending = pending_by_connection(args)
    if args.json:
        emit_json([{**r.to_dict(), "scheduled_actions": pending.get(r.connection.id, [])} for r in reports])
        return 0
    if not reports:
        print("no connections yet: cliniko-connector connections add NAME --api-key-file FILE")
        return 0
    now = utc_now()
    for i, report in enumerate(reports):
        if i:
            print()
        _print_report(report, now)
        waiting = pending.get(report.connection.id, [])
        if waiting:
            first = waiting[0]
            print(f"  scheduled actions pending: {len(waiting)}, next {first['automation']} at {first['due_at']}")
    return 0


def pending_by_connection(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Connection → its scheduled actions waiting to run (automation, target, due time; soonest first). Empty
    for a stack deployed before the scheduling function existed."""
    import json

    from cliniko_connector.settings import ScheduleSettings
    from cliniko_connector.wiring import schedule_actions

    try:
        settings = settings_from(args, ScheduleSettings, function="ScheduleActionsFunction")
    except ConnectorError:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for schedule in schedule_actions(settings).pending():
        detail = json.loads(schedule.detail)
        out.setdefault(str(detail.get("connection_id")), []).append(
            {"automation": detail.get("automation"), "target": detail.get("target"), "due_at": detail.get("due_at")}
        )
    return out


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "status", help="each stream's cursor, lag, last poll and error, events sent, and the rate budget"
    )
    p.add_argument("connection", nargs="?", help="only this connection")
    p.add_argument("--json", action="store_true")
    add_stack_options(p)
    p.set_defaults(func=guarded(_status))
