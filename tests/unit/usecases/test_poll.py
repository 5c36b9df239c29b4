"""The poller: every change published once, the cursor never past what was published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cliniko_connector.adapters.memory import InMemoryStreamStateStore, RecordingPublisher
from cliniko_connector.catalog.triggers import STREAMS_BY_RESOURCE, TRIGGERS
from cliniko_connector.errors import PublishError, StreamBusy
from cliniko_connector.models import Connection, PayloadMode, StreamCursor, StreamKey
from cliniko_connector.usecases.poll import StreamPoller
from tests.leases import take_lease
from tests.unit.fakes import FakeCliniko

PATIENTS = STREAMS_BY_RESOURCE["patients"]
KEY = StreamKey(connection_id="clinic", resource="patients")
ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


class Crash(Exception):
    pass


def connection(**changes: Any) -> Connection:
    base = dict(id="clinic", name="Clinic", secret_id="s", shard="au1", triggers=tuple(TRIGGERS), hash_salt="salt")
    base.update(changes)
    return Connection.model_validate(base)


def ts(seconds: int) -> str:
    return (ORIGIN + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def patient(n: int, updated: int, created: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(1_000_000_000_000_000_000 + n),
        "first_name": f"P{n}",
        "last_name": "Test",
        "archived_at": None,
        "created_at": ts(updated if created is None else created),
        "updated_at": ts(updated),
        **extra,
    }


@pytest.fixture
def cliniko() -> FakeCliniko:
    return FakeCliniko()


@pytest.fixture
def state() -> InMemoryStreamStateStore:
    store = InMemoryStreamStateStore()
    store.put_cursor(KEY, StreamCursor(position=ORIGIN, origin=ORIGIN), expected_version=None)
    return store


@pytest.fixture
def bus() -> RecordingPublisher:
    return RecordingPublisher()


def poller(cliniko: FakeCliniko, state: InMemoryStreamStateStore, bus: Any, **kw: Any) -> StreamPoller:
    return StreamPoller(api=cliniko, state=state, publisher=bus, event_source="cliniko", now=lambda: NOW, **kw)


def keys(bus: RecordingPublisher) -> list[str]:
    return [e.detail["event_key"] for e in bus.events]


def test_an_idle_poll_costs_one_request_and_publishes_nothing(cliniko, state, bus) -> None:
    result = poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert len(cliniko.requests) == 1
    assert bus.events == []
    assert result.caught_up


def test_every_record_across_pages_is_published_once_and_the_cursor_lands_on_the_last(cliniko, state, bus) -> None:
    for n in range(250):
        cliniko.put("patients", patient(n, updated=10 + n))
    result = poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert len(set(keys(bus))) == 250 == len(bus.events)
    assert {e.detail_type for e in bus.events} == {"Patient Created"}
    assert state.get_cursor(KEY).position == ORIGIN + timedelta(seconds=259)  # type: ignore[union-attr]
    assert result.pages == 3  # keyset pages overlap by the one record sharing the boundary second


def test_a_second_poll_sees_only_what_changed_since(cliniko, state, bus) -> None:
    for n in range(5):
        cliniko.put("patients", patient(n, updated=10 + n))
    p = poller(cliniko, state, bus)
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    cliniko.put("patients", patient(2, updated=100, created=12, first_name="Renamed"))
    bus.events.clear()
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    assert [(e.detail["trigger"], e.detail["changed_fields"]) for e in bus.events] == [
        ("patient.updated", ["first_name"])
    ]


def test_the_cursor_stays_when_the_bus_refuses_an_event_and_the_retry_sends_the_same_keys(cliniko, state, bus) -> None:
    for n in range(30):
        cliniko.put("patients", patient(n, updated=10 + n))
    bus.fail_permanently(True)
    with pytest.raises(PublishError):
        poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert state.get_cursor(KEY).position == ORIGIN  # type: ignore[union-attr]
    assert bus.events == []
    bus.fail_permanently(False)
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert len(bus.events) == 30


def test_a_record_moving_while_the_list_is_walked_is_not_lost(cliniko, state, bus) -> None:
    # Given 300 records, and record 5 edited while the poller is between its first and second page
    for n in range(300):
        cliniko.put("patients", patient(n, updated=10 + n))

    def edit_between_pages(request_number: int) -> None:
        if request_number == 1:
            cliniko.put("patients", patient(5, updated=1000, created=15, first_name="Edited"))

    cliniko.before_request = edit_between_pages
    # When one poll walks the list
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    # Then every record was seen (page numbers would have skipped the record that slid across the boundary)
    created = {e.detail["id"] for e in bus.events if e.detail["trigger"] == "patient.created"}
    assert len(created) == 300
    assert any(e.detail["trigger"] == "patient.updated" and e.detail["id"].endswith("005") for e in bus.events)


def test_a_crowded_second_larger_than_a_page_is_walked_by_id(cliniko, state, bus) -> None:
    for n in range(230):
        cliniko.put("patients", patient(n, updated=50))
    cliniko.put("patients", patient(999, updated=51))
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert len({e.detail["id"] for e in bus.events}) == 231
    assert len(bus.events) == 231


def test_a_record_updated_twice_in_one_second_at_a_page_boundary_is_not_lost(cliniko, state, bus) -> None:
    # Given the 100th record, last of the first page, edited twice within the same second
    for n in range(100):
        cliniko.put("patients", patient(n, updated=10 + n))
    p = poller(cliniko, state, bus)
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    cliniko.put("patients", patient(99, updated=200, created=109, first_name="First"))
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    cliniko.put("patients", patient(99, updated=200, created=109, first_name="Second"))
    # When the next poll runs
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    # Then both edits were published, with different keys
    updates = [e.detail for e in bus.events if e.detail["trigger"] == "patient.updated"]
    assert len(updates) == 2
    assert updates[0]["event_key"] != updates[1]["event_key"]


@pytest.mark.parametrize("step", ["fetched", "pending_saved", "published", "settled", "checkpointed"])
def test_a_crash_at_any_step_loses_nothing_and_only_repeats_keys_already_sent(cliniko, state, bus, step) -> None:
    for n in range(150):
        cliniko.put("patients", patient(n, updated=10 + n))
    crashed = []

    def crash_once(at: str) -> None:
        if at == step and not crashed:
            crashed.append(at)
            raise Crash(at)

    with pytest.raises(Crash):
        poller(cliniko, state, bus, checkpoint_hook=crash_once).poll(connection(), PATIENTS, deadline=float("inf"))
    sent_before = set(keys(bus))
    poller(cliniko, state, bus, lease_seconds=900).poll(connection(), PATIENTS, deadline=float("inf"))
    all_keys = keys(bus)
    assert len(set(all_keys)) == 150
    repeated = [k for k in all_keys if all_keys.count(k) > 1]
    assert set(repeated) <= sent_before


def test_a_stream_is_never_polled_by_two_workers_at_once(cliniko, state, bus) -> None:
    assert take_lease(state, KEY, "other-worker", 60)
    with pytest.raises(StreamBusy):
        poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))


def test_a_backlog_beyond_the_deadline_continues_from_the_checkpoint(cliniko, state, bus) -> None:
    for n in range(500):
        cliniko.put("patients", patient(n, updated=10 + n))
    clock = iter(range(10_000))
    first = poller(cliniko, state, bus, monotonic=lambda: next(clock)).poll(connection(), PATIENTS, deadline=2)
    assert not first.caught_up
    assert 0 < len(bus.events) < 500
    second = poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert second.caught_up
    assert len(set(keys(bus))) == 500


def test_disabled_triggers_publish_nothing_but_the_stream_keeps_track(cliniko, state, bus) -> None:
    cliniko.put("patients", patient(1, updated=10))
    poller(cliniko, state, bus).poll(connection(triggers=("patient.updated",)), PATIENTS, deadline=float("inf"))
    assert bus.events == []
    cliniko.put("patients", patient(1, updated=20, created=10, first_name="Changed"))
    poller(cliniko, state, bus).poll(connection(triggers=("patient.updated",)), PATIENTS, deadline=float("inf"))
    assert [e.detail["changed_fields"] for e in bus.events] == [["first_name"]]


def test_minimal_mode_sends_no_record_data(cliniko, state, bus) -> None:
    cliniko.put("patients", patient(1, updated=10))
    poller(cliniko, state, bus).poll(connection(payload_mode=PayloadMode.MINIMAL), PATIENTS, deadline=float("inf"))
    (event,) = bus.events
    assert event.detail["data"] is None
    assert "P1" not in str(event.detail)


def test_a_record_too_large_for_one_event_is_sent_without_its_data_not_dropped(cliniko, state, bus) -> None:
    cliniko.put("patients", patient(1, updated=10, notes="x" * 300_000))
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    (event,) = bus.events
    assert event.detail["truncated"] is True
    assert event.detail["data"] is None
    assert event.detail["id"] == "1000000000000000001"


def test_every_published_event_matches_the_schema_of_its_detail_type(cliniko, state, bus) -> None:
    from tests.unit.contract import assert_matches_schema

    for n in range(3):
        cliniko.put("patients", patient(n, updated=10 + n))
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    cliniko.put("patients", patient(1, updated=50, created=11, archived_at=ts(50)))
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert {e.detail_type for e in bus.events} == {"Patient Created", "Patient Updated", "Patient Archived"}
    for event in bus.events:
        assert_matches_schema(event.detail_type, event.detail)


def stop_at(step: str) -> Any:
    def hook(at: str) -> None:
        if at == step:
            raise Crash(at)

    return hook


def start_appointments_stream(state: InMemoryStreamStateStore) -> StreamKey:
    key = StreamKey(connection_id="clinic", resource="individual_appointments")
    state.put_cursor(key, StreamCursor(position=ORIGIN, origin=ORIGIN), expected_version=None)
    return key


def deduplicated(bus: RecordingPublisher) -> list[dict[str, Any]]:
    """What a consumer that drops repeated `event_key`s (as docs/events.md tells it to) receives."""
    seen: set[str] = set()
    kept = []
    for event in bus.events:
        if event.detail["event_key"] not in seen:
            seen.add(event.detail["event_key"])
            kept.append(event.detail)
    return kept


@pytest.mark.parametrize("step", ["pending_saved", "published"])
def test_a_record_changed_after_an_interrupted_publish_of_its_creation_also_gets_an_update(
    cliniko, state, bus, step
) -> None:
    # Given a poll that stopped just before or just after publishing a record's `created`
    cliniko.put("patients", patient(1, updated=10))
    with pytest.raises(Crash):
        poller(cliniko, state, bus, checkpoint_hook=stop_at(step)).poll(connection(), PATIENTS, deadline=float("inf"))
    # When the record changes before the retry
    cliniko.put("patients", patient(1, updated=20, created=10, first_name="Renamed"))
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    # Then a deduplicating consumer gets `created` once, then the change since as an update naming its field
    got = deduplicated(bus)
    assert [(d["trigger"], d["changed_fields"]) for d in got] == [
        ("patient.created", None),
        ("patient.updated", ["first_name"]),
    ]
    assert got[-1]["data"]["first_name"] == "Renamed"
    # And the stream keeps the latest version as settled, nothing pending
    assert state.records[KEY]["1000000000000000001"].pending == ()


def test_a_reschedule_after_an_interrupted_publish_still_arrives_as_rescheduled_with_the_published_times(
    cliniko, state, bus
) -> None:
    appointments = STREAMS_BY_RESOURCE["individual_appointments"]
    booked = {
        "id": "7",
        "starts_at": "2026-03-01T09:00:00Z",
        "ends_at": "2026-03-01T09:30:00Z",
        "practitioner": {"links": {"self": "https://api.au1.cliniko.com/v1/practitioners/77"}},
        "archived_at": None,
        "cancelled_at": None,
        "created_at": ts(10),
        "updated_at": ts(10),
    }
    cliniko.put("individual_appointments", booked)
    start_appointments_stream(state)
    with pytest.raises(Crash):
        poller(cliniko, state, bus, checkpoint_hook=stop_at("published")).poll(
            connection(), appointments, deadline=float("inf")
        )
    cliniko.put("individual_appointments", booked | {"starts_at": "2026-03-02T09:00:00Z", "updated_at": ts(20)})
    poller(cliniko, state, bus).poll(connection(), appointments, deadline=float("inf"))
    moves = [d for d in deduplicated(bus) if d["trigger"] == "individual_appointment.rescheduled"]
    assert [m["previous"]["starts_at"] for m in moves] == ["2026-03-01T09:00:00Z"]
    assert moves[0]["data"]["starts_at"] == "2026-03-02T09:00:00Z"


def test_changes_across_several_interrupted_polls_each_reach_a_deduplicating_consumer_once(cliniko, state, bus) -> None:
    # Given three polls in a row stopped after publishing, the patient renamed before each retry
    for n, step in enumerate(["published", "settled", "published"]):
        cliniko.put("patients", patient(1, updated=10 + n, created=10, first_name=f"Name{n}"))
        with pytest.raises(Crash):
            poller(cliniko, state, bus, checkpoint_hook=stop_at(step)).poll(
                connection(), PATIENTS, deadline=float("inf")
            )
    cliniko.put("patients", patient(1, updated=20, created=10, first_name="Final"))
    # When a poll finally completes
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    # Then the consumer got `created` and one update per version it had not yet heard of, the last one final
    got = deduplicated(bus)
    assert [d["trigger"] for d in got] == ["patient.created", "patient.updated", "patient.updated", "patient.updated"]
    assert got[-1]["data"]["first_name"] == "Final"
    # And a further poll sends nothing
    before = len(bus.events)
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert len(bus.events) == before


def test_while_the_bus_refuses_events_each_new_version_is_kept_pending_up_to_a_bound(cliniko, state) -> None:
    from cliniko_connector.usecases.classify import MAX_PENDING

    class RefusingBus:
        def publish(self, events: Any) -> None:
            raise PublishError("bus down", failed=len(events))

    for n in range(MAX_PENDING + 3):
        cliniko.put("patients", patient(1, updated=10 + n, created=10, first_name=f"Name{n}"))
        with pytest.raises(PublishError):
            poller(cliniko, state, RefusingBus()).poll(connection(), PATIENTS, deadline=float("inf"))
    kept = state.records[KEY]["1000000000000000001"]
    assert kept.settled is None
    assert len(kept.pending) == MAX_PENDING
    assert kept.pending[-1].updated_at == ts(10 + MAX_PENDING + 2)


def test_without_an_interruption_a_first_sight_is_only_created(cliniko, state, bus) -> None:
    cliniko.put("patients", patient(1, updated=20, created=10))
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert [e.detail["trigger"] for e in bus.events] == ["patient.created"]


# -- reconciliation ----------------------------------------------------------------------------------------


def polled_past(cliniko: FakeCliniko, state: InMemoryStreamStateStore, bus: RecordingPublisher) -> None:
    """The stream has moved well past the overlap window: a later record, polled."""
    cliniko.put("patients", patient(999, updated=10_000))
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    bus.events.clear()


def test_reconciliation_finds_a_change_that_left_updated_at_where_it_was(cliniko, state, bus) -> None:
    # Given a patient polled long ago, then changed without its updated_at moving
    cliniko.put("patients", patient(1, updated=10))
    polled_past(cliniko, state, bus)
    cliniko.put("patients", patient(1, updated=10, first_name="Quietly renamed"))
    # When a regular poll runs, it can't see it; when the stream reconciles, it does
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert bus.events == []
    result = poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"), reconcile=True)
    # Then it is published as an update naming the field, once
    assert [(e.detail["trigger"], e.detail["changed_fields"]) for e in bus.events] == [
        ("patient.updated", ["first_name"])
    ]
    assert not result.reconciling
    cursor = state.get_cursor(KEY)
    assert cursor is not None and cursor.reconcile_from is None and cursor.reconciled_at == NOW
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"), reconcile=True)
    assert len(bus.events) == 1


def test_reconciliation_publishes_a_record_that_became_visible_after_the_overlap_window(cliniko, state, bus) -> None:
    polled_past(cliniko, state, bus)
    cliniko.put("patients", patient(2, updated=20))  # written at 20 s, visible only now
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"), reconcile=True)
    assert [(e.detail["trigger"], e.detail["id"]) for e in bus.events] == [("patient.created", "1000000000000000002")]


def test_a_reconciliation_too_long_for_one_invocation_goes_on_where_it_stopped(cliniko, state, bus) -> None:
    # Given a stream of 500 records, all published
    for n in range(500):
        cliniko.put("patients", patient(n, updated=10 + n))
    polled_past(cliniko, state, bus)
    cliniko.requests.clear()
    # When a reconciliation runs out of time after three pages
    clock = iter(range(10_000))
    first = poller(cliniko, state, bus, monotonic=lambda: next(clock)).poll(
        connection(), PATIENTS, deadline=2, reconcile=True
    )
    assert first.reconciling and first.pages == 3
    resume_at = state.get_cursor(KEY).reconcile_from  # type: ignore[union-attr]
    # Then a regular poll meanwhile leaves the walk where it was
    regular = poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert regular.reconciling and state.get_cursor(KEY).reconcile_from == resume_at  # type: ignore[union-attr]
    # And the next reconciliation goes on from there: the whole walk costs what one walk would
    second = poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"), reconcile=True)
    assert not second.reconciling
    assert first.pages + second.pages <= 7  # 501 records, 100 a page, a boundary record re-read per page
    assert bus.events == []


def test_a_reconciliation_stopped_inside_a_crowded_second_goes_on_after_the_last_id_it_read(
    cliniko, state, bus
) -> None:
    # Given 350 records written in the same second (a bulk import), all published
    for n in range(350):
        cliniko.put("patients", patient(n, updated=10))
    polled_past(cliniko, state, bus)
    cliniko.requests.clear()
    # When reconciliations each get time for one page only
    walks = 0
    while True:
        walks += 1
        result = poller(cliniko, state, bus, monotonic=lambda: 1.0).poll(
            connection(), PATIENTS, deadline=0, reconcile=True
        )
        if not result.reconciling or walks > 10:
            break
    # Then they walk the second by id to its end rather than starting it over each time
    assert not result.reconciling
    # The second's pages by id, its first by time and the one confirming it (each walk had time for one page
    # only), the rest of the list
    assert len(cliniko.requests) <= 7
    assert bus.events == []


# -- a publish that fails in part ---------------------------------------------------------------------------


def test_after_a_publish_that_failed_in_part_the_retry_sends_only_what_the_bus_did_not_accept(
    cliniko, state, bus
) -> None:
    # Given 15 new patients, and a bus that rejects the first entry for good (the second batch is never sent)
    for n in range(15):
        cliniko.put("patients", patient(n, updated=10 + n))
    bus.fail_next(1, "MalformedDetail")
    with pytest.raises(PublishError):
        poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    assert len(bus.events) == 9
    # When the poll runs again
    poller(cliniko, state, bus).poll(connection(), PATIENTS, deadline=float("inf"))
    # Then the six that did not go out are sent, and nothing twice
    assert len(bus.events) == 15 == len(set(keys(bus)))


def test_of_one_record_s_events_only_the_rejected_one_is_sent_again(cliniko, state, bus) -> None:
    appointments = STREAMS_BY_RESOURCE["individual_appointments"]
    key = start_appointments_stream(state)
    booked = {"id": "7", "cancelled_at": None, "archived_at": None, "created_at": ts(10), "updated_at": ts(10)}
    cliniko.put("individual_appointments", booked)
    poller(cliniko, state, bus).poll(connection(), appointments, deadline=float("inf"))
    # Given a cancellation, whose `updated` the bus rejects and whose `cancelled` it accepts
    cliniko.put("individual_appointments", booked | {"cancelled_at": ts(20), "updated_at": ts(20)})
    bus.fail_next(1, "MalformedDetail")
    with pytest.raises(PublishError):
        poller(cliniko, state, bus).poll(connection(), appointments, deadline=float("inf"))
    assert [e.detail["trigger"] for e in bus.events[1:]] == ["individual_appointment.cancelled"]
    # When the poll runs again, Then only the `updated` goes out
    poller(cliniko, state, bus).poll(connection(), appointments, deadline=float("inf"))
    assert [e.detail["trigger"] for e in bus.events[2:]] == ["individual_appointment.updated"]
    assert state.records[key]["7"].pending == () and state.records[key]["7"].sent == ()


# -- an idle poll's heartbeat -------------------------------------------------------------------------

HEARTBEAT = timedelta(minutes=5)


class Clocked:
    """The poller's `now`, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def quiet_poller(cliniko: FakeCliniko, state: InMemoryStreamStateStore, bus: Any, clock: Clocked) -> StreamPoller:
    return StreamPoller(
        api=cliniko, state=state, publisher=bus, event_source="cliniko", now=clock, idle_heartbeat=HEARTBEAT
    )


