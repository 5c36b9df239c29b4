"""The benchmarks. Each returns its figures as a flat dict; `bench.__main__` runs them and reports.

All of them use the production code paths: `ConnectionAdmin` to connect a clinic and enable every trigger,
`PollWorker.handle` to run poll jobs (one per connection, as the SQS consumer Lambda does), over the real
adapters on moto (DynamoDB state and rate budget, EventBridge, SQS, Secrets Manager) and the real
`ClinikoClient` over HTTP against the simulator. The dispatcher's fan-out is in `bench.dispatch`.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from unittest import mock

from bench.env import SAMPLED_SOURCE, STATE_TABLE, UNROUTED_SOURCE, LocalAws
from bench.runtime import BenchRuntime, build, connect, poller_settings, settings_of
from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.dynamodb import DynamoRateBudget
from cliniko_connector.adapters.memory import InMemoryStreamStateStore, RecordingPublisher
from cliniko_connector.adapters.rate_windows import window_start
from cliniko_connector.catalog.triggers import STREAMS, TRIGGERS
from cliniko_connector.models import BusEvent, Connection, StartPoint, StreamCursor, StreamKey
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import PollerSettings
from cliniko_connector.usecases.poll import BEGINNING, StreamPoller
from cliniko_connector.wiring import PollWorker
from cliniko_tools.simulator import Simulator

PAGE = 100  # Cliniko's largest page
USER_AGENT = "cliniko-connector-bench (bench@example.com)"


def _stream_requests(sim: Simulator) -> Counter[str]:
    return Counter(r.path.removeprefix("/v1/").split("/")[0] for r in sim.requests)


def _cycle(worker: PollWorker, connection: Connection, **kw: Any) -> list[Any]:
    """One tick of a clinic: one job naming every stream, as the dispatcher queues it; each stream's result."""
    job = PollJob(connection_id=connection.id, resources=tuple(s.resource for s in STREAMS))
    result = worker.handle(job, **kw)
    return list(result.by_stream.values())


# -- 1. idle cycle -------------------------------------------------------------------------------------


def idle(aws: LocalAws) -> dict[str, Any]:
    """Requests (Cliniko and AWS) of one poll cycle of a clinic where nothing changed."""
    with Simulator(api_keys=["bench-idle-au1"], rate_limit=10**6, seed="generate:300") as sim:
        sim.start()
        runtime = build(aws, poller_settings())
        connection = connect(runtime, sim, "bench-idle", "bench-idle-au1")
        worker = PollWorker(runtime, settings_of(runtime))
        _cycle(worker, connection)  # warm: clients, connection pool, first cursor writes
        sim.requests_clear()
        before = aws.calls.snapshot()
        started = time.perf_counter()
        results = _cycle(worker, connection)
        seconds = time.perf_counter() - started
        calls = aws.calls.snapshot() - before
        requests = len(sim.requests)
        return {
            "idle_requests_per_cycle": requests,
            "resource_streams": len(STREAMS),
            "idle_records": sum(r.records for r in results),
            "idle_events": sum(r.events for r in results),
            "idle_worker_aws_calls_per_cycle": sum(calls.values()),  # PollWorker.handle alone; `cost` has all
            "idle_worker_aws_calls_by_operation": dict(sorted(calls.items())),
            "idle_cycle_seconds": round(seconds, 3),
        }


# -- 2. backfill (request ratio, and the pipeline's throughput on one core) ----------------------------


def _poll_to_the_end(worker: PollWorker, runtime: BenchRuntime, connection: Connection) -> dict[str, Any]:
    """Every stream polled until caught up, one job after another in this thread; wall and CPU measured."""
    wall, cpu = time.perf_counter(), time.thread_time()
    fetch_wall, fetch_cpu = runtime.fetch_clock.wall, runtime.fetch_clock.cpu_of_this_thread()
    records = events = jobs = 0
    for stream in STREAMS:
        for _ in range(1000):
            result = worker.handle(PollJob(connection_id=connection.id, resource=stream.resource))
            records, events, jobs = records + result.records, events + result.events, jobs + 1
            if result.caught_up:
                break
    return {
        "records": records,
        "events": events,
        "jobs": jobs,
        "wall": time.perf_counter() - wall,
        "cpu": time.thread_time() - cpu,
        "fetch_wall": runtime.fetch_clock.wall - fetch_wall,
        "fetch_cpu": runtime.fetch_clock.cpu_of_this_thread() - fetch_cpu,
    }


