"""Fan out one poll job per (connection, stream) so any number of clinics is polled in parallel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cliniko_connector.catalog.triggers import streams_for
from cliniko_connector.models import Connection
from cliniko_connector.observability import count, logger
from cliniko_connector.ports import ConnectionStore, JobQueue, PollJob


def jobs_due(connections: list[Connection], now: datetime, schedule_seconds: int = 60) -> list[PollJob]:
    """Jobs for every enabled stream whose poll interval falls due in this schedule tick."""
    tick = int(now.timestamp()) // schedule_seconds * schedule_seconds
    jobs: list[PollJob] = []
    for connection in connections:
        if not connection.enabled or not connection.triggers:
            continue
        interval = max(schedule_seconds, connection.poll_interval_seconds)
        if tick % interval >= schedule_seconds:
            continue
        for stream in streams_for(list(connection.triggers)):
            jobs.append(PollJob(connection_id=connection.id, resource=stream.resource, tick=tick))
    return jobs


@dataclass
class Dispatcher:
    """The dispatcher use-case, run by the schedule."""

    connections: ConnectionStore
    queue: JobQueue

    def dispatch(self, now: datetime) -> int:
        jobs = jobs_due(self.connections.list(), now)
        if jobs:
            self.queue.enqueue(jobs)
        count("PollJobsDispatched", len(jobs))
        logger.info("poll jobs dispatched", extra={"jobs": len(jobs)})
        return len(jobs)
