"""`python -m bench` (`make bench`): run every benchmark, print a table, write `.bench/results.json`.

    python -m bench [--out .bench/results.json] [--only idle,backfill,...] [--freshness-scale 10]

Nothing here reaches real AWS: every client is built after `AWS_ENDPOINT_URL` points at a moto server
subprocess on 127.0.0.1, with dummy credentials.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cost import BUSY_CHANGES_PER_MINUTE
from bench.env import LocalAws, quiet_and_local
from cliniko_connector.catalog.triggers import STREAMS

Check = Callable[[dict[str, Any]], bool | None]
Headline = tuple[str, str, str, Check]  # (key, label, target text, check: met, missed or None for no target)


def at_most(key: str, label: str, limit: str) -> Headline:
    return (key, label, f"<= {limit}", lambda r: r[key] <= float(limit))


def at_least(key: str, label: str, limit: str) -> Headline:
    return (key, label, f">= {limit}", lambda r: r[key] >= float(limit))


def shown(key: str, label: str, note: str = "(informative)") -> Headline:
    """A figure reported without a target."""
    return (key, label, note, lambda r: None)


HEADLINES: tuple[Headline, ...] = (
    (
        "idle_requests_per_cycle",
        "Cliniko requests per idle poll cycle (all triggers)",
        f"= resource streams ({len(STREAMS)})",
        lambda r: r["idle_requests_per_cycle"] == r["resource_streams"],
    ),
    (
        "resource_streams",
        "resource streams polled",
        f"{len(STREAMS)} (the catalog's)",
        lambda r: r["resource_streams"] == len(STREAMS),
    ),
    at_most("monthly_cost_per_clinic_usd", "USD per idle clinic per month (every trigger, 1-min polling)", "0.50"),
    shown(
        "monthly_cost_per_clinic_excluding_secret_fee_usd",
        "  the same without the API key secret's monthly fee (one secret per connection)",
    ),
    shown("monthly_cost_busy_clinic_usd", f"  the same, busy clinic ({BUSY_CHANGES_PER_MINUTE} changes/min)"),
    shown("monthly_cost_per_clinic_at_1000_usd", "  per clinic with 1,000 idle clinics on one stack"),
    shown("monthly_cost_per_clinic_at_1000_excluding_secret_fee_usd", "  the same without the secret's fee"),
    shown("monthly_stack_fixed_usd", "  the stack itself (alarms, dashboard, KMS key, metrics per service)"),
    at_most("aws_calls_per_idle_stream", "AWS calls per idle stream poll (all of a cycle / streams)", "3"),
    (
        "cold_start_ratio",
        "cold start: import + setup CPU / bare import boto3",
        "<= 1.5 each",
        lambda r: max(r["cold_start_ratio"].values()) <= 1.5,
    ),
    at_most(
        "backfill_request_ratio",
        "backfill requests / ideal ceil(N/100): the backfill command, counts included",
        "1.02",
    ),
    shown("backfill_request_ratio_bursty", "same, bulk import (50 records per second)"),
    at_least("records_per_second", "records/s on one core (pipeline CPU, real adapters)", "1000"),
    shown("records_per_second_in_memory_wall", "records/s wall, in-memory state and bus"),
    shown("records_per_second_wall_on_moto", "records/s wall, on moto (moto-bound)"),
    (
        "rate_budget_used",
        "share of the poll budget used, rate-limited backfill",
        ">= 0.90, no 429",
        lambda r: r["rate_budget_used"] >= 0.9 and r["rate_budget_429s"] == 0,
    ),
    ("rate_budget_429s", "429s provoked in that backfill", "0", lambda r: r["rate_budget_429s"] == 0),
    at_most("rate_budget_busiest_cliniko_window", "most requests in any Cliniko window (limit 200 per 10 s)", "200"),
    shown("rate_budget_aligned_used", "for comparison, one budget window as long as Cliniko's"),
    shown("rate_budget_aligned_429s", "  429s provoked that way (limit 20 per 2 s)"),
    (
        "poll_share_under_action_flood",
        "share of poll cycles with every stream polled, 8 action loops on the key",
        "= 1, no 429",
        lambda r: r["poll_share_under_action_flood"] == 1 and r["poll_share_under_action_flood_429s"] == 0,
    ),
    shown(
        "poll_share_under_action_flood_slowest_cycle_seconds_deployed",
        "  slowest cycle's polls, scaled to the deployed minute (s)",
    ),
    shown("poll_share_under_action_flood_no_reserve", "  for comparison: the same flood with no poll reserve"),
    (
        "dispatch_seconds_10000",
        "dispatch of 10,000 connections, every stream on (s, modelled SQS/DynamoDB)",
        "< 60",
        lambda r: r["dispatch_seconds_10000"] < 60,
    ),
    shown("dispatch_seconds_1000", "dispatch of 1,000 connections (s)"),
    at_most("freshness_p95_seconds", "change-to-event p95 at a 10 s interval (s, from scaled run)", "20"),
    shown("freshness_p95_seconds_measured_scaled", "measured p95 at 10 s / scale (s, real time)", "(measured)"),
    shown("schedule_latency_seconds", "trigger event to pending schedule, local stack (s, median)", "(measured)"),
    shown("schedule_fire_latency_seconds", "due schedule to SMS published, local stack (s, median)", "(measured)"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=".bench/results.json")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated: idle,cost,cold_start,backfill,bursty,memory,delivered,rate,rate_aligned,poll_share,"
        "dispatch,freshness,schedules",
    )
    parser.add_argument("--freshness-scale", type=float, default=10.0, help="1 = real time (a 60 s job per tick)")
    parser.add_argument("--freshness-ticks", type=int, default=4)
    args = parser.parse_args(argv)
    quiet_and_local()

    from bench import cold_start, cost, dispatch, poll_share, scenarios, schedules

    wanted = set(filter(None, args.only.split(",")))
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    failed: dict[str, str] = {}
    started = time.monotonic()
    with LocalAws() as aws:
        plan: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("idle", lambda: scenarios.idle(aws)),
            # Whole cycles through the Lambda handlers, priced after every benchmark ran (`cost.priced`).
            ("cost", lambda: cost.measure(aws)),
            ("cold_start", cold_start.measure),
            ("backfill", lambda: scenarios.backfill(aws)),
            ("bursty", scenarios.backfill_bursty),
            ("memory", scenarios.throughput_in_memory),
            ("delivered", lambda: scenarios.delivered(aws)),
            # As deployed: budget windows a tenth of Cliniko's (6 s of its minute), here 1 s of a 10 s window.
            ("rate", lambda: scenarios.rate_budget(aws, limit=200, window=10, budget_window=1)),
            # For comparison: one budget window as long as Cliniko's, which can straddle two of its windows.
            ("rate_aligned", lambda: scenarios.rate_budget(aws, prefix="rate_budget_aligned")),
            # Polls keep their reserve of every window while eight action loops flood the key.
            ("poll_share", lambda: poll_share.compared(aws)),
            ("dispatch", dispatch.dispatch),
            (
                "freshness",
                lambda: scenarios.freshness(aws, scale=args.freshness_scale, ticks=args.freshness_ticks),
            ),
            # Scheduled actions: trigger → pending schedule, and due schedule → target, on the local stack.
            ("schedules", lambda: schedules.latency(aws)),
        ]
        for name, run in plan:
            if wanted and name not in wanted:
                continue
            print(f"… {name}", file=sys.stderr, flush=True)
            t = time.monotonic()
            try:
                results.update(run())
            except Exception as exc:  # one benchmark failing (moto timing out on a busy machine) keeps the rest
                failed[name] = f"{type(exc).__name__}: {exc}"
                print(f"  {name} failed: {failed[name]}", file=sys.stderr, flush=True)
            timings[name] = round(time.monotonic() - t, 1)
            gc.collect()  # the last benchmark's simulator (hundreds of MB) must not be collected during the next
    results.update(cost.priced(results))
    if failed:
        results["bench_failed"] = failed
    results["bench_seconds"] = timings | {"total": round(time.monotonic() - started, 1)}
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _commit(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print_table(results)
    print(f"\nwritten to {out}")
    return 1 if failed else 0


def _commit() -> str:
    """The commit measured, `+dirty` when the work tree had changes to tracked files."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=root, capture_output=True)
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.returncode else "") if head.returncode == 0 else "unknown"


