"""Fan out one poll job per connection (its due streams) so any number of clinics is polled in parallel."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cliniko_connector.catalog.triggers import streams_for
from cliniko_connector.models import Connection
from cliniko_connector.observability import count, logger
from cliniko_connector.ports import ConnectionStore, JobQueue, PollJob


def reconcile_slot(connection_id: str, resource: str, period: int, schedule_seconds: int) -> int:
    """The tick (offset within `period`) when a stream reconciles: spread by a stable hash so a thousand
    clinics don't all walk their whole lists in the same minute."""
    digest = int(hashlib.sha256(f"{connection_id}/{resource}".encode()).hexdigest()[:8], 16)
    return digest % max(1, period // schedule_seconds) * schedule_seconds


def jobs_due(
    connections: list[Connection], now: datetime, schedule_seconds: int = 60, reconcile_period: int = 86400
) -> list[PollJob]:
    """One job per connection with streams due in this schedule tick: every enabled stream whose poll
    interval falls due, and the streams whose daily reconciliation slot this tick is. Fast-mode connections
    (interval under the schedule) get one job per tick; the worker polls repeatedly inside it."""
    tick = int(now.timestamp()) // schedule_seconds * schedule_seconds
    jobs: list[PollJob] = []
    for connection in connections:
        if not connection.enabled or not connection.triggers:
            continue
        interval = max(schedule_seconds, connection.poll_interval_seconds)
        due = tick % interval < schedule_seconds
        resources = [s.resource for s in streams_for(list(connection.triggers))]
        reconcile = tuple(
            r
            for r in resources
            if reconcile_period
            and tick % reconcile_period == reconcile_slot(connection.id, r, reconcile_period, schedule_seconds)
        )
        polled = tuple(resources) if due else reconcile
        if polled:
            jobs.append(PollJob(connection_id=connection.id, resources=polled, reconcile=reconcile, tick=tick))
    return jobs


@dataclass
class Dispatcher:
    """The dispatcher use-case, run by the schedule."""

    connections: ConnectionStore
    queue: JobQueue
    reconcile_period_seconds: int = 86400

    def dispatch(self, now: datetime) -> int:
        jobs = jobs_due(self.connections.list(), now, reconcile_period=self.reconcile_period_seconds)
        if jobs:
            self.queue.enqueue(jobs)
        count("PollJobsDispatched", len(jobs))
        logger.info("poll jobs dispatched", extra={"jobs": len(jobs), "streams": sum(len(j.resources) for j in jobs)})
        return len(jobs)
