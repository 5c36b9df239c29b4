"""Measure list-page latency with a large data set loaded.

    python -m cliniko_tools.simulator.measure [--patients 100000] [--requests 200]

Loads ``patients`` patients directly (plus whatever ``--seed`` adds), starts the simulator and
times full HTTP round trips (keep-alive session) for the list queries pollers make. Prints one
line per scenario: median and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import requests

from cliniko_tools.simulator.simulator import Simulator

KEY = "measure-au1"


def _load_patients(sim: Simulator, count: int) -> None:
    now = sim.clock.now_epoch()
    start = now - 365 * 86_400
    step = max(1, (now - start) // max(1, count))
    records = []
    for index in range(count):
        created = start + index * step
        records.append(
            {
                "id": sim.store.next_id("patients"),
                "first_name": f"First{index}",
                "last_name": f"Last{index % 997}",
                "label": f"First{index} Last{index % 997}",
                "email": f"p{index}@example.com",
                "date_of_birth": f"{1940 + index % 70}-{1 + index % 12:02d}-{1 + index % 28:02d}",
                "created_at": created,
                "updated_at": created + (index * 7919) % (30 * 86_400),
                **({"archived_at": created + 3600} if index % 50 == 0 else {}),
            }
        )
    sim.store.bulk_load("patients", records)


def _time(session: requests.Session, url: str, params: dict[str, Any], pages: int, n: int) -> tuple[float, float]:
    samples = []
    for index in range(n):
        page = 1 + (index * 37) % pages
        started = time.perf_counter()
        response = session.get(url, params={**params, "page": page})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        samples.append(elapsed * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    with Simulator(api_keys=[KEY], rate_limit=10**9) as sim, requests.Session() as session:
        started = time.perf_counter()
        _load_patients(sim, args.patients)
        _say(f"loaded {args.patients} patients in {time.perf_counter() - started:.2f}s")
        base = sim.start()
        session.auth = (KEY, "")
        session.headers["User-Agent"] = "Simulator measure (dev@example.com)"
        pages = max(1, args.patients // 100 - 1)
        since = "2000-01-01T00:00:00Z"
        scenarios: list[tuple[str, dict[str, Any]]] = [
            ("default order, per_page=100", {"per_page": 100}),
            (
                "poll: updated_at>=, archived_at:*, sort=updated_at",
                {"per_page": 100, "sort": "updated_at", "q[]": [f"updated_at:>={since}", "archived_at:*"]},
            ),
            (
                "poll without archived_at:* (archived hidden)",
                {"per_page": 100, "sort": "updated_at", "q[]": [f"updated_at:>={since}"]},
            ),
            ("string filter last_name:~Last1", {"per_page": 100, "q[]": ["last_name:~Last1"]}),
        ]
        for name, params in scenarios:
            first = time.perf_counter()
            session.get(base + "/patients", params=params)
            cold = (time.perf_counter() - first) * 1000
            median, p95 = _time(session, base + "/patients", params, pages, args.requests)
            _say(f"{name:55s} first {cold:7.1f} ms   median {median:5.2f} ms   p95 {p95:5.2f} ms")


if __name__ == "__main__":
    main()