def test_an_idle_poll_leaves_the_cursor_unwritten_until_the_heartbeat_is_due(cliniko, state, bus) -> None:
    clock = Clocked(NOW)
    p = quiet_poller(cliniko, state, bus, clock)
    p.poll(connection(), PATIENTS, deadline=float("inf"))  # never caught up before: written
    written = state.get_cursor(KEY)
    assert written is not None and written.caught_up_at == NOW

    clock.at = NOW + HEARTBEAT - timedelta(seconds=1)
    assert p.poll(connection(), PATIENTS, deadline=float("inf")).caught_up
    assert state.get_cursor(KEY) == written  # the same version: nothing written

    clock.at = NOW + HEARTBEAT
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    beat = state.get_cursor(KEY)
    assert beat is not None and beat.version == written.version + 1 and beat.caught_up_at == NOW + HEARTBEAT
    assert len(cliniko.requests) == 3  # every poll still asks Cliniko


def test_an_idle_poll_still_clears_an_error_on_the_cursor(cliniko, state, bus) -> None:
    clock = Clocked(NOW)
    p = quiet_poller(cliniko, state, bus, clock)
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    cursor = state.get_cursor(KEY)
    assert cursor is not None
    error = {"last_error": "ClinikoServerError: 503"}
    state.put_cursor(KEY, cursor.model_copy(update=error), expected_version=cursor.version)

    clock.at = NOW + timedelta(minutes=1)
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    cleared = state.get_cursor(KEY)
    assert cleared is not None and cleared.last_error is None and cleared.caught_up_at == clock.at