def _environment(settings: PollerSettings) -> dict[str, str]:
    """The environment a deployed stack gives the CLI, for the settings the benchmark set."""
    env: dict[str, str] = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        env[name.upper()] = str(value).lower() if isinstance(value, bool) else str(getattr(value, "value", value))
    return env


def _backfill_command(runtime: BenchRuntime, connection: Connection) -> dict[str, Any]:
    """`cliniko-connector backfill CONNECTION all --all --json`, as an operator runs it, to the end; its
    settings come from the environment. Only the runtime is the benchmark's (the production adapters, with
    Cliniko fetches timed), so the CPU outside fetches can be told apart. Wall and thread CPU measured."""
    from cliniko_tools.cli import backfill as backfill_command
    from cliniko_tools.cli.main import main
    from cliniko_tools.local.runner import patched_environ

    def worker_of(settings: PollerSettings, _runtime: object = None) -> PollWorker:
        assert settings == runtime.settings, "the command's settings differ from the benchmark's"
        return PollWorker(runtime, settings)

    out, err = io.StringIO(), io.StringIO()
    wall, cpu = time.perf_counter(), time.thread_time()
    fetch_wall, fetch_cpu = runtime.fetch_clock.wall, runtime.fetch_clock.cpu_of_this_thread()
    with (
        patched_environ(_environment(settings_of(runtime))),
        mock.patch.object(backfill_command, "poll_worker", worker_of),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(["backfill", connection.id, "all", "--all", "--json"])
    if code != 0:
        raise RuntimeError(f"backfill exited {code}: {err.getvalue()[-500:]}")
    outcomes = json.loads(out.getvalue())
    return {
        "records": sum(o["records"] for o in outcomes),
        "events": sum(o["events"] for o in outcomes),
        "caught_up": all(o["caught_up"] for o in outcomes),
        "wall": time.perf_counter() - wall,
        "cpu": time.thread_time() - cpu,
        "fetch_wall": runtime.fetch_clock.wall - fetch_wall,
        "fetch_cpu": runtime.fetch_clock.cpu_of_this_thread() - fetch_cpu,
    }


def backfill(aws: LocalAws, patients: int = 1300) -> dict[str, Any]:
    """`backfill --all` of a generated clinic (10,000+ records across the streams) through the command: every
    Cliniko request it makes counts, the totals it shows included, against the pages the records fill."""
    key = "bench-backfill-au1"
    with Simulator(api_keys=[key], rate_limit=10**6, seed=f"generate:{patients}") as sim:
        sim.start()
        counts = {s.resource: sim.store.count(s.resource) for s in STREAMS}
        runtime = build(aws, poller_settings(event_source=SAMPLED_SOURCE))
        connection = connect(runtime, sim, "bench-backfill", key)  # every trigger on, from now
        sampled_before = aws.queue_depth("sampled")
        sim.requests_clear()
        aws_before = aws.calls.snapshot()
        run = _backfill_command(runtime, connection)
        aws_calls = aws.calls.snapshot() - aws_before
        requests = _stream_requests(sim)
        ideal = {r: max(1, math.ceil(n / PAGE)) for r, n in counts.items()}
        sampled = aws.queue_depth("sampled") - sampled_before
        pipeline_cpu = run["cpu"] - run["fetch_cpu"]
        return {
            "backfill_records_in_cliniko": sum(counts.values()),
            "backfill_records_polled": run["records"],
            "backfill_events": run["events"],
            "backfill_caught_up": run["caught_up"],
            "backfill_requests": sum(requests.values()),
            "backfill_ideal_requests": sum(ideal.values()),
            "backfill_request_ratio": round(sum(requests.values()) / sum(ideal.values()), 4),
            "backfill_by_stream": {
                r: {"records": counts[r], "requests": requests[r], "ideal": ideal[r]} for r in counts
            },
            "backfill_sampled_events_delivered": sampled,
            "backfill_sampled_events_expected": counts["medical_alerts"],
            "backfill_aws_calls": sum(aws_calls.values()),
            "backfill_seconds": round(run["wall"], 2),
            # One core's worth: the command thread's CPU outside Cliniko fetches (classify, publish, checkpoint,
            # with boto3's own work), i.e. what one core sustains when the services answer instantly.
            "records_per_second": round(run["records"] / pipeline_cpu, 1),
            "records_per_second_with_fetch_cpu": round(run["records"] / run["cpu"], 1),
            "records_per_second_wall_on_moto": round(run["records"] / run["wall"], 1),
            "pipeline_cpu_seconds": round(pipeline_cpu, 2),
            "fetch_cpu_seconds": round(run["fetch_cpu"], 2),
            "fetch_wall_seconds": round(run["fetch_wall"], 2),
        }


def backfill_bursty(patients: int = 10_000, per_second: int = 50) -> dict[str, Any]:
    """A bulk import: `patients` records written `per_second` to a second. Keyset paging re-reads each page's
    last second, so a crowded second costs requests (in-memory state and bus: only requests count here)."""
    key = "bench-bursty-au1"
    with Simulator(api_keys=[key], rate_limit=10**6) as sim:
        sim.start()
        start = datetime(2026, 1, 5, 9, tzinfo=UTC)
        sim.store.bulk_load(
            "patients",
            (
                {
                    "id": sim.store.next_id("patients"),
                    "first_name": f"Imported{i}",
                    "last_name": "Patient",
                    "created_at": int((start + timedelta(seconds=i // per_second)).timestamp()),
                    "updated_at": int((start + timedelta(seconds=i // per_second)).timestamp()),
                }
                for i in range(patients)
            ),
        )
        api = ClinikoClient(key, user_agent=USER_AGENT, base_url=sim.base_url)
        state, bus = InMemoryStreamStateStore(), RecordingPublisher()
        stream = next(s for s in STREAMS if s.resource == "patients")
        state.put_cursor(
            StreamKey(connection_id="bursty", resource="patients"),
            StreamCursor(position=BEGINNING, origin=BEGINNING),
            expected_version=None,
        )
        connection = Connection(id="bursty", name="Bursty", secret_id="-", shard="au1", triggers=tuple(TRIGGERS))
        sim.requests_clear()
        StreamPoller(api=api, state=state, publisher=bus, event_source="bench").poll(
            connection, stream, deadline=time.monotonic() + 120
        )
        requests = len(sim.requests)
        return {
            "backfill_bursty_records": patients,
            "backfill_bursty_records_per_second": per_second,
            "backfill_bursty_requests": requests,
            "backfill_bursty_events": len(bus.events),
            "backfill_request_ratio_bursty": round(requests / math.ceil(patients / PAGE), 4),
        }


def throughput_in_memory(records: int = 5000) -> dict[str, Any]:
    """The same pipeline with the in-memory state store and bus: the connector's own cost, no AWS latency."""
    key = "bench-memory-au1"
    with Simulator(api_keys=[key], rate_limit=10**6, seed=f"generate:{records // 8}") as sim:
        sim.start()
        api = ClinikoClient(key, user_agent=USER_AGENT, base_url=sim.base_url)
        state, bus = InMemoryStreamStateStore(), RecordingPublisher()
        connection = Connection(id="memory", name="Memory", secret_id="-", shard="au1", triggers=tuple(TRIGGERS))
        polled = 0
        wall, cpu, fetch_cpu = time.perf_counter(), time.thread_time(), 0.0
        poller = StreamPoller(api=api, state=state, publisher=bus, event_source="bench")
        original = api.list_page

        def timed_list_page(*args: Any, **kwargs: Any) -> Any:
            nonlocal fetch_cpu
            t = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                fetch_cpu += time.thread_time() - t

        api.list_page = timed_list_page  # type: ignore[method-assign]
        for stream in STREAMS:
            state.put_cursor(
                StreamKey(connection_id="memory", resource=stream.resource),
                StreamCursor(position=BEGINNING, origin=BEGINNING),
                expected_version=None,
            )
            polled += poller.poll(connection, stream, deadline=time.monotonic() + 120).records
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        return {
            "in_memory_records": polled,
            "in_memory_events": len(bus.events),
            "records_per_second_in_memory_cpu": round(polled / (cpu - fetch_cpu), 1),
            "records_per_second_in_memory_wall": round(polled / wall, 1),
        }


def delivered(aws: LocalAws, patients: int = 600) -> dict[str, Any]:
    """Every event of a small backfill delivered to SQS through the bus rule: counts must match."""
    key = "bench-delivered-au1"
    with Simulator(api_keys=[key], rate_limit=10**6, seed=f"generate:{patients // 10}") as sim:
        sim.start()
        runtime = build(aws, poller_settings())
        connection = connect(runtime, sim, "bench-delivered", key, start=StartPoint(kind="beginning"))
        before = aws.queue_depth("delivered")
        run = _poll_to_the_end(PollWorker(runtime, settings_of(runtime)), runtime, connection)
        deadline = time.monotonic() + 30
        depth = aws.queue_depth("delivered") - before
        while depth < run["events"] and time.monotonic() < deadline:
            time.sleep(0.2)
            depth = aws.queue_depth("delivered") - before
        return {
            "delivered_records": run["records"],
            "delivered_events_published": run["events"],
            "delivered_events_in_sqs": depth,
            "delivered_seconds": round(run["wall"], 2),
            "records_per_second_wall_delivered_on_moto": round(run["records"] / run["wall"], 1),
        }


# -- 3. rate budget ------------------------------------------------------------------------------------


def rate_budget(
    aws: LocalAws,
    *,
    limit: int = 20,
    window: int = 2,
    budget_window: int | None = None,
    seconds: float = 30.0,
    prefix: str = "rate_budget",
) -> dict[str, Any]:
    """A backfill of all ten streams at once (one worker thread per stream, as ten Lambdas would) under a
    Cliniko limit of `limit` per `window` s, with `DynamoRateBudget` set to the same limit over its own
    `budget_window` (default: the same window)."""
    key = f"bench-{prefix.replace('_', '-')}-au1"
    per_minute = limit * 60 // window
    budget_window = budget_window or window
    with Simulator(api_keys=[key], rate_limit=limit, rate_window_seconds=window, seed="generate:1500") as sim:
        sim.start()
        budget = DynamoRateBudget(
            STATE_TABLE,
            client=aws.client("dynamodb"),
            limit_per_minute=per_minute,
            window_seconds=budget_window,
            max_jitter_seconds=budget_window / 60,  # production's 1 s of jitter per 60 s window, scaled
        )
        # When each request was granted: the budget's own view (the simulator logs arrivals, which can fall
        # in the next window).
        grants: list[float] = []
        grant = budget.acquire

        def acquire_and_log(
            key_id: str, *, purpose: Literal["poll", "action"], deadline: float, connection_id: str | None = None
        ) -> None:
            grant(key_id, purpose=purpose, deadline=deadline, connection_id=connection_id)
            grants.append(time.time())

        budget.acquire = acquire_and_log  # type: ignore[method-assign]
        # Small pages: the workers must be limited by the budget, not by their own speed (see docs).
        runtime = build(aws, poller_settings(event_source=UNROUTED_SOURCE, poll_page_size=20), rate_budget=budget)
        connection = connect(
            runtime,
            sim,
            f"bench-{prefix.replace('_', '-')}",
            key,
            start=StartPoint(kind="beginning"),
            rate_limit_per_minute=per_minute,
        )
        sim.requests_clear()
        sim.set_rate_limit(limit, window)
        errors: Counter[str] = Counter()
        started = time.time()

        def work(resource: str) -> None:
            worker = PollWorker(runtime, settings_of(runtime))
            end = time.monotonic() + seconds
            while time.monotonic() < end - 0.5:
                try:
                    result = worker.handle(
                        PollJob(connection_id=connection.id, resource=resource),
                        time_budget_seconds=end - time.monotonic(),
                    )
                except Exception as exc:
                    errors[type(exc).__name__] += 1
                    continue
                if result.caught_up:
                    return

        threads = [threading.Thread(target=work, args=(s.resource,), daemon=True) for s in STREAMS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 30)
        ended = time.time()
        log = sim.requests
        statuses = Counter(r.status for r in log)
        cap = budget.cap("", "poll")  # the limit is a number here, the same for every key
        windows = Counter(window_start(t, budget_window) for t in grants)
        first, last = window_start(started, budget_window), window_start(ended, budget_window)
        full = [windows.get(w, 0) for w in range(first + budget_window, last, budget_window)]  # whole windows
        used = statistics.mean(full) if full else 0.0
        times = sorted(r.at.timestamp() for r in log)
        busiest, lo = 0, 0
        for hi, t in enumerate(times):  # most requests in any `window`-long span, whatever its phase
            while t - times[lo] >= window:
                lo += 1
            busiest = max(busiest, hi - lo + 1)
        return {
            f"{prefix}_used": round(used / cap, 4),
            f"{prefix}_cliniko_limit_used": round(used * window / budget_window / limit, 4),
            f"{prefix}_requests": len(log),
            f"{prefix}_429s": statuses.get(429, 0),
            f"{prefix}_busiest_cliniko_window": busiest,
            f"{prefix}_windows_measured": len(full),
            f"{prefix}_requests_per_window": full,
            f"{prefix}_poll_cap_per_budget_window": cap,
            f"{prefix}_budget_window_seconds": budget_window,
            f"{prefix}_cliniko_limit": f"{limit} per {window} s",
            f"{prefix}_worker_errors": dict(errors),
        }


# -- 4. dispatch: see bench/dispatch.py ---------------------------------------------------------------


# -- 5. freshness in fast mode -------------------------------------------------------------------------


def freshness(aws: LocalAws, *, scale: float = 10.0, ticks: int = 4, writes_per_second: float = 6.0) -> dict[str, Any]:
    """Change-to-delivery latency with fast mode at `poll_interval_seconds=10`, time scaled down `scale`x.

    The worker runs on a scaled clock (its `monotonic` and `sleep`), so a 10 s interval passes in 10/scale
    real seconds and a 60 s job in 60/scale; the rate budget and Cliniko's limit are scaled to match. Staff
    write records at random moments; a change's latency runs from its write to the SentTimestamp of the
    first SQS message (via the bus rule) whose record version includes it. The figure for a real 10 s
    interval scales only the wait for the next poll (fetch start - write) and adds the rest (fetch,
    classify, PutEvents, delivery) as measured.
    """
    key = "bench-fresh-au1"
    interval, schedule = 10, 60
    tick_real = schedule / scale
    with Simulator(api_keys=[key], rate_limit=200, rate_window_seconds=60 / scale, seed="generate:50") as sim:
        sim.start()
        budget = DynamoRateBudget(
            STATE_TABLE,
            client=aws.client("dynamodb"),
            limit_per_minute=int(200 * scale),
            window_seconds=max(1, round(60 / scale)),
            max_jitter_seconds=1 / scale,
        )
        runtime = build(aws, poller_settings(), rate_budget=budget)
        fetch_started: dict[int, float] = {}
        published_at_fetch: dict[str, float] = {}
        publisher = runtime.publisher

        class TimedPublisher:
            def publish(self, events: Sequence[BusEvent]) -> None:
                start = fetch_started.get(threading.get_ident(), time.time())
                for event in events:
                    published_at_fetch.setdefault(str(event.detail["event_key"]), start)
                publisher.publish(events)

        runtime.publisher = TimedPublisher()
        connection = connect(runtime, sim, "bench-fresh", key, poll_interval_seconds=interval)

        class ScaledWorker(PollWorker):
            def _poller(self, connection: Connection) -> StreamPoller:
                poller = super()._poller(connection)
                poller.checkpoint_hook = self._hook
                return poller

            @staticmethod
            def _hook(step: str) -> None:
                if step == "before_fetch":
                    fetch_started[threading.get_ident()] = time.time()

        def worker() -> PollWorker:
            return ScaledWorker(
                runtime,
                settings_of(runtime),
                monotonic=lambda: time.monotonic() * scale,
                sleep=lambda s: time.sleep(s / scale),
                schedule_seconds=schedule,
            )

        # Cursors start now and clients warm up; a short budget keeps this one poll per stream, not a fast-mode job.
        _cycle(PollWorker(runtime, settings_of(runtime)), connection, time_budget_seconds=1.0)
        while aws.drain("delivered", expected=10**6, timeout=2):
            pass  # anything earlier benchmarks left

        rng = random.Random(7)
        patients = [p["id"] for p in sim.list("patients")]
        writes: list[tuple[str, str, str, float]] = []  # resource, id, updated_at, wall time
        stop_writing = threading.Event()

        def staff() -> None:
            while not stop_writing.wait(rng.expovariate(writes_per_second)):
                kind = rng.random()
                if kind < 0.4:
                    record = sim.update("patients", rng.choice(patients), {"notes": f"note {rng.random()}"})
                    resource = "patients"
                elif kind < 0.7:
                    record = sim.create("patients", {"first_name": "New", "last_name": f"Patient {len(writes)}"})
                    patients.append(record["id"])
                    resource = "patients"
                else:
                    record = sim.create("medical_alerts", {"name": "Latex", "patient_id": rng.choice(patients)})
                    resource = "medical_alerts"
                writes.append((resource, str(record["id"]), str(record["updated_at"]), time.time()))

        writer = threading.Thread(target=staff, daemon=True)
        started = time.monotonic()
        writer.start()
        for tick in range(ticks):
            at = started + tick * tick_real
            time.sleep(max(0.0, at - time.monotonic()))
            if tick == ticks - 1:
                # Stop writing before the last job's last poll, so every change has a poll after it.
                timer = threading.Timer(tick_real * (schedule - interval) / schedule - 0.3, stop_writing.set)
                timer.daemon = True
                timer.start()
            jobs = [
                threading.Thread(
                    target=worker().handle,
                    args=(PollJob(connection_id=connection.id, resource=s.resource, tick=tick),),
                    daemon=True,
                )
                for s in STREAMS
            ]
            for job in jobs:
                job.start()
            for job in jobs:
                job.join(tick_real * 3)
        stop_writing.set()
        writer.join(5)

        messages = aws.drain("delivered", expected=10**6, timeout=30)
        delivered: dict[tuple[str, str], list[tuple[str, float, str]]] = {}
        for message in messages:
            body = json.loads(message["Body"])
            detail = body["detail"]
            if detail.get("trigger", "").split(".")[-1] not in ("created", "updated") or not detail.get("data"):
                continue
            sent = int(message["Attributes"]["SentTimestamp"]) / 1000
            delivered.setdefault((detail["resource"], detail["id"]), []).append(
                (detail["data"]["updated_at"], sent, detail["event_key"])
            )
        measured: list[float] = []
        implied: list[float] = []
        missing = 0
        for resource, record_id, updated_at, written in writes:
            covering = [d for d in delivered.get((resource, record_id), []) if d[0] >= updated_at]
            if not covering:
                missing += 1
                continue
            _, sent, event_key = min(covering, key=lambda d: d[1])
            measured.append(sent - written)
            # The poll that picked the change up started its fetch at `fetched` (a write racing that fetch
            # waited for nothing): only that wait scales with the interval.
            fetched = published_at_fetch.get(event_key, written)
            implied.append(max(0.0, fetched - written) * scale + (sent - max(fetched, written)))
        return {
            "freshness_p95_seconds": round(_p95(implied), 2),
            "freshness_p50_seconds": round(statistics.median(implied), 2) if implied else None,
            "freshness_p95_seconds_measured_scaled": round(_p95(measured), 3),
            "freshness_p50_seconds_measured_scaled": round(statistics.median(measured), 3) if measured else None,
            "freshness_p95_upper_bound_seconds": round(_p95(measured) * scale, 2),
            "freshness_time_scale": scale,
            "freshness_poll_interval_seconds": interval,
            "freshness_changes": len(writes),
            "freshness_changes_without_event": missing,
            "freshness_events_delivered": len(messages),
            "freshness_ticks": ticks,
        }


def _p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
