"""The chaos harness: runs poll attempts ("Lambda invocations") of one connection's streams against the
simulator and injects crashes and bus failures, keeping the books the test's assertions need.

* Every attempt is one `StreamPoller.poll`; whatever it raises is "the Lambda failed" and the next cycle
  retries. Expected failures (injected crashes, `PublishError`, Cliniko errors after retries, `StreamBusy`)
  are counted; anything else is recorded as unexpected and fails the test.
* A crash is the `checkpoint_hook` raising at a step boundary. A *hard* crash also leaves the stream's
  lease behind (a killed Lambda never releases it), so the stream stays busy until the lease expires.
* Keys published by an attempt since its last checkpoint are "at risk" if the attempt fails: only those
  may be published again later, at most once per failed attempt that sent them.
* The state store wrapper records any cursor write from the stream's current version that would move it
  backwards.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cliniko_connector.adapters.memory import InMemoryStreamStateStore, RecordingPublisher
from cliniko_connector.catalog.triggers import ResourceStream
from cliniko_connector.errors import ClinikoError, PublishError, StreamBusy
from cliniko_connector.models import BusEvent, Connection, StreamCursor, StreamKey
from cliniko_connector.ports import ClinikoApi, StreamStateStore
from cliniko_connector.usecases.poll import PollResult, StreamPoller

STEPS = ("before_fetch", "fetched", "pending_saved", "published", "settled", "checkpointed")
LEASE_SECONDS = 150
# As deployed, an idle poll writes its cursor only once this long after the last (`poll_idle_heartbeat_seconds`),
# so the polls that find nothing new run the path that writes nothing.
IDLE_HEARTBEAT = timedelta(seconds=300)
CYCLE_SECONDS = 60  # lease clock per poll cycle: a hard-crashed lease blocks its stream for two cycles
FLOOR = 100  # every fault kind comes at least once per this many chances (publish calls; 3x for step crashes)


class InjectedCrash(Exception):
    """The Lambda died at a step boundary."""


@dataclass
class Attempt:
    """One poll invocation of one stream."""

    stream: str
    main_thread: bool = True
    pending: list[str] = field(default_factory=list)  # keys published since the attempt's last checkpoint
    published: list[str] = field(default_factory=list)
    hard_crash: bool = False
    pause_at: str | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    resume: threading.Event = field(default_factory=threading.Event)
    outcome: str = "pending"
    failure: str | None = None  # what made it fail


@dataclass
class Chaos:
    """Probabilities of the injected failures, per step boundary and per publish call."""

    crash: float = 0.0
    publish_throttled: float = 0.0  # some entries fail once with a retryable code, then succeed
    publish_partial: float = 0.0  # the first batches are accepted, then the bus refuses the rest
    publish_refused: float = 0.0  # the whole call is refused with a non-retryable code
    mid_poll_changes: float = 0.0  # staff change records while the poller walks the list


class CheckedStateStore:
    """`StreamStateStore` around a real one (the in-memory fake, or DynamoDB on moto): records backwards
    cursor writes; skips the cursor write (the lease's release) of a hard-crashed attempt."""

    def __init__(self, inner: StreamStateStore, harness: Harness) -> None:
        self.inner = inner
        self.harness = harness
        self._lock = threading.Lock()
        self.positions: dict[StreamKey, datetime] = {}
        self.cursor_writes = 0

    def get_cursor(self, stream: StreamKey) -> StreamCursor | None:
        return self.inner.get_cursor(stream)

    def put_cursor(
        self,
        stream: StreamKey,
        cursor: StreamCursor,
        *,
        expected_version: int | None,
        owner: str | None = None,
        lease_seconds: int = 0,
    ) -> StreamCursor:
        with self._lock:
            attempt = self.harness.current()
            stored = self.inner.get_cursor(stream)
            if attempt is not None and attempt.hard_crash and stored is not None:
                # A killed Lambda writes nothing more: a lease it held stays behind (its release, with the
                # error, is the cursor write the poller makes on its way out).
                if stored.lease_owner is not None and stored.lease_owner == owner:
                    self.harness.leases_left_behind += 1
                return stored
            before = self.positions.get(stream)
            # A writer that read an older version is refused anyway (pollers write optimistically): only a
            # write from the current version may show the poller moving a stream back.
            current = stored is not None and expected_version == stored.version
            if current and before is not None and cursor.position < before:
                self.harness.violations.append(f"cursor of {stream} moved back from {before} to {cursor.position}")
            stored = self.inner.put_cursor(
                stream, cursor, expected_version=expected_version, owner=owner, lease_seconds=lease_seconds
            )
            self.positions[stream] = stored.position
            self.cursor_writes += 1
            return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # snapshots, statistics…: as the fake does them


class FlakyPublisher:
    """`EventPublisher` around `RecordingPublisher` that makes PutEvents fail now and then."""

    def __init__(self, inner: RecordingPublisher, harness: Harness) -> None:
        self.inner = inner
        self.harness = harness
        self._lock = threading.Lock()

    def publish(self, events: Sequence[BusEvent]) -> None:
        harness = self.harness
        with self._lock:
            attempt = harness.current()
            mode = harness.draw_publish_fault(len(events))
            accepted_before = len(self.inner.events)
            try:
                if mode == "throttled":
                    harness.injected["putevents_entries_throttled"] += min(len(events), 3)
                    self.inner.fail_next(min(len(events), 3), "ThrottlingException")
                    self.inner.publish(events)
                elif mode == "partial":
                    harness.injected["putevents_partial_failure"] += 1
                    cut = 10 * harness.rng_int(1, (len(events) - 1) // 10)
                    self.inner.publish(events[:cut])
                    self.inner.fail_permanently(True)
                    try:
                        self.inner.publish(events[cut:])
                    except PublishError as exc:  # positions in the whole call, as one PutEvents run gives them
                        raise exc.shifted(cut, len(events), len(events) - cut) from None
                elif mode == "refused":
                    harness.injected["putevents_refused"] += 1
                    self.inner.fail_permanently(True, "AccessDeniedException")
                    self.inner.publish(events)
                else:
                    self.inner.publish(events)
            finally:
                self.inner.fail_permanently(False)
                self.inner.fail_next(0)
                keys = [str(e.detail["event_key"]) for e in self.inner.events[accepted_before:]]
                if attempt is not None:
                    attempt.pending.extend(keys)
                    attempt.published.extend(keys)


class Harness:
    def __init__(
        self,
        api: ClinikoApi,
        connection: Connection,
        now: Callable[[], datetime],
        seed: int,
        on_mid_poll: Callable[[], None] = lambda: None,
        state: Callable[[Callable[[], float]], StreamStateStore] = lambda clock: InMemoryStreamStateStore(now=clock),
    ) -> None:
        self.api = api
        self.connection = connection
        self.now = now
        self.on_mid_poll = on_mid_poll
        self.chaos = Chaos()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._local = threading.local()
        self.lease_clock = 1_000_000_000.0
        # The store runs on the lease clock, which each cycle moves on.
        self.state = CheckedStateStore(state(lambda: self.lease_clock), self)
        self.bus = RecordingPublisher()
        self.publisher = FlakyPublisher(self.bus, self)
        self.violations: list[str] = []
        self.unexpected: list[str] = []
        self.at_risk: Counter[str] = Counter()  # key -> crashed attempts that had it in flight
        self.crashes: Counter[str] = Counter()  # step -> crashes injected there
        self.failures: Counter[str] = Counter()  # what made attempts fail
        self.injected: Counter[str] = Counter()  # bus faults
        self.outcomes: Counter[str] = Counter()
        self.leases_left_behind = 0
        self.attempts = 0
        self._publish_calls = 0
        self._step_calls: Counter[str] = Counter()
        self._due: set[str] = set()

    # -- randomness shared by threads -------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        with self._rng_lock:
            return p > 0 and self._rng.random() < p

    def rng_int(self, low: int, high: int) -> int:
        with self._rng_lock:
            return self._rng.randint(low, high)

    def draw_publish_fault(self, n: int) -> str | None:
        """A fault for this PutEvents call, at random; each kind also comes at least every `FLOOR` calls, so
        a run of any seed has all of them."""
        c = self.chaos
        self._publish_calls += 1
        for kind, p in (("refused", c.publish_refused), ("partial", c.publish_partial)):
            if p and self._publish_calls % FLOOR == (0 if kind == "refused" else FLOOR // 2):
                self._due.add(kind)
        if "refused" in self._due or self.chance(c.publish_refused):
            self._due.discard("refused")
            return "refused"
        if n > 10 and ("partial" in self._due or self.chance(c.publish_partial)):
            self._due.discard("partial")
            return "partial"
        if self.chance(c.publish_throttled):
            return "throttled"
        return None

    def current(self) -> Attempt | None:
        attempt: Attempt | None = getattr(self._local, "attempt", None)
        return attempt

    # -- one attempt -------------------------------------------------------------------------------------

    def hook(self, attempt: Attempt, step: str) -> None:
        if step == "checkpointed":
            attempt.pending.clear()  # the cursor now covers what was published
        if attempt.pause_at == step:
            attempt.pause_at = None
            attempt.reached.set()
            attempt.resume.wait(10)
        if step == "fetched" and attempt.main_thread and self.chance(self.chaos.mid_poll_changes):
            self.on_mid_poll()
        self._step_calls[step] += 1
        forced = self.chaos.crash > 0 and self._step_calls[step] % (3 * FLOOR) == FLOOR
        if forced or self.chance(self.chaos.crash):
            attempt.hard_crash = self.chance(0.5)
            self.crashes[step] += 1
            raise InjectedCrash(step)

    def poll(
        self,
        stream: ResourceStream,
        *,
        deadline_seconds: float = 20.0,
        attempt: Attempt | None = None,
        reconcile: bool = False,
    ) -> PollResult | None:
        """One invocation: its result, or None if it failed (the failure is booked)."""
        attempt = attempt or Attempt(stream.resource, main_thread=threading.current_thread() is threading.main_thread())
        poller = StreamPoller(
            api=self.api,
            state=self.state,
            publisher=self.publisher,
            event_source="cliniko",
            now=self.now,
            lease_seconds=LEASE_SECONDS,
            idle_heartbeat=IDLE_HEARTBEAT,
            checkpoint_hook=lambda step: self.hook(attempt, step),
        )
        self._local.attempt = attempt
        self.attempts += 1
        try:
            result = poller.poll(
                self.connection, stream, deadline=time.monotonic() + deadline_seconds, reconcile=reconcile
            )
            attempt.outcome = "ok"
            return result
        except StreamBusy:
            attempt.outcome = "busy"
            return None
        except (InjectedCrash, PublishError, ClinikoError) as exc:
            attempt.outcome = "failed"
            attempt.failure = type(exc).__name__
            self.failures[attempt.failure] += 1
            return None
        except Exception as exc:  # anything else is a bug the test must report
            attempt.outcome = "unexpected"
            self.unexpected.append(f"{stream.resource}: {type(exc).__name__}: {exc}")
            return None
        finally:
            self.outcomes[attempt.outcome] += 1
            # Only a crash may repeat keys: after a publish that failed in part, the retry sends only what
            # the bus did not accept.
            if attempt.outcome == "unexpected" or attempt.failure == InjectedCrash.__name__:
                self.at_risk.update(set(attempt.pending))
            self._local.attempt = None

    def cycle(self, streams: Sequence[ResourceStream], **kw: Any) -> list[PollResult | None]:
        """Poll every stream once (one scheduled tick), then let the lease clock move on."""
        results = [self.poll(stream, **kw) for stream in streams]
        self.lease_clock += CYCLE_SECONDS
        return results

    # -- two jobs for one stream at once ------------------------------------------------------------------

    def overlapping_jobs(self, stream: ResourceStream) -> tuple[Attempt, Attempt]:
        """Job A has read the stream's cursor (paused before its first fetch) while job B polls it: whichever
        writes second finds the stream busy (A, whose conditional writes see B's). Then A finishes."""
        first = Attempt(stream.resource, main_thread=False, pause_at="before_fetch")
        thread = threading.Thread(target=self._run_then_release, args=(stream, first), daemon=True)
        thread.start()
        first.reached.wait(10)
        second = Attempt(stream.resource)
        self.poll(stream, attempt=second)
        first.resume.set()
        thread.join(30)
        return first, second

    def _run_then_release(self, stream: ResourceStream, attempt: Attempt) -> None:
        try:
            self.poll(stream, attempt=attempt)
        finally:
            attempt.reached.set()  # never leave the other job waiting (e.g. A itself found the stream busy)

    def racing_jobs(self, stream: ResourceStream) -> tuple[Attempt, Attempt]:
        """Two jobs for one stream started together: at most one may work on it at any moment."""
        barrier = threading.Barrier(2)
        attempts = (Attempt(stream.resource, main_thread=False), Attempt(stream.resource, main_thread=False))

        def run(attempt: Attempt) -> None:
            barrier.wait(10)
            self.poll(stream, attempt=attempt)

        threads = [threading.Thread(target=run, args=(a,), daemon=True) for a in attempts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return attempts