def test_a_change_after_quiet_polls_is_published_behind_a_conditional_write(cliniko, state, bus) -> None:
    clock = Clocked(NOW)
    p = quiet_poller(cliniko, state, bus, clock)
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    stale = state.get_cursor(KEY)  # what a worker read before the quiet polls below
    clock.at = NOW + timedelta(minutes=1)
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    cliniko.put("patients", patient(1, updated=int((NOW - ORIGIN).total_seconds()) + 90))

    # Another poller moved the stream on meanwhile: the stale reader's first write fails before it publishes.
    assert stale is not None
    state.put_cursor(KEY, stale.model_copy(update={"last_poll_at": clock.at}), expected_version=stale.version)
    with pytest.raises(StreamBusy):
        p.poll(connection(), PATIENTS, deadline=float("inf"), cursor=stale)
    assert bus.events == []

    result = p.poll(connection(), PATIENTS, deadline=float("inf"))
    assert result.events == 1 and len(bus.events) == 1
    after = state.get_cursor(KEY)
    assert after is not None and after.events_published == 1 and after.lease_owner is None


def test_an_idle_poll_is_busy_while_another_poller_holds_the_lease(cliniko, state, bus) -> None:
    clock = Clocked(NOW)
    p = quiet_poller(cliniko, state, bus, clock)
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    assert take_lease(state, KEY, "another-worker", 600)

    with pytest.raises(StreamBusy):
        p.poll(connection(), PATIENTS, deadline=float("inf"))