def print_table(results: dict[str, Any]) -> None:
    rows = [("figure", "value", "target", "")]
    for key, label, target, check in HEADLINES:
        if key not in results:
            continue
        try:
            verdict = check(results)
        except (KeyError, TypeError):
            verdict = None
        mark = "" if verdict is None else ("met" if verdict else "MISSED")
        rows.append((label, _fmt(results[key]), target, mark))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))
    counts = {
        "idle": ("idle_records", "idle_events", "idle_aws_calls_per_cycle"),
        "cost": ("idle_dynamodb_write_units", "idle_dynamodb_read_units", "idle_log_bytes", "idle_custom_metrics"),
        "backfill": ("backfill_records_polled", "backfill_requests", "backfill_events", "backfill_aws_calls"),
        "delivered": ("delivered_events_published", "delivered_events_in_sqs"),
        "rate budget": (
            "rate_budget_requests",
            "rate_budget_windows_measured",
            "rate_budget_poll_cap_per_budget_window",
        ),
        "rate budget, one long window": (
            "rate_budget_aligned_requests",
            "rate_budget_aligned_busiest_cliniko_window",
            "rate_budget_aligned_cliniko_limit_used",
        ),
        "poll share": (
            "poll_share_under_action_flood_streams_polled_per_cycle",
            "poll_share_under_action_flood_action_share_of_window",
            "poll_share_under_action_flood_budget_share_used",
            "poll_share_under_action_flood_no_reserve_streams_polled_per_cycle",
            "poll_share_under_action_flood_no_reserve_slowest_cycle_seconds_deployed",
        ),
        "dispatch": (
            "dispatch_jobs",
            "dispatch_jobs_queued",
            "dispatch_streams_in_jobs",
            "dispatch_send_message_batch_calls",
        ),
        "freshness": ("freshness_changes", "freshness_events_delivered", "freshness_changes_without_event"),
        "schedules": (
            "schedule_appointments",
            "schedule_pending_after_create",
            "schedule_fired",
            "schedule_sms_sent",
            "schedule_latency_p95_seconds",
            "schedule_fire_latency_p95_seconds",
        ),
    }
    print()
    for name, keys in counts.items():
        shown = ", ".join(f"{k}={_fmt(results[k])}" for k in keys if k in results)
        if shown:
            print(f"{name}: {shown}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
