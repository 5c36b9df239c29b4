"""Chaos: 10,000+ seeded clinic changes polled through every fault we know of, and not one change lost.

One connection with every trigger enabled polls all ten resource streams of the simulator over real HTTP
(`ClinikoClient`), with the in-memory bus and the in-memory state store (`pytest -m slow`: the DynamoDB
state store on a moto server, so its conditional writes and leases are under the same chaos). Between
poll cycles the workload makes bursts of changes, many inside one second and larger than a page. While
cycles run:
- the simulator answers a share of requests with 429s, 5xx, timeouts, connection resets and truncated bodies;
- PutEvents throttles entries, accepts some batches and refuses the rest, or refuses whole calls;
- the poller crashes at every step boundary (hard crashes also leave their lease behind);
- staff edit records between two pages, whole streams go down for an invocation, two jobs for one
  stream run at once, and reconciliation walks run a few pages at a time.

Then, without faults, the streams catch up, and the test checks the delivery guarantees on what the bus
received, against what the workload did:
- every record's creation and every lifecycle transition came out, each under exactly one key;
- every record's last created/updated event carries its final state, also for a consumer that drops
  repeated keys, and every appointment moved since its creation reached both kinds of consumer as a move;
- a key was only ever repeated after crashes that had it in flight, at most once per crash (after a
  PutEvents run that failed in part, the retry sends only what the bus did not accept);
- the cursor never moved backwards, and every event matches the published schema of its detail-type;
- a reconciliation walking every stream from its origin afterwards finds nothing to publish.

`CHAOS_SEED` picks another seed when exploring by hand; `make test` always runs the fixed one.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import jsonschema
import pytest
import requests

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from cliniko_connector.adapters.dynamodb import DynamoStreamStateStore
from cliniko_connector.adapters.memory import InMemoryStreamStateStore
from cliniko_connector.catalog.triggers import STREAMS, TRIGGERS, Changed, Created, Updated
from cliniko_connector.models import Connection
from cliniko_connector.ports import StreamStateStore
from cliniko_connector.usecases.poll import PollResult
from cliniko_tools.local.moto import InProcessMoto
from cliniko_tools.local.stack import create_declared_table
from cliniko_tools.simulator import Simulator
from cliniko_tools.simulator.faults import Fault
from tests.integration.chaos.harness import CYCLE_SECONDS, LEASE_SECONDS, STEPS, Attempt, Chaos, Harness
from tests.integration.chaos.workload import RESOURCES, START, Workload
from tests.integration.conftest import API_KEY, USER_AGENT
from tests.unit.contract import schema_for

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("CHAOS_SEED", "20260302"))  # fixed; another seed only to explore by hand
TARGET_CHANGES = 10_000
CHAOS_STREAMS = tuple(s for s in STREAMS if s.resource in RESOURCES)  # the streams the workload drives
CLIENT_TIMEOUT = 0.3  # a stalled request fails fast; the simulator's timeout fault stalls for twice as long
FAULTS: tuple[tuple[str, float, dict[str, Any]], ...] = (  # share of the requests each fault answers
    ("server_error", 0.015, {"status": 500}),
    ("server_error", 0.008, {"status": 502}),
    ("server_error", 0.008, {"status": 503}),
    ("rate_limit", 0.020, {}),
    ("reset", 0.015, {}),
    ("malformed_json", 0.015, {}),
    ("timeout", 0.008, {"delay": 2 * CLIENT_TIMEOUT}),
)
CHAOS = Chaos(
    crash=0.02,
    publish_throttled=0.05,
    publish_partial=0.04,
    publish_refused=0.01,
    mid_poll_changes=0.05,
)
LIFECYCLE = frozenset(
    {name for name, trigger in TRIGGERS.items() if not isinstance(trigger.transition, Created | Updated | Changed)}
)
RESCHEDULE_FIELDS = ("starts_at", "ends_at", "practitioner")


@cache
def validator(detail_type: str) -> Any:
    """What `tests.unit.contract.assert_matches_schema` checks, with the schema checked once, not per event."""
    schema = schema_for(detail_type)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


StateFactory = Callable[[Callable[[], float]], StreamStateStore]


@dataclass(frozen=True)
class StateUnderTest:
    make: StateFactory
    # A reconciliation slice's time: a few pages, with this store's calls (moto's take milliseconds each).
    walk_slice_seconds: float


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.slow)])
def state(request: pytest.FixtureRequest) -> Iterator[StateUnderTest]:
    """The state store under chaos: the in-memory fake, or (slower) the DynamoDB adapter on a moto server,
    so the conditional cursor writes and the leases folded into them are DynamoDB's own."""
    if request.param == "memory":
        yield StateUnderTest(lambda clock: InMemoryStreamStateStore(now=clock), walk_slice_seconds=0.01)
        return
    with InProcessMoto() as moto:
        ddb = boto3.client(
            "dynamodb",
            endpoint_url=moto.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        create_declared_table(ddb, "StateTable", "chaos-state")
        yield StateUnderTest(
            lambda clock: DynamoStreamStateStore("chaos-state", client=ddb, now=clock), walk_slice_seconds=0.3
        )


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # A 1 s window: an injected 429's reset is a second away, so the client waits (briefly) and retries.
    with Simulator(api_keys=[API_KEY], rate_limit=10**6, rate_window_seconds=1.0) as simulator:
        simulator.start()
        simulator.clock.set(START)
        yield simulator


def inject_faults(sim: Simulator) -> list[tuple[str, Fault]]:
    cap = 10_000  # counted rules, so what was injected can be read back from `remaining`
    return [
        (f"{kind}{opts.get('status', '')}", sim.faults.inject(kind, count=cap, fraction=p, **opts))
        for kind, p, opts in FAULTS
    ]


def test_no_change_is_lost_or_sent_twice_whatever_fails(
    sim: Simulator, state: StateUnderTest, record_property: Any
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    workload = Workload(sim, SEED)
    api = ClinikoClient(
        API_KEY,
        user_agent=USER_AGENT,
        base_url=sim.base_url,
        timeout=CLIENT_TIMEOUT,
        max_backoff=0.05,
        session=requests.Session(),
        sleep=lambda seconds: time.sleep(min(seconds, 0.002)),  # injected 429s say "wait a second": don't
    )
    connection = Connection(
        id="chaos", name="Chaos", secret_id="unused", shard="au1", triggers=tuple(TRIGGERS), hash_salt="chaos"
    )

    def staff_edit_between_pages() -> None:
        sim.clock.advance(rng.choice((0, 1)))
        workload.few(rng.randint(1, 8))

    harness = Harness(api, connection, sim.clock.now, SEED, on_mid_poll=staff_edit_between_pages, state=state.make)
    streams = list(CHAOS_STREAMS)
    assert len(streams) == len(RESOURCES)  # a renamed resource would drop out of the storm silently
    assert all(r is not None and r.initialised for r in harness.cycle(streams))  # every stream starts at START

    # -- the storm --------------------------------------------------------------------------------------
    faults = inject_faults(sim)
    harness.chaos = CHAOS
    overlapping, racing, outages = [], [], []
    walks: list[PollResult | None] = []
    cycles = 0
    while workload.changes < TARGET_CHANGES:
        workload.run_round(rng.randint(40, 200))
        cycles += 1
        for stream in rng.sample(streams, len(streams)):
            harness.poll(stream)
        if cycles % 4 == 1:
            overlapping.append(harness.overlapping_jobs(rng.choice(streams)))
        if cycles % 6 == 2:
            racing.append(harness.racing_jobs(rng.choice(streams)))
        if cycles % 5 == 4:
            # One stream's endpoint is down for a whole invocation: it fails after its retries.
            stream = rng.choice(streams)
            outage = sim.faults.inject("server_error", count=10_000, status=503, paths=[f"/{stream.resource}"])
            outages.append(Attempt(stream.resource))
            harness.poll(stream, deadline_seconds=0.3, attempt=outages[-1])
            outage.remaining = 0
        if cycles % 3 == 0:
            # A reconciliation slice, through the same faults: a few pages of a walk that the next slices
            # of that stream resume.
            walks.append(harness.poll(rng.choice(streams), deadline_seconds=state.walk_slice_seconds, reconcile=True))
        harness.lease_clock += CYCLE_SECONDS
    injected = {name: 10_000 - (rule.remaining or 0) for name, rule in faults}
    sim.faults.clear()

    # -- calm: every lease expires, the streams catch up --------------------------------------------------
    harness.chaos = Chaos()
    harness.lease_clock += 2 * LEASE_SECONDS
    for _ in range(20):
        results = harness.cycle(streams)
        if all(r is not None and r.caught_up and r.events == 0 for r in results):
            break
    else:
        pytest.fail("the streams did not catch up once the faults stopped")
    # A reconciliation, walking every stream from its origin (or on from where a slice stopped), finds
    # nothing the polls missed.
    final_walks = [harness.poll(stream, reconcile=True, deadline_seconds=120) for stream in streams]
    assert all(w is not None and not w.reconciling and w.events == 0 for w in final_walks), final_walks

    # -- what the bus received ----------------------------------------------------------------------------
    events = [e.detail | {"detail_type": e.detail_type, "source": e.source} for e in harness.bus.events]
    assert not harness.unexpected, harness.unexpected[:5]
    assert not harness.violations, harness.violations[:5]

    # A key repeats only after crashes that had it in flight, at most once per such crash.
    repeats = {k: n for k, n in Counter(e["event_key"] for e in events).items() if n > 1}
    unexplained = {k: n for k, n in repeats.items() if harness.at_risk[k] < n - 1}
    assert not unexplained, list(unexplained.items())[:5]

    by_record: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        assert event["source"] == "cliniko"
        assert TRIGGERS[event["trigger"]].detail_type == event["detail_type"]
        validator(event["detail_type"]).validate({k: v for k, v in event.items() if k not in ("detail_type", "source")})
        by_record[(event["resource"], event["id"])].append(event)

    def keys_of(resource: str, record_id: str, trigger: str) -> set[str]:
        return {e["event_key"] for e in by_record[(resource, record_id)] if e["trigger"] == trigger}

    # Every record created, and only those, has exactly one `.created` event.
    for stream in CHAOS_STREAMS:
        in_cliniko = {str(r["id"]) for r in sim.store.all_records(stream.resource)}
        assert workload.created[stream.resource] == in_cliniko, stream.resource
        creation = f"{stream.singular}.created"
        with_event = {
            rid
            for (res, rid), evs in by_record.items()
            if res == stream.resource and any(e["trigger"] == creation for e in evs)
        }
        assert with_event == in_cliniko, (stream.resource, len(with_event), len(in_cliniko))
        assert all(len(keys_of(stream.resource, rid, creation)) == 1 for rid in in_cliniko)

    # Every lifecycle transition the workload caused came out exactly once, and no other.
    published = {(e["resource"], e["id"], e["trigger"]) for e in events if e["trigger"] in LIFECYCLE}
    assert published == workload.lifecycle, (len(published - workload.lifecycle), len(workload.lifecycle - published))
    twice = {fact: keys_of(*fact) for fact in published if len(keys_of(*fact)) != 1}
    assert not twice, list(twice.items())[:3]

    # What a consumer that drops repeated keys (as the docs tell it to) ends up with: the first of each key.
    seen: set[str] = set()
    delivered: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event["event_key"] not in seen:
            seen.add(event["event_key"])
            delivered[(event["resource"], event["id"])].append(event)

    # Edits between two polls may collapse, but each record's last created/updated event is its final state,
    # also for a consumer that drops repeated keys: after a failed attempt, the retry resends the pending
    # versions' events under their keys and classifies what changed since against them.
    final_checked = 0
    for stream in CHAOS_STREAMS:
        if not any(isinstance(t.transition, Updated) for t in stream.triggers):
            continue
        names = {f"{stream.singular}.created", f"{stream.singular}.updated"}
        for record in sim.list(stream.resource):
            rid = str(record["id"])
            sent = [e for e in by_record[(stream.resource, rid)] if e["trigger"] in names]
            assert sent and sent[-1]["data"]["updated_at"] == record["updated_at"], (stream.resource, rid)
            kept = [e for e in delivered[(stream.resource, rid)] if e["trigger"] in names][-1]
            assert kept["data"]["updated_at"] == record["updated_at"], (stream.resource, rid)
            final_checked += 1

    # Rescheduling: only appointments the workload moved. A consumer (deduplicating or not) whose first
    # `.created` shows other times than the appointment has now got a move, the last one to where it is now.
    moved_after_a_failure = 0
    for record in sim.list("individual_appointments"):
        rid = str(record["id"])
        final = {f: _value(record, f) for f in RESCHEDULE_FIELDS}
        created = [e for e in by_record[("individual_appointments", rid)] if e["trigger"].endswith(".created")]
        for received in (by_record, delivered):
            moves = [e for e in received[("individual_appointments", rid)] if e["trigger"].endswith(".rescheduled")]
            if rid not in workload.rescheduled:
                assert not moves, rid
            if final != {f: _value(created[0]["data"], f) for f in RESCHEDULE_FIELDS}:
                assert moves, rid
            if moves:
                assert {f: _value(moves[-1]["data"], f) for f in RESCHEDULE_FIELDS} == final, rid
        # A move says where from; a resent one carries the appointment as it is at the resend.
        moves = [e for e in by_record[("individual_appointments", rid)] if e["trigger"].endswith(".rescheduled")]
        assert all(
            m["previous"] != {f: _value(m["data"], f) for f in RESCHEDULE_FIELDS}
            for m in moves
            if not harness.at_risk[m["event_key"]]
        ), rid
        if {f: _value(created[0]["data"], f) for f in RESCHEDULE_FIELDS} != {
            f: _value(created[-1]["data"], f) for f in RESCHEDULE_FIELDS
        }:
            moved_after_a_failure += 1

    # Overlapping jobs for one stream: never both done with something published by each. Every poll that
    # writes its cursor does so conditionally on the version it read (one that publishes takes the lease by
    # that write first), so the one that read first and wrote second finds the stream busy. A poll that found
    # nothing new to publish or write (only records already seen, within the idle heartbeat) may finish beside
    # the other: it wrote nothing, and had nothing to protect.
    for first, second in overlapping:
        both = (first.outcome, second.outcome) == ("ok", "ok")
        assert not both or not (first.published and second.published), first.stream
    for a, b in racing:
        assert set(a.published).isdisjoint(b.published) or set(a.published) & set(b.published) <= set(harness.at_risk)

    # -- the storm was as big as it claims --------------------------------------------------------------
    assert workload.changes >= TARGET_CHANGES
    assert max(workload.bursts) > 200 and len(workload.bursts) >= 10
    assert all(harness.crashes[step] >= 3 for step in STEPS), harness.crashes
    assert harness.leases_left_behind >= 3
    assert all(n >= 1 for n in injected.values()), injected
    bus_faults = ("putevents_entries_throttled", "putevents_partial_failure", "putevents_refused")
    assert all(harness.injected[k] >= 1 for k in bus_faults), harness.injected
    assert harness.failures["PublishError"] >= 2
    assert all(a.outcome in ("failed", "busy") for a in outages) and any(a.outcome == "failed" for a in outages)
    assert harness.outcomes["busy"] >= len(overlapping) // 2
    assert sum(1 for w in walks if w is not None) >= 5  # reconciliation slices ran, and not all failed
    assert repeats  # crashes between publish and checkpoint did cause (explained) repeats

    for name, value in {
        "changes": workload.changes,
        "cycles": cycles,
        "events": len(events),
        "repeated_keys": len(repeats),
        "requests": len(sim.requests),
        "crashes": dict(harness.crashes),
        "sim_faults": injected,
        "bus_faults": dict(harness.injected),
        "failures": dict(harness.failures),
        "outcomes": dict(harness.outcomes),
        "leases_left_behind": harness.leases_left_behind,
        "overlapping_jobs": len(overlapping),
        "reconcile_slices": len(walks),
        "reconcile_slices_that_published": sum(1 for w in walks if w is not None and w.events),
        "racing_jobs": len(racing),
        "outages": len(outages),
        "bursts": len(workload.bursts),
        "largest_burst": max(workload.bursts),
        "records_checked_final_state": final_checked,
        "appointments_moved_between_a_failed_attempt_and_its_retry": moved_after_a_failure,
        "seconds": round(time.monotonic() - started, 1),
    }.items():
        record_property(name, value)


def _value(data: dict[str, Any], field: str) -> Any:
    value = data.get(field)
    if isinstance(value, dict):
        return value.get("links", {}).get("self", "").rsplit("/", 1)[-1]
    return value
