"""`poll_share_under_action_flood`: a key's polls still run every cycle while eight action loops flood it.

As deployed, scaled 6x in time like the `rate` benchmark: Cliniko allows 200 requests per 10 s (its
minute), and `DynamoRateBudget` counts 1 s windows (the deployed 6 s: a tenth of Cliniko's) with the
deployed shares (`RateShares()`). Each action loop stands for an action function that never runs out of
work: it sends requests back to back through its own `ClinikoClient` (purpose `action`, counted against
the connection), each with the action's time budget, scaled. Every cycle (a scaled minute) the ten
streams' poll jobs start together, as one dispatcher tick queues them, through `PollWorker.handle`; a
cycle counts when every job finished without error before the next cycle.

The same run with no poll reserve and no cap per connection (the budget before polls had a reserve) is
reported for comparison under `..._no_reserve`.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from typing import Any, Literal

from bench.env import STATE_TABLE, UNROUTED_SOURCE, LocalAws
from bench.runtime import build, connect, poller_settings, settings_of
from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.dynamodb import DynamoRateBudget
from cliniko_connector.adapters.rate_windows import window_start
from cliniko_connector.catalog.triggers import STREAMS
from cliniko_connector.errors import ConnectorError
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import AwsResourceSettings, RateShares
from cliniko_connector.wiring import PollWorker, rate_key_id
from cliniko_tools.devtools.template import ACTION_TIME_BUDGET_SECONDS
from cliniko_tools.simulator import Simulator

SCALE = 6
LIMIT_PER_MINUTE = 200  # Cliniko's, per key
SCHEDULE_SECONDS = 60
DEPLOYED_BUDGET_WINDOW: int = AwsResourceSettings.model_fields["rate_window_seconds"].default
USER_AGENT = "cliniko-connector-bench (bench@example.com)"

NAME = "poll_share_under_action_flood"


def poll_share_under_action_flood(
    aws: LocalAws, *, loops: int = 8, cycles: int = 3, shares: RateShares | None = None, prefix: str = NAME
) -> dict[str, Any]:
    shares = shares or RateShares()
    key = f"bench-{prefix.replace('_', '-')}-au1"
    cycle_seconds = SCHEDULE_SECONDS / SCALE
    budget_window = max(1, round(DEPLOYED_BUDGET_WINDOW / SCALE))
    with Simulator(
        api_keys=[key], rate_limit=LIMIT_PER_MINUTE, rate_window_seconds=cycle_seconds, seed="generate:30"
    ) as sim:
        sim.start()
        budget = DynamoRateBudget(
            STATE_TABLE,
            client=aws.client("dynamodb"),
            limit_per_minute=LIMIT_PER_MINUTE * SCALE,
            reserved_for_actions=shares.reserved_for_actions,
            reserved_for_polls=shares.reserved_for_polls,
            action_share_per_connection=shares.action_share_per_connection,
            window_seconds=budget_window,
            max_jitter_seconds=budget_window / 60,  # production's 1 s per 60 s window, scaled
        )
        lock = threading.Lock()
        grants: list[tuple[float, str]] = []  # when the budget granted a request, and for what
        grant = budget.acquire

        def acquire_and_log(
            key_id: str, *, purpose: Literal["poll", "action"], deadline: float, connection_id: str | None = None
        ) -> None:
            grant(key_id, purpose=purpose, deadline=deadline, connection_id=connection_id)
            with lock:
                grants.append((time.time(), purpose))

        budget.acquire = acquire_and_log  # type: ignore[method-assign]
        runtime = build(aws, poller_settings(event_source=UNROUTED_SOURCE), rate_budget=budget)
        connection = connect(runtime, sim, f"bench-{prefix.replace('_', '-')}", key)
        for stream in STREAMS:  # cursors written, clients warm
            PollWorker(runtime, settings_of(runtime)).handle(
                PollJob(connection_id=connection.id, resource=stream.resource)
            )
        patients = [str(p["id"]) for p in sim.list("patients", include_archived=False)]
        sim.requests_clear()
        grants.clear()

        stop = threading.Event()
        outcomes: Counter[str] = Counter()

        def action_loop(n: int) -> None:
            client = ClinikoClient(
                key,
                user_agent=USER_AGENT,
                base_url=connection.base_url,
                rate_budget=budget,
                rate_key_id=rate_key_id(key),
                rate_connection_id=connection.id,
                purpose="action",
            )
            i = n
            while not stop.is_set():
                i += loops
                try:
                    client.request(
                        "GET",
                        f"/patients/{patients[i % len(patients)]}",
                        deadline=time.monotonic() + ACTION_TIME_BUDGET_SECONDS / SCALE,
                    )
                    outcome = "ok"
                except ConnectorError as exc:
                    outcome = exc.error_type
                with lock:
                    outcomes[outcome] += 1

        flood = [threading.Thread(target=action_loop, args=(n,), daemon=True) for n in range(loops)]
        for thread in flood:
            thread.start()
        time.sleep(2 * budget_window)  # the flood has every window's action share before the first tick

        polled_in_time: list[int] = []
        poll_seconds: list[float] = []
        errors: Counter[str] = Counter()
        first_tick = time.monotonic()
        measured_from = time.time()
        for cycle in range(cycles):
            tick = first_tick + cycle * cycle_seconds
            time.sleep(max(0.0, tick - time.monotonic()))
            finished: list[float] = []

            def job(resource: str, tick: float = tick, finished: list[float] = finished, cycle: int = cycle) -> None:
                worker = PollWorker(runtime, settings_of(runtime))
                try:
                    worker.handle(
                        PollJob(connection_id=connection.id, resource=resource, tick=cycle + 1),
                        time_budget_seconds=cycle_seconds,
                    )
                except Exception as exc:
                    with lock:
                        errors[type(exc).__name__] += 1
                    return
                with lock:
                    finished.append(time.monotonic() - tick)

            jobs = [threading.Thread(target=job, args=(s.resource,), daemon=True) for s in STREAMS]
            for thread in jobs:
                thread.start()
            for thread in jobs:
                thread.join(max(0.0, tick + cycle_seconds - time.monotonic()))
            in_time = [seconds for seconds in finished if seconds <= cycle_seconds]
            polled_in_time.append(len(in_time))
            poll_seconds.append(max(in_time, default=float("nan")))
        measured_to = time.time()
        stop.set()
        for thread in flood:
            thread.join(ACTION_TIME_BUDGET_SECONDS / SCALE + 5)

        statuses = Counter(r.status for r in sim.requests)
        cap = budget.caps("", "action")["n"]  # requests per budget window; the limit is the same for every key
        windows: dict[int, Counter[str]] = {}
        for at, purpose in grants:
            if measured_from <= at < measured_to:
                windows.setdefault(window_start(at, budget_window), Counter())[purpose] += 1
        first, last = window_start(measured_from, budget_window), window_start(measured_to, budget_window)
        full = [windows.get(w, Counter()) for w in range(first + budget_window, last, budget_window)]
        return {
            prefix: round(sum(n == len(STREAMS) for n in polled_in_time) / cycles, 3),
            f"{prefix}_cycles": cycles,
            f"{prefix}_streams_polled_per_cycle": polled_in_time,
            f"{prefix}_slowest_cycle_seconds_scaled": round(max(poll_seconds), 2),
            f"{prefix}_slowest_cycle_seconds_deployed": round(max(poll_seconds) * SCALE, 1),
            f"{prefix}_action_loops": loops,
            f"{prefix}_action_outcomes": dict(outcomes),
            f"{prefix}_action_share_of_window": round(statistics.mean(w["action"] for w in full) / cap, 3),
            f"{prefix}_budget_share_used": round(statistics.mean(sum(w.values()) for w in full) / cap, 3),
            f"{prefix}_poll_requests": sum(w["poll"] for w in windows.values()),
            f"{prefix}_poll_errors": dict(errors),
            f"{prefix}_429s": statuses.get(429, 0),
            f"{prefix}_requests_per_budget_window": cap,
            f"{prefix}_shares": shares.model_dump(),
        }


def compared(aws: LocalAws) -> dict[str, Any]:
    """The deployed shares, then the same flood with actions free to take the whole window, as before."""
    unreserved = RateShares(reserved_for_polls=0.0, action_share_per_connection=1.0)
    return {
        **poll_share_under_action_flood(aws),
        **poll_share_under_action_flood(aws, shares=unreserved, prefix=f"{NAME}_no_reserve"),
    }
