"""`cliniko-connector poll`: one poll cycle through the same code as the poll worker Lambda."""

from __future__ import annotations

import argparse
from typing import Any

from cliniko_connector.catalog.triggers import streams_for
from cliniko_connector.errors import ConnectionDisabled
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import PollerSettings
from cliniko_connector.wiring import poll_worker
from cliniko_tools.cli.context import add_stack_options, settings_from
from cliniko_tools.cli.output import emit_json, table

COUNTS = ("connection", "resource", "pages", "records", "events", "duplicates")


def _poll(args: argparse.Namespace) -> int:
    worker = poll_worker(settings_from(args, PollerSettings))
    connections = (
        [worker.runtime.connections.get(args.connection)] if args.connection else worker.runtime.connections.list()
    )
    rows: list[dict[str, Any]] = []
    for connection in connections:
        if not connection.enabled:
            if args.connection:
                raise ConnectionDisabled(f"connection {connection.id} is disabled")
            continue
        for stream in streams_for(list(connection.triggers)):
            if args.resource and stream.resource != args.resource:
                continue
            job = PollJob(
                connection_id=connection.id,
                resources=(stream.resource,),
                reconcile=(stream.resource,) if args.reconcile else (),
            )
            result = worker.handle(job)
            while args.reconcile and (result.reconciling or not result.caught_up):
                # A stream behind first catches up; a long walk goes on a slice per job, as on the schedule.
                result = result.followed_by(worker.handle(job))
            rows.append(
                {
                    "connection": connection.id,
                    "resource": stream.resource,
                    "pages": result.pages,
                    "records": result.records,
                    "events": result.events,
                    "duplicates": result.duplicates,
                    "caught_up": result.caught_up,
                    "cursor": result.cursor,
                }
            )
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("nothing to poll: no connection has triggers on (cliniko-connector triggers enable CONNECTION TRIGGER…)")
        return 0
    print(
        table(
            [[*(r[k] for k in COUNTS), "yes" if r["caught_up"] else "no", r["cursor"] or "-"] for r in rows],
            ["CONNECTION", "RESOURCE", "PAGES", "RECORDS", "EVENTS", "RE-READ", "CAUGHT UP", "CURSOR"],
        )
    )
    print(
        "RECORDS read from Cliniko; EVENTS published; RE-READ: records already published, read again because "
        "each poll overlaps the last so no change slips by (not an error, nothing sent twice)"
    )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("poll", help="run one poll cycle now (same code as the Lambda)")
    p.add_argument("--connection", help="only this connection")
    p.add_argument("--resource", help="only this resource stream, e.g. patients")
    p.add_argument(
        "--reconcile",
        action="store_true",
        help="also walk each stream from its origin and publish what a regular poll could not see "
        "(the scheduled jobs do this once a day)",
    )
    p.add_argument("--json", action="store_true")
    add_stack_options(p)
    p.set_defaults(func=_poll)
