"""The production adapters against the local AWS, plus the instrumentation the benchmarks read.

`BenchRuntime` is `wiring.Runtime` whose Cliniko clients are wrapped to time their fetches (wall and CPU of
the calling thread), so a benchmark can tell the pipeline's own work (classify, publish, checkpoint) from
waiting on Cliniko.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.env import BUS, CONNECTIONS_TABLE, CONTACT_EMAIL, STATE_TABLE, LocalAws
from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.dynamodb import DynamoConnectionStore, DynamoRateBudget, DynamoStreamStateStore
from cliniko_connector.adapters.eventbridge import EventBridgePublisher
from cliniko_connector.adapters.secrets import SecretsManagerStore
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.models import Connection, StartPoint
from cliniko_connector.ports import ClinikoApi, Page, Params, RateBudget
from cliniko_connector.settings import PollerSettings
from cliniko_connector.usecases.connections import ConnectionAdmin
from cliniko_connector.wiring import Runtime
from cliniko_tools.simulator import Simulator


@dataclass
class FetchClock:
    """Time spent inside Cliniko fetches, summed over every thread (wall) and per thread (CPU)."""

    wall: float = 0.0
    calls: int = 0
    _cpu: dict[int, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, wall: float, cpu: float) -> None:
        with self._lock:
            self.wall += wall
            self.calls += 1
            ident = threading.get_ident()
            self._cpu[ident] = self._cpu.get(ident, 0.0) + cpu

    def cpu_of_this_thread(self) -> float:
        with self._lock:
            return self._cpu.get(threading.get_ident(), 0.0)


class TimedApi:
    """A `ClinikoApi` that times each call of the client it wraps."""

    def __init__(self, inner: ClinikoClient, clock: FetchClock) -> None:
        self.inner = inner
        self.clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # requests_sent, base_url…

    def _timed(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return call(*args, **kwargs)
        finally:
            self.clock.add(time.perf_counter() - wall, time.thread_time() - cpu)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        json: Mapping[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        return self._timed(self.inner.request, method, path, params=params, json=json, deadline=deadline)

    def list_page(self, path_or_url: str, *, params: Params = (), deadline: float | None = None) -> Page:
        page: Page = self._timed(self.inner.list_page, path_or_url, params=params, deadline=deadline)
        return page

    def iter_records(
        self, path: str, *, params: Params = (), deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        return self.inner.iter_records(path, params=params, deadline=deadline)


@dataclass
class BenchRuntime(Runtime):
    fetch_clock: FetchClock = field(default_factory=FetchClock)

    def api_for(self, connection: Connection, purpose: str = "poll") -> ClinikoApi:
        client = super().api_for(connection, purpose)
        assert isinstance(client, ClinikoClient)
        return TimedApi(client, self.fetch_clock)


def settings_of(runtime: Runtime) -> PollerSettings:
    assert isinstance(runtime.settings, PollerSettings)
    return runtime.settings


def poller_settings(**changes: Any) -> PollerSettings:
    return PollerSettings(
        cliniko_contact_email=CONTACT_EMAIL,
        cliniko_app_name="cliniko-connector-bench",
        connections_table=CONNECTIONS_TABLE,
        state_table=STATE_TABLE,
        event_bus_name=BUS,
        cliniko_allow_base_url_override=True,  # its connections point at the simulator on loopback
        **changes,
    )


def build(
    aws: LocalAws,
    settings: PollerSettings,
    *,
    rate_budget: RateBudget | None = None,
) -> BenchRuntime:
    ddb = aws.client("dynamodb")
    return BenchRuntime(
        settings=settings,
        connections=DynamoConnectionStore(CONNECTIONS_TABLE, client=ddb),
        state=DynamoStreamStateStore(STATE_TABLE, client=ddb),
        publisher=EventBridgePublisher(BUS, client=aws.client("events")),
        secrets=SecretsManagerStore(client=aws.client("secretsmanager"), prefix="bench/"),
        rate_budget=rate_budget or DynamoRateBudget(STATE_TABLE, client=ddb, limit_per_minute=10**6),
    )


def connect(
    runtime: Runtime,
    sim: Simulator,
    name: str,
    api_key: str,
    *,
    start: StartPoint | None = None,
    **changes: Any,
) -> Connection:
    """`connections add` + `triggers enable` (every trigger) as the CLI does them; then `changes` applied."""
    admin = ConnectionAdmin(
        connections=runtime.connections,
        secrets=runtime.secrets,
        state=runtime.state,
        api_for_key=lambda key, base: ClinikoClient(key, user_agent=runtime.settings.user_agent, base_url=base),
    )
    connection, _ = admin.add(name, api_key, base_url=sim.base_url)
    connection = admin.enable_triggers(connection.id, list(TRIGGERS), start)
    if changes:
        connection = connection.model_copy(update=changes)
        runtime.connections.put(connection)
    return connection
