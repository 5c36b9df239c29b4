"""Poll one resource stream of one connection and publish what changed, losing nothing.

Paging is keyset over (`updated_at`, `id`) rather than Cliniko's page numbers: a page number over a list
that changes while it is walked skips the record that slides across a page boundary. Each page is
published in full before its checkpoint, and the checkpoint is a conditional write that never moves back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cliniko_connector.adapters.cliniko_http import q, sort
from cliniko_connector.adapters.eventbridge import MAX_REQUEST_BYTES, entry_size
from cliniko_connector.catalog.triggers import ResourceStream, Updated
from cliniko_connector.errors import ClinikoBadResponse, StreamBusy
from cliniko_connector.eventmodels import TriggerEventDetail
from cliniko_connector.models import (
    BusEvent,
    Connection,
    PayloadMode,
    RecordSnapshot,
    StartPoint,
    StreamCursor,
    StreamKey,
)
from cliniko_connector.observability import count, logger
from cliniko_connector.ports import ClinikoApi, EventPublisher, StreamStateStore
from cliniko_connector.timeutil import ONE_SECOND, parse_ts, to_z, utc_now
from cliniko_connector.usecases.classify import Classified, Transition, classify

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class PollResult:
    stream: str
    pages: int = 0
    records: int = 0
    duplicates: int = 0
    events: int = 0
    caught_up: bool = False
    cursor: str | None = None
    initialised: bool = False
    event_counts: dict[str, int] = field(default_factory=dict)


def initial_cursor(start: StartPoint, now: datetime) -> StreamCursor:
    origin = {"now": now, "beginning": BEGINNING}.get(start.kind) or start.timestamp or now
    return StreamCursor(position=origin, origin=origin)


@dataclass
class StreamPoller:
    """The poll use-case for one stream: used by the Lambda worker, the CLI and the local stack alike."""

    api: ClinikoApi
    state: StreamStateStore
    publisher: EventPublisher
    event_source: str
    overlap: timedelta = timedelta(seconds=120)
    page_size: int = 100
    lease_seconds: int = 900
    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    payload_mode: PayloadMode | None = None
    # Test seam: called at named step boundaries so crash tests can stop the poller anywhere.
    checkpoint_hook: Callable[[str], None] = lambda step: None

    def poll(
        self, connection: Connection, stream: ResourceStream, *, deadline: float, reconcile: bool = False
    ) -> PollResult:
        """Publish every change since the checkpoint. With `reconcile`, walk the whole stream from its origin
        instead: anything the snapshots don't already account for was missed and is published now."""
        key = StreamKey(connection_id=connection.id, resource=stream.resource)
        owner = uuid.uuid4().hex
        if not self.state.acquire_lease(key, owner, self.lease_seconds):
            raise StreamBusy(f"stream {key} is being polled by another worker")
        try:
            return self._poll_locked(connection, stream, key, deadline, reconcile)
        finally:
            self.state.release_lease(key, owner)

    def _poll_locked(
        self, connection: Connection, stream: ResourceStream, key: StreamKey, deadline: float, reconcile: bool
    ) -> PollResult:
        result = PollResult(stream=str(key))
        cursor = self.state.get_cursor(key)
        if cursor is None:
            cursor = self.state.put_cursor(key, initial_cursor(StartPoint(), self.now()), expected_version=None)
            result.initialised = True
        enabled = set(connection.triggers)
        salt = connection.hash_salt.encode()
        mode = connection.payload_mode or self.payload_mode or PayloadMode.FULL

        # A mark left by an attempt that published and then failed before its checkpoint.
        inherited, inherited_fps = cursor.inflight_until, cursor.inflight_last_second
        lower = cursor.origin if reconcile else max(cursor.position - self.overlap, cursor.origin)
        drain_after_id: str | None = None  # set while walking one crowded second by id
        while True:
            self.checkpoint_hook("before_fetch")
            page = self.api.list_page(
                f"/{stream.resource}", params=self._params(stream, lower, drain_after_id), deadline=deadline
            )
            result.pages += 1
            records = page.records
            self.checkpoint_hook("fetched")
            if not records and drain_after_id is None:
                cursor = self.state.put_cursor(
                    key,
                    cursor.model_copy(update={"last_poll_at": self.now(), "last_error": None}),
                    expected_version=cursor.version,
                )
                result.caught_up = True
                break
            classified = self._classify_page(connection, stream, key, records, cursor.origin, salt)
            if inherited is not None:
                classified = [
                    _after_interrupted_publish(stream, c, r, inherited, inherited_fps)
                    for c, r in zip(classified, records, strict=True)
                ]
            events = [
                self._bus_event(connection, stream, c.snapshot.id, t, mode, record)
                for c, record in zip(classified, records, strict=True)
                for t in c.transitions
                if t.trigger.name in enabled
            ]
            result.records += len(records)
            result.duplicates += sum(c.duplicate for c in classified)
            if events:
                page_end = max(parse_ts(str(r["updated_at"])) for r in records)
                fps = tuple(
                    c.snapshot.fingerprint[:12] for c in classified if parse_ts(c.snapshot.updated_at) == page_end
                )
                if inherited is not None and inherited > page_end:
                    mark = {"inflight_until": inherited, "inflight_last_second": inherited_fps}
                elif inherited == page_end:
                    mark = {"inflight_until": page_end, "inflight_last_second": (*inherited_fps, *fps)}
                else:
                    mark = {"inflight_until": page_end, "inflight_last_second": fps}
                cursor = self.state.put_cursor(key, cursor.model_copy(update=mark), expected_version=cursor.version)
                self.publisher.publish(events)
            self.checkpoint_hook("published")
            result.events += len(events)
            for event in events:
                result.event_counts[event.detail_type] = result.event_counts.get(event.detail_type, 0) + 1
            fresh = [c.snapshot for c in classified if not c.duplicate]
            if fresh:
                self.state.put_snapshots(key, _latest(fresh))
            self.checkpoint_hook("snapshots_saved")

            more = page.next_url is not None
            caught_up = False
            if drain_after_id is None:
                last = parse_ts(str(records[-1]["updated_at"]))
                if not more:
                    lower, caught_up = max(lower, last), True
                elif last <= lower:
                    # A whole page inside one second: walk that second by id before moving on.
                    drain_after_id = str(records[-1]["id"])
                else:
                    lower = last
            elif more:
                drain_after_id = str(records[-1]["id"])
            else:
                drain_after_id, lower = None, lower + ONE_SECOND
            cursor = self.state.put_cursor(
                key,
                cursor.model_copy(
                    update={
                        "position": max(cursor.position, lower),
                        # An inherited mark stays until the cursor is past it: a record the interrupted page
                        # held may come in a later page; this attempt's own mark ends with its checkpoint.
                        "inflight_until": inherited if inherited is not None and lower <= inherited else None,
                        "inflight_last_second": inherited_fps if inherited is not None and lower <= inherited else (),
                        "last_poll_at": self.now(),
                        "last_error": None,
                        "events_published": cursor.events_published + len(events),
                        "backfill_done": cursor.backfill_done + len(fresh),
                    }
                ),
                expected_version=cursor.version,
            )
            if events:  # hourly counters for `status`: never worth failing a poll over
                try:
                    self.state.record_events(key, int(self.now().timestamp()) // 3600 * 3600, len(events))
                except Exception:
                    logger.warning("event counter not updated", extra={"stream": str(key)})
            self.checkpoint_hook("checkpointed")
            if inherited is not None and lower > inherited:
                inherited, inherited_fps = None, ()
            if caught_up:
                result.caught_up = True
                break
            if self.monotonic() >= deadline:
                break
        result.cursor = to_z(cursor.position)
        labels = {"connection": connection.id, "resource": stream.resource}
        count("PagesFetched", result.pages, labels)
        count("RecordsPolled", result.records, labels)
        count("DuplicatesSuppressed", result.duplicates, labels)
        count("EventsPublished", result.events, labels)
        logger.info(
            "stream polled",
            extra={
                "stream": str(key),
                "pages": result.pages,
                "records": result.records,
                "events": result.events,
                "duplicates": result.duplicates,
                "caught_up": result.caught_up,
                "cursor": result.cursor,
            },
        )
        return result

    def _params(self, stream: ResourceStream, lower: datetime, after_id: str | None) -> list[tuple[str, str]]:
        params = [q("updated_at", ">=", lower)]
        params += [("q[]", f) for f in stream.include_filters]
        if after_id is None:
            params.append(sort("updated_at", "id"))
        else:
            params += [q("updated_at", "<", lower + ONE_SECOND), q("id", ">", after_id), sort("id")]
        params.append(("per_page", str(self.page_size)))
        return params

    def _classify_page(
        self,
        connection: Connection,
        stream: ResourceStream,
        key: StreamKey,
        records: list[dict[str, Any]],
        origin: datetime,
        salt: bytes,
    ) -> list[Classified]:
        for record in records:
            if not isinstance(record.get("id"), str | int) or not isinstance(record.get("updated_at"), str):
                raise ClinikoBadResponse(f"a {stream.resource} record without id or updated_at")
        known = self.state.get_snapshots(key, list(dict.fromkeys(str(r["id"]) for r in records)))
        out: list[Classified] = []
        for record in records:
            rid = str(record["id"])
            c = classify(stream, connection.id, record, known.get(rid), origin, salt)
            if not c.duplicate:
                known[rid] = c.snapshot  # the same record twice in a page: the second compares to the first
            out.append(c)
        return out

    def _bus_event(
        self,
        connection: Connection,
        stream: ResourceStream,
        record_id: str,
        transition: Any,
        mode: PayloadMode,
        record: dict[str, Any],
    ) -> BusEvent:
        detail = TriggerEventDetail(
            trigger=transition.trigger.name,
            connection_id=connection.id,
            resource=stream.resource,
            id=record_id,
            occurred_at=transition.occurred_at,
            event_key=transition.event_key,
            changed_fields=transition.changed_fields,
            previous=transition.previous,
            payload_mode=mode,
            data=record if mode is PayloadMode.FULL else None,
        )
        event = BusEvent(
            source=self.event_source,
            detail_type=transition.trigger.detail_type,
            detail=detail.model_dump(mode="json"),
        )
        if entry_size(event) > MAX_REQUEST_BYTES:
            # Too big for one entry: send it without the record rather than lose it.
            detail = detail.model_copy(update={"data": None, "truncated": True})
            event = event.model_copy(update={"detail": detail.model_dump(mode="json")})
        return event


def _after_interrupted_publish(
    stream: ResourceStream,
    c: Classified,
    record: dict[str, Any],
    inflight_until: datetime,
    last_second: tuple[str, ...],
) -> Classified:
    """A record seen for the first time, but which an interrupted attempt may already have published as
    `created` at an older version (created by then, changed since): re-sending `created` under its one key
    would be dropped by a deduplicating consumer, so the change since is published as an update too."""
    if c.duplicate or not any(t.trigger.name.endswith(".created") for t in c.transitions):
        return c
    updated_at = parse_ts(str(record["updated_at"]))
    if parse_ts(str(record["created_at"])) > inflight_until or updated_at < inflight_until:
        return c
    if updated_at == inflight_until and c.snapshot.fingerprint[:12] in last_second:
        return c  # the very version that was published
    updated = next((t for t in stream.triggers if isinstance(t.transition, Updated)), None)
    created = next(t for t in c.transitions if t.trigger.name.endswith(".created"))
    if updated is None or any(t.trigger is updated for t in c.transitions):
        return c
    base = created.event_key.removesuffix(f":{created.trigger.name}")
    version = f"{c.snapshot.updated_at}:{c.snapshot.fingerprint[:12]}"
    extra = Transition(updated, c.snapshot.updated_at, f"{base}:{updated.name}:{version}")
    return Classified([*c.transitions, extra], c.snapshot, duplicate=False)


def _latest(snapshots: list[RecordSnapshot]) -> list[RecordSnapshot]:
    by_id: dict[str, RecordSnapshot] = {}
    for s in snapshots:
        by_id[s.id] = s
    return list(by_id.values())