def test_the_overlaps_re_read_of_records_already_seen_leaves_the_cursor_unwritten(cliniko, state, bus) -> None:
    clock = Clocked(NOW)
    p = quiet_poller(cliniko, state, bus, clock)
    cliniko.put("patients", patient(1, updated=10))
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    written = state.get_cursor(KEY)
    assert written is not None and written.events_published == 1

    clock.at = NOW + timedelta(minutes=1)
    again = p.poll(connection(), PATIENTS, deadline=float("inf"))
    assert again.caught_up and again.records == 1 and again.events == 0  # the overlap read it again
    assert state.get_cursor(KEY) == written and len(bus.events) == 1

    cliniko.put("patients", patient(2, updated=20))  # a change is still published, and the cursor moves
    clock.at = NOW + timedelta(minutes=2)
    assert p.poll(connection(), PATIENTS, deadline=float("inf")).events == 1
    moved = state.get_cursor(KEY)
    assert moved is not None and moved.position == ORIGIN + timedelta(seconds=20) and moved.events_published == 2


class SnapshotReads(InMemoryStreamStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_records(self, stream: StreamKey, ids: Any) -> Any:
        self.reads += 1
        return super().get_records(stream, ids)


@pytest.fixture
def counted() -> SnapshotReads:
    store = SnapshotReads()
    store.put_cursor(KEY, StreamCursor(position=ORIGIN, origin=ORIGIN), expected_version=None)
    return store


def test_the_same_page_read_again_is_known_without_reading_its_snapshots(cliniko, counted, bus) -> None:
    clock = Clocked(NOW)
    p = quiet_poller(cliniko, counted, bus, clock)
    cliniko.put("patients", patient(1, updated=10))
    cliniko.put("patients", patient(2, updated=12))
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    assert counted.reads == 1 and len(bus.events) == 2

    for minute in (1, 2):
        clock.at = NOW + timedelta(minutes=minute)
        again = p.poll(connection(), PATIENTS, deadline=float("inf"))
        assert (again.records, again.duplicates, again.events) == (2, 2, 0)
    # The poll that published the page kept its digest with its checkpoint: no re-read reads a snapshot.
    assert counted.reads == 1 and len(bus.events) == 2


def test_a_second_edit_in_the_same_second_is_not_taken_for_the_page_already_seen(cliniko, counted, bus) -> None:
    clock = Clocked(NOW)
    p = quiet_poller(cliniko, counted, bus, clock)
    cliniko.put("patients", patient(1, updated=10))
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    clock.at = NOW + timedelta(minutes=1)
    p.poll(connection(), PATIENTS, deadline=float("inf"))  # the page's digest is on the cursor now

    cliniko.put("patients", patient(1, updated=10, first_name="Renamed"))  # same id, same second
    clock.at = NOW + timedelta(minutes=2)
    result = p.poll(connection(), PATIENTS, deadline=float("inf"))

    assert result.events == 1
    assert [(e.detail["trigger"], e.detail["changed_fields"]) for e in bus.events[1:]] == [
        ("patient.updated", ["first_name"])
    ]


def test_a_record_that_shows_up_late_in_the_overlap_is_published(cliniko, counted, bus) -> None:
    clock = Clocked(NOW)
    p = quiet_poller(cliniko, counted, bus, clock)
    cliniko.put("patients", patient(1, updated=100))
    p.poll(connection(), PATIENTS, deadline=float("inf"))
    clock.at = NOW + timedelta(minutes=1)
    p.poll(connection(), PATIENTS, deadline=float("inf"))

    cliniko.put("patients", patient(2, updated=90))  # older than the cursor, inside the overlap
    clock.at = NOW + timedelta(minutes=2)
    assert p.poll(connection(), PATIENTS, deadline=float("inf")).events == 1
    assert len(bus.events) == 2
