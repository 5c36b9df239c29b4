"""Behaviour every implementation of a port must show: each test runs against the AWS adapter (on moto)
and against its in-memory fake, so the fakes used by use-case tests cannot drift from production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cliniko_connector.errors import (
    ConfigurationError,
    ConnectionNotFound,
    CursorConflict,
    PublishError,
    RateBudgetExhausted,
)
from cliniko_connector.models import (
    BusEvent,
    Connection,
    ConnectionStatus,
    PayloadMode,
    RecordSnapshot,
    RecordState,
    StreamCursor,
    StreamKey,
)
from tests.leases import release_lease, take_lease
from tests.unit.adapters.adapter_support import (
    WINDOW_ALIGNED_EPOCH,
    FakeClock,
    PublisherHarness,
    RateBudgetFactory,
    event_of_size,
    small_event,
)

STREAM = StreamKey(connection_id="acme", resource="patients")
OTHER_STREAM = StreamKey(connection_id="acme", resource="appointments")
T0 = datetime(2026, 1, 5, 9, 30, 0, tzinfo=UTC)


def cursor_at(position: datetime, **kw: Any) -> StreamCursor:
    return StreamCursor(position=position, origin=T0, **kw)


def snapshot(record_id: str, **kw: Any) -> RecordSnapshot:
    fields: dict[str, Any] = {
        "updated_at": "2026-01-05T09:30:00Z",
        "fingerprint": f"fp-{record_id}",
        "field_hashes": {"first_name": "h1", "email": "h2"},
        "watched": {"archived_at": None, "did_not_arrive": False, "patient_arrived": 1, "status": "booked"},
    }
    fields.update(kw)
    return RecordSnapshot(id=record_id, **fields)


def record(record_id: str, **kw: Any) -> RecordState:
    return RecordState(id=record_id, settled=snapshot(record_id, **kw))


# -- StreamStateStore: cursor ------------------------------------------------------------------------


def test_cursor_is_absent_until_first_written(state_store: Any) -> None:
    assert state_store.get_cursor(STREAM) is None


def test_creating_a_cursor_gives_version_1_and_round_trips_every_field(state_store: Any) -> None:
    cursor = cursor_at(
        T0 + timedelta(minutes=5),
        last_poll_at=T0 + timedelta(minutes=6),
        last_error="ClinikoServerError: GET /patients answered 502",
        events_published=42,
        backfill_total=1000,
        backfill_done=250,
        reconcile_from=T0 + timedelta(minutes=1),
        reconcile_after_id="1000000000000000042",
        reconciled_at=T0 + timedelta(minutes=2),
    )

    written = state_store.put_cursor(STREAM, cursor, expected_version=None)

    assert written == cursor.model_copy(update={"version": 1})
    assert state_store.get_cursor(STREAM) == written


def test_creating_a_cursor_that_already_exists_conflicts(state_store: Any) -> None:
    # Given a cursor someone else created
    state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None)
    # When another worker also tries to create it, Then it loses
    with pytest.raises(CursorConflict):
        state_store.put_cursor(STREAM, cursor_at(T0 + timedelta(hours=1)), expected_version=None)
    assert state_store.get_cursor(STREAM).position == T0


def test_updating_with_the_read_version_bumps_it(state_store: Any) -> None:
    v1 = state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None)

    v2 = state_store.put_cursor(STREAM, cursor_at(T0 + timedelta(minutes=1)), expected_version=v1.version)

    assert v2.version == 2
    assert state_store.get_cursor(STREAM) == v2


def test_updating_with_a_stale_version_conflicts_and_keeps_the_stored_cursor(state_store: Any) -> None:
    # Given worker A and worker B both read version 1, and A wrote version 2
    state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None)
    a = state_store.put_cursor(STREAM, cursor_at(T0 + timedelta(minutes=1)), expected_version=1)
    # When B writes with the version it read, Then it conflicts and A's cursor stays
    with pytest.raises(CursorConflict) as raised:
        state_store.put_cursor(STREAM, cursor_at(T0 + timedelta(minutes=2)), expected_version=1)
    assert state_store.get_cursor(STREAM) == a
    assert "patients" in str(raised.value)


def test_updating_a_cursor_that_does_not_exist_conflicts(state_store: Any) -> None:
    with pytest.raises(CursorConflict):
        state_store.put_cursor(STREAM, cursor_at(T0), expected_version=3)
    assert state_store.get_cursor(STREAM) is None


def test_cursor_position_never_moves_backwards(state_store: Any) -> None:
    v1 = state_store.put_cursor(STREAM, cursor_at(T0 + timedelta(minutes=10)), expected_version=None)

    with pytest.raises(CursorConflict):
        state_store.put_cursor(STREAM, cursor_at(T0 + timedelta(minutes=9, seconds=59)), expected_version=1)

    assert state_store.get_cursor(STREAM) == v1


def test_cursor_may_stay_at_the_same_position(state_store: Any) -> None:
    # A poll that found nothing new still records its bookkeeping.
    state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None)

    written = state_store.put_cursor(STREAM, cursor_at(T0, events_published=0, last_error="x"), expected_version=1)

    assert written.version == 2
    assert state_store.get_cursor(STREAM).last_error == "x"


def test_cursor_positions_compare_in_utc_whatever_the_offset_given(state_store: Any) -> None:
    state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None)  # 09:30Z

    # 10:00+02:00 reads later on its own clock but is 08:00Z: earlier, so refused
    with pytest.raises(CursorConflict):
        state_store.put_cursor(
            STREAM, cursor_at(datetime.fromisoformat("2026-01-05T10:00:00+02:00")), expected_version=1
        )
    # 11:00+01:00 is 10:00Z: later, so accepted and stored in UTC
    written = state_store.put_cursor(
        STREAM, cursor_at(datetime.fromisoformat("2026-01-05T11:00:00+01:00")), expected_version=1
    )
    assert written.position == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert state_store.get_cursor(STREAM) == written


def test_cursor_timestamps_are_kept_at_second_precision(state_store: Any) -> None:
    written = state_store.put_cursor(STREAM, cursor_at(T0 + timedelta(microseconds=900_000)), expected_version=None)

    assert written.position == T0
    assert state_store.get_cursor(STREAM) == written


def test_streams_have_independent_cursors(state_store: Any) -> None:
    state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None)

    assert state_store.get_cursor(OTHER_STREAM) is None
    assert state_store.put_cursor(OTHER_STREAM, cursor_at(T0), expected_version=None).version == 1


# -- StreamStateStore: lease -------------------------------------------------------------------------


def test_lease_refuses_a_second_owner_until_it_expires(state_store: Any, clock: FakeClock) -> None:
    assert take_lease(state_store, STREAM, "worker-a", 60) is True

    assert take_lease(state_store, STREAM, "worker-b", 60) is False
    clock.advance(59)
    assert take_lease(state_store, STREAM, "worker-b", 60) is False
    clock.advance(2)
    assert take_lease(state_store, STREAM, "worker-b", 60) is True
    assert take_lease(state_store, STREAM, "worker-a", 60) is False


def test_lease_owner_can_renew_it(state_store: Any, clock: FakeClock) -> None:
    take_lease(state_store, STREAM, "worker-a", 60)
    clock.advance(50)

    assert take_lease(state_store, STREAM, "worker-a", 60) is True
    clock.advance(50)  # past the first expiry, within the renewed one
    assert take_lease(state_store, STREAM, "worker-b", 60) is False


def test_releasing_a_lease_lets_another_owner_take_it(state_store: Any) -> None:
    take_lease(state_store, STREAM, "worker-a", 600)

    release_lease(state_store, STREAM, "worker-a")

    assert take_lease(state_store, STREAM, "worker-b", 600) is True


def test_only_the_owner_can_release_a_lease(state_store: Any) -> None:
    take_lease(state_store, STREAM, "worker-a", 600)

    release_lease(state_store, STREAM, "worker-b")
    release_lease(state_store, OTHER_STREAM, "worker-a")  # nothing held there: no error

    assert take_lease(state_store, STREAM, "worker-b", 600) is False


def test_leases_are_per_stream(state_store: Any) -> None:
    assert take_lease(state_store, STREAM, "worker-a", 600) is True
    assert take_lease(state_store, OTHER_STREAM, "worker-b", 600) is True


# -- StreamStateStore: snapshots ---------------------------------------------------------------------


def test_snapshots_round_trip_and_unknown_ids_are_absent(state_store: Any) -> None:
    stored = [record("1"), record("2", field_hashes={}, watched={})]
    state_store.put_records(STREAM, stored)

    found = state_store.get_records(STREAM, ["1", "2", "3"])

    assert found == {"1": stored[0], "2": stored[1]}


def test_pending_versions_round_trip_in_order_with_or_without_a_settled_one(state_store: Any) -> None:
    versions = tuple(snapshot("5", fingerprint=f"v{n}", updated_at=f"2026-01-05T09:3{n}:00Z") for n in range(3))
    stored = [
        RecordState(id="5", settled=None, pending=versions),
        RecordState(
            id="6",
            settled=snapshot("6"),
            pending=(snapshot("6", fingerprint="newer"),),
            sent=("clinic:patients:6:patient.archived:2026-01-05T09:30:00Z",),
        ),
    ]
    state_store.put_records(STREAM, stored)

    assert state_store.get_records(STREAM, ["5", "6"]) == {"5": stored[0], "6": stored[1]}


def test_snapshot_watched_values_keep_their_types(state_store: Any) -> None:
    state_store.put_records(STREAM, [record("7")])

    watched = state_store.get_records(STREAM, ["7"])["7"].settled.watched

    assert watched == {"archived_at": None, "did_not_arrive": False, "patient_arrived": 1, "status": "booked"}
    assert watched["did_not_arrive"] is False
    assert type(watched["patient_arrived"]) is int


def test_more_than_one_batch_of_snapshots_round_trips(state_store: Any) -> None:
    # 260 writes span eleven BatchWriteItem chunks and 260 reads three BatchGetItem chunks.
    stored = {str(i): record(str(i), fingerprint=f"f{i}") for i in range(260)}
    state_store.put_records(STREAM, list(stored.values()))

    found = state_store.get_records(STREAM, [*stored, "missing"])

    assert found == stored


def test_writing_a_snapshot_again_replaces_it(state_store: Any) -> None:
    state_store.put_records(STREAM, [record("1", fingerprint="old")])

    state_store.put_records(STREAM, [record("1", fingerprint="mid"), record("1", fingerprint="new")])

    assert state_store.get_records(STREAM, ["1", "1"])["1"] == record("1", fingerprint="new")


def test_snapshots_are_per_stream(state_store: Any) -> None:
    state_store.put_records(STREAM, [record("1")])

    assert state_store.get_records(OTHER_STREAM, ["1"]) == {}


def test_getting_no_snapshots_is_empty(state_store: Any) -> None:
    assert state_store.get_records(STREAM, []) == {}
    state_store.put_records(STREAM, [])


def test_the_walk_that_last_saw_a_record_round_trips(state_store: Any) -> None:
    stored = [RecordState(id="1", settled=snapshot("1"), walked="after:2026-01-05T09:30:00Z"), record("2")]
    state_store.put_records(STREAM, stored)

    assert state_store.get_records(STREAM, ["1", "2"]) == {"1": stored[0], "2": stored[1]}


def test_listing_records_gives_every_kept_record_of_that_stream_only_across_pages(state_store: Any) -> None:
    # Large enough records that DynamoDB's 1 MB query pages split them
    big = {f"f{n}": "h" * 64 for n in range(60)}
    stored = {str(i): record(str(i), field_hashes=big) for i in range(260)}
    state_store.put_records(STREAM, list(stored.values()))
    state_store.put_records(OTHER_STREAM, [record("other")])

    listed = {state.id: state for state in state_store.list_records(STREAM)}

    assert listed == stored


def test_deleting_records_forgets_those_only_and_ignores_unknown_ids(state_store: Any) -> None:
    state_store.put_records(STREAM, [record(str(i)) for i in range(30)])
    state_store.put_records(OTHER_STREAM, [record("3")])

    state_store.delete_records(STREAM, [str(i) for i in range(3, 29)] + ["3", "missing"])

    assert sorted(s.id for s in state_store.list_records(STREAM)) == ["0", "1", "2", "29"]
    assert state_store.get_records(OTHER_STREAM, ["3"]) == {"3": record("3")}
    assert list(state_store.list_records(StreamKey(connection_id="acme", resource="nothing"))) == []


def test_deleting_a_stream_forgets_cursor_lease_and_snapshots_of_that_stream_only(state_store: Any) -> None:
    # Given two streams with cursor, lease and snapshots (more than one delete batch for the first)
    for stream in (STREAM, OTHER_STREAM):
        state_store.put_cursor(stream, cursor_at(T0), expected_version=None)
        take_lease(state_store, stream, "worker-a", 600)
        state_store.put_records(stream, [record(str(i)) for i in range(30)])

    # When the first is deleted
    state_store.delete_stream(STREAM)

    # Then it starts from scratch, and the other stream is untouched
    assert state_store.get_cursor(STREAM) is None
    assert state_store.get_records(STREAM, [str(i) for i in range(30)]) == {}
    assert state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None).version == 1
    assert take_lease(state_store, STREAM, "worker-b", 600) is True
    assert state_store.get_cursor(OTHER_STREAM) is not None
    assert len(state_store.get_records(OTHER_STREAM, [str(i) for i in range(30)])) == 30
    assert take_lease(state_store, OTHER_STREAM, "worker-b", 600) is False


# -- StreamStateStore: statistics for `status` -------------------------------------------------------

HOUR = 1_767_603_600  # 2026-01-05T09:00:00Z


def test_event_counters_add_up_per_hour_and_per_stream(state_store: Any) -> None:
    # Given events recorded in two hours of one stream and in another stream
    state_store.record_events(STREAM, HOUR - 3600, 2)
    state_store.record_events(STREAM, HOUR, 3)
    state_store.record_events(STREAM, HOUR, 4)
    state_store.record_events(STREAM, HOUR, 0)
    state_store.record_events(OTHER_STREAM, HOUR, 9)

    # Then each hour holds its sum, and `since_hour` leaves earlier hours out
    assert state_store.get_stats(STREAM, HOUR - 7200).events_by_hour == {HOUR - 3600: 2, HOUR: 7}
    assert state_store.get_stats(STREAM, HOUR).events_by_hour == {HOUR: 7}
    assert state_store.get_stats(OTHER_STREAM, 0).events_by_hour == {HOUR: 9}


def test_stats_of_a_stream_never_seen_are_empty(state_store: Any) -> None:
    stats = state_store.get_stats(STREAM, 0)
    assert stats.events_by_hour == {}
    assert stats.caught_up_at is None


def test_caught_up_time_is_the_cursors_at_second_precision(state_store: Any) -> None:
    caught_up = T0 + timedelta(minutes=5, microseconds=900)
    state_store.put_cursor(STREAM, cursor_at(T0, caught_up_at=caught_up), expected_version=None)

    assert state_store.get_cursor(STREAM).caught_up_at == T0 + timedelta(minutes=5)
    assert state_store.get_stats(STREAM, 0).caught_up_at == T0 + timedelta(minutes=5)
    assert state_store.get_stats(OTHER_STREAM, 0).caught_up_at is None


def test_cursors_of_many_streams_come_in_one_read(state_store: Any) -> None:
    state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None)
    missing = StreamKey(connection_id="acme", resource="invoices")

    found = state_store.get_cursors([STREAM, OTHER_STREAM, missing])

    assert found == {STREAM: state_store.get_cursor(STREAM)}


def test_a_write_by_another_owner_fails_while_the_lease_holds(state_store: Any, clock: FakeClock) -> None:
    held = state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None, owner="worker-a", lease_seconds=60)
    assert state_store.leased_by(held) == "worker-a"

    with pytest.raises(CursorConflict):  # the version is right, but the stream is another's
        state_store.put_cursor(STREAM, cursor_at(T0), expected_version=held.version)
    renewed = state_store.put_cursor(STREAM, held, expected_version=held.version, owner="worker-a", lease_seconds=60)
    clock.advance(61)
    assert state_store.leased_by(renewed) is None
    assert state_store.put_cursor(STREAM, cursor_at(T0), expected_version=renewed.version).lease_owner is None


def test_deleting_a_stream_forgets_its_statistics(state_store: Any) -> None:
    state_store.put_cursor(STREAM, cursor_at(T0), expected_version=None)
    state_store.record_events(STREAM, HOUR, 5)
    state_store.record_events(OTHER_STREAM, HOUR, 1)

    state_store.delete_stream(STREAM)

    assert state_store.get_stats(STREAM, 0).events_by_hour == {}
    assert state_store.get_stats(STREAM, 0).caught_up_at is None
    assert state_store.get_stats(OTHER_STREAM, 0).events_by_hour == {HOUR: 1}


# -- ConnectionStore ---------------------------------------------------------------------------------


def connection(connection_id: str = "acme", **kw: Any) -> Connection:
    fields: dict[str, Any] = {
        "name": "Acme Physio",
        "secret_id": "arn:aws:secretsmanager:us-east-1:000000000000:secret:cliniko-connector/acme-AbCdEf",
        "shard": "au1",
    }
    fields.update(kw)
    return Connection(id=connection_id, **fields)


def test_connection_round_trips_every_field(connection_store: Any) -> None:
    full = connection(
        base_url="https://api.au1.cliniko.com/v1",
        status=ConnectionStatus.DISABLED,
        triggers=("patient.created", "appointment.cancelled"),
        poll_interval_seconds=120,
        payload_mode=PayloadMode.MINIMAL,
        rate_limit_per_minute=100,
        created_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        account_user="Jo Admin",
    )
    connection_store.put(full)

    assert connection_store.get("acme") == full


def test_connection_with_defaults_round_trips(connection_store: Any) -> None:
    minimal = connection()
    connection_store.put(minimal)

    assert connection_store.get("acme") == minimal


def test_getting_an_unknown_connection_raises_connection_not_found(connection_store: Any) -> None:
    with pytest.raises(ConnectionNotFound, match="nope"):
        connection_store.get("nope")


def test_putting_a_connection_again_replaces_it(connection_store: Any) -> None:
    connection_store.put(connection(triggers=("patient.created",), account_user="someone"))

    connection_store.put(connection(triggers=()))

    stored = connection_store.get("acme")
    assert stored.triggers == ()
    assert stored.account_user is None


def test_connections_are_listed_sorted_by_id(connection_store: Any) -> None:
    for connection_id in ("zeta", "acme", "mid-clinic"):
        connection_store.put(connection(connection_id))

    assert [c.id for c in connection_store.list()] == ["acme", "mid-clinic", "zeta"]


def test_deleting_a_connection_removes_it_and_is_idempotent(connection_store: Any) -> None:
    connection_store.put(connection("acme"))
    connection_store.put(connection("other"))

    connection_store.delete("acme")
    connection_store.delete("acme")

    with pytest.raises(ConnectionNotFound):
        connection_store.get("acme")
    assert [c.id for c in connection_store.list()] == ["other"]


def test_no_connections_lists_empty(connection_store: Any) -> None:
    assert connection_store.list() == []


# -- SecretStore -------------------------------------------------------------------------------------


def test_secret_round_trips_by_returned_id_and_by_name(secret_store: Any) -> None:
    secret_id = secret_store.put("acme", "key-123-au1")

    assert "cliniko-connector/acme" in secret_id
    assert secret_store.get(secret_id) == "key-123-au1"
    assert secret_store.get("cliniko-connector/acme") == "key-123-au1"


def test_putting_a_secret_again_overwrites_it_even_when_cached(secret_store: Any) -> None:
    secret_id = secret_store.put("acme", "old-key")
    assert secret_store.get(secret_id) == "old-key"

    assert secret_store.put("acme", "new-key") == secret_id

    assert secret_store.get(secret_id) == "new-key"


def test_a_deleted_secret_can_no_longer_be_read(secret_store: Any) -> None:
    secret_id = secret_store.put("acme", "key")
    secret_store.get(secret_id)

    secret_store.delete(secret_id)

    with pytest.raises(ConfigurationError) as raised:
        secret_store.get(secret_id)
    assert "key" not in str(raised.value).replace("secret", "")


def test_a_deleted_secret_name_can_be_put_again(secret_store: Any) -> None:
    secret_store.delete(secret_store.put("acme", "first"))

    secret_id = secret_store.put("acme", "second")

    assert secret_store.get(secret_id) == "second"


def test_unknown_secret_raises_configuration_error(secret_store: Any) -> None:
    with pytest.raises(ConfigurationError):
        secret_store.get("cliniko-connector/nobody")
    secret_store.delete("cliniko-connector/nobody")  # deleting what is not there is fine


def test_secret_store_repr_shows_no_value(secret_store: Any) -> None:
    secret_id = secret_store.put("acme", "s3cr3t-value-au1")
    secret_store.get(secret_id)

    assert "s3cr3t" not in repr(secret_store)


# -- RateBudget --------------------------------------------------------------------------------------

FAR = 10_000.0


def fill(budget: Any, key: str, purpose: str, n: int, clock: FakeClock) -> None:
    for _ in range(n):
        budget.acquire(key, purpose=purpose, deadline=clock.monotonic() + FAR)


def test_polls_stop_at_the_share_left_after_the_action_reserve(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(limit_per_minute=10, reserved_for_actions=0.2, reserved_for_polls=0.0)
    # Given the poll share (8 of 10) is used
    fill(budget, "k", "poll", 8, clock)
    assert clock.sleeps == []
    # When a ninth poll must go before the window ends, Then there is no budget
    with pytest.raises(RateBudgetExhausted):
        budget.acquire("k", purpose="poll", deadline=clock.monotonic() + 5)
    # ...but actions still have their reserve, up to the full limit
    fill(budget, "k", "action", 2, clock)
    with pytest.raises(RateBudgetExhausted):
        budget.acquire("k", purpose="action", deadline=clock.monotonic() + 5)
    assert clock.sleeps == []
    assert budget.usage("k") == (10, 10)
    assert budget.usage("k", purpose="poll") == (10, 8)


def test_a_full_window_waits_for_the_next_window(make_rate_budget: RateBudgetFactory, clock: FakeClock) -> None:
    budget = make_rate_budget(limit_per_minute=5, reserved_for_actions=0.0)
    fill(budget, "k", "poll", 5, clock)
    window_end = WINDOW_ALIGNED_EPOCH + 60

    budget.acquire("k", purpose="poll", deadline=clock.monotonic() + 120)

    assert clock.now() == pytest.approx(window_end)
    assert sum(clock.sleeps) == pytest.approx(50)
    assert budget.usage("k", purpose="poll") == (1, 5)


def test_waiting_longer_than_the_deadline_raises_without_sleeping(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(limit_per_minute=5, reserved_for_actions=0.0)
    fill(budget, "k", "poll", 5, clock)

    with pytest.raises(RateBudgetExhausted) as raised:
        budget.acquire("k", purpose="poll", deadline=clock.monotonic() + 49)

    assert clock.sleeps == []
    assert "k" not in str(raised.value).split()


def test_keys_have_separate_budgets_and_limits(make_rate_budget: RateBudgetFactory, clock: FakeClock) -> None:
    budget = make_rate_budget(limit_per_minute=lambda key: {"small": 2}.get(key, 100), reserved_for_actions=0.0)
    fill(budget, "small", "poll", 2, clock)

    fill(budget, "big", "poll", 50, clock)

    assert clock.sleeps == []
    assert budget.usage("small", purpose="poll") == (2, 2)
    assert budget.usage("big", purpose="poll") == (50, 100)


def test_penalized_key_waits_until_the_penalty_ends(make_rate_budget: RateBudgetFactory, clock: FakeClock) -> None:
    budget = make_rate_budget(limit_per_minute=100)
    until = clock.now() + 30

    budget.penalize("k", until)

    budget.acquire("k", purpose="action", deadline=clock.monotonic() + 60)
    assert clock.now() == pytest.approx(until)
    assert budget.usage("k")[0] == 1


def test_penalty_longer_than_the_deadline_raises(make_rate_budget: RateBudgetFactory, clock: FakeClock) -> None:
    budget = make_rate_budget(limit_per_minute=100)
    budget.penalize("k", clock.now() + 30)

    with pytest.raises(RateBudgetExhausted):
        budget.acquire("k", purpose="action", deadline=clock.monotonic() + 29)
    # Other keys are not affected.
    budget.acquire("other", purpose="action", deadline=clock.monotonic())
    assert clock.sleeps == []


def test_penalty_spanning_windows_blocks_the_next_window_too(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(limit_per_minute=100)
    until = clock.now() + 115  # 5 s into the window after next

    budget.penalize("k", until)

    budget.acquire("k", purpose="poll", deadline=clock.monotonic() + 120)
    assert clock.now() == pytest.approx(until)


def test_a_penalty_in_the_past_changes_nothing(make_rate_budget: RateBudgetFactory, clock: FakeClock) -> None:
    budget = make_rate_budget(limit_per_minute=100)

    budget.penalize("k", clock.now() - 1)

    budget.acquire("k", purpose="poll", deadline=clock.monotonic())
    assert clock.sleeps == []


def test_usage_of_an_unused_key_is_zero(make_rate_budget: RateBudgetFactory) -> None:
    budget = make_rate_budget(limit_per_minute=200, reserved_for_actions=0.2, reserved_for_polls=0.3)

    assert budget.usage("fresh") == (0, 140)
    assert budget.usage("fresh", purpose="poll") == (0, 160)


def refused(budget: Any, key: str, purpose: str, clock: FakeClock, connection_id: str | None = None) -> bool:
    """Whether a request that may not wait at all is refused."""
    try:
        budget.acquire(key, purpose=purpose, deadline=clock.monotonic(), connection_id=connection_id)
    except RateBudgetExhausted:
        return True
    return False


def flood(budget: Any, key: str, clock: FakeClock, loops: int, connection_id: str | None = "c") -> int:
    """`loops` action callers each take requests until the window refuses them; the requests counted."""
    counted = 0
    for _ in range(loops):
        while not refused(budget, key, "action", clock, connection_id):
            counted += 1
    return counted


def test_an_action_flood_leaves_polls_their_reserved_share_of_every_window(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(limit_per_minute=20, reserved_for_actions=0.2, reserved_for_polls=0.3)
    for window in range(5):
        # Given eight action loops that got to the window first and took all they could
        assert flood(budget, "k", clock, loops=8) == 14
        # Then polls still find their 6 of 20, without waiting
        polls = 0
        while not refused(budget, "k", "poll", clock):
            polls += 1
        assert polls == 6, f"window {window}"
        assert budget.usage("k") == (20, 14)
        clock.advance(60)
    assert clock.sleeps == []


def test_polls_take_what_actions_leave_and_actions_keep_their_reserve(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(limit_per_minute=20, reserved_for_actions=0.2, reserved_for_polls=0.3)
    fill(budget, "k", "action", 5, clock)
    # Polls may take the rest up to their own cap (16 of 20), more than their reserve...
    polls = 0
    while not refused(budget, "k", "poll", clock):
        polls += 1
    assert polls == 15  # the window is full: 5 actions + 15 polls
    assert refused(budget, "k", "action", clock)
    clock.advance(60)
    # ...and in a window polls reach first, actions still find their 4 of 20.
    fill(budget, "k", "poll", 16, clock)
    assert refused(budget, "k", "poll", clock)
    assert flood(budget, "k", clock, loops=8) == 4


def test_one_connections_actions_stop_at_its_share_of_the_key(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(
        limit_per_minute=20, reserved_for_actions=0.2, reserved_for_polls=0.3, action_share_per_connection=0.4
    )
    # Two connections share the key: the first one's flood stops at 8 of 20...
    assert flood(budget, "k", clock, loops=8, connection_id="clinic-a") == 8
    # ...so the other still acts, up to what the key allows actions (14 of 20)...
    assert flood(budget, "k", clock, loops=8, connection_id="clinic-b") == 6
    # ...and polls keep their reserve.
    polls = 0
    while not refused(budget, "k", "poll", clock):
        polls += 1
    assert polls == 6


def test_a_refused_action_waits_for_the_next_window(make_rate_budget: RateBudgetFactory, clock: FakeClock) -> None:
    budget = make_rate_budget(limit_per_minute=10, reserved_for_actions=0.2, reserved_for_polls=0.3)
    assert flood(budget, "k", clock, loops=1) == 7

    budget.acquire("k", purpose="action", deadline=clock.monotonic() + 120, connection_id="c")

    assert clock.now() == pytest.approx(WINDOW_ALIGNED_EPOCH + 60)
    assert budget.usage("k") == (1, 7)


@pytest.mark.parametrize(
    "shares",
    [
        {"reserved_for_actions": 0.6, "reserved_for_polls": 0.5},
        {"reserved_for_polls": 1.0},
        {"reserved_for_polls": -0.1},
        {"action_share_per_connection": 0.0},
        {"action_share_per_connection": 1.5},
    ],
)
def test_shares_that_cannot_all_hold_are_refused(make_rate_budget: RateBudgetFactory, shares: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"reserve|action_share_per_connection"):
        make_rate_budget(**shares)


# -- EventPublisher ----------------------------------------------------------------------------------


def test_every_event_is_accepted_once_in_order(publisher_harness: PublisherHarness) -> None:
    events = [small_event(i) for i in range(25)]

    publisher_harness.publisher.publish(events)

    assert publisher_harness.accepted() == [(e.detail_type, e.detail) for e in events]
    assert publisher_harness.calls() == [10, 10, 5]


def test_batches_are_cut_at_256_kb(publisher_harness: PublisherHarness) -> None:
    events = [event_of_size(i, 100 * 1024) for i in range(3)]

    publisher_harness.publisher.publish(events)

    assert publisher_harness.calls() == [2, 1]
    assert len(publisher_harness.accepted()) == 3


def test_failed_entries_are_resent_until_accepted(publisher_harness: PublisherHarness) -> None:
    # Given the bus fails the first three entries it sees, once each
    publisher_harness.fail_next(3, "ThrottlingException")
    events = [small_event(i) for i in range(5)]

    # When publishing
    publisher_harness.publisher.publish(events)

    # Then only those three are sent again and each event is accepted exactly once
    assert publisher_harness.calls() == [5, 3]
    accepted = publisher_harness.accepted()
    assert sorted(detail["id"] for _, detail in accepted) == [str(i) for i in range(5)]


def test_entries_failing_every_attempt_raise_publish_error(publisher_harness: PublisherHarness) -> None:
    publisher_harness.fail_permanently(True)
    events = [small_event(i) for i in range(12)]

    with pytest.raises(PublishError) as raised:
        publisher_harness.publisher.publish(events)

    # The first batch (10) is tried five times; the second (2) is never sent.
    assert raised.value.failed == 12
    assert raised.value.failed_indexes == tuple(range(12))
    assert raised.value.error_codes == ["InternalFailure"]
    assert publisher_harness.calls() == [10] * 5
    assert publisher_harness.accepted() == []


def test_a_non_retryable_entry_error_raises_at_once(publisher_harness: PublisherHarness) -> None:
    publisher_harness.fail_next(1, "MalformedDetail")

    with pytest.raises(PublishError) as raised:
        publisher_harness.publisher.publish([small_event(1), small_event(2)])

    assert raised.value.failed == 1
    assert raised.value.error_codes == ["MalformedDetail"]
    assert publisher_harness.calls() == [2]


def test_a_publish_error_names_exactly_the_events_not_accepted(publisher_harness: PublisherHarness) -> None:
    # Given the bus rejects the first entry for good, in the first of two batches
    publisher_harness.fail_next(1, "MalformedDetail")
    events = [small_event(i) for i in range(15)]

    with pytest.raises(PublishError) as raised:
        publisher_harness.publisher.publish(events)

    # Then the error names it and the second batch, never sent; the other nine were accepted
    assert raised.value.failed_indexes == (0, 10, 11, 12, 13, 14)
    assert raised.value.failed == 6
    assert sorted(int(detail["id"]) for _, detail in publisher_harness.accepted()) == list(range(1, 10))


def test_an_entry_over_256_kb_fails_before_anything_is_sent(publisher_harness: PublisherHarness) -> None:
    events = [
        small_event(1),
        BusEvent(source="cliniko", detail_type="Treatment Note Created", detail={"secret_text": "y" * 270_000}),
    ]

    with pytest.raises(PublishError) as raised:
        publisher_harness.publisher.publish(events)

    assert "Treatment Note Created" in str(raised.value)
    assert "yyyy" not in str(raised.value)
    assert "secret_text" not in str(raised.value)
    assert raised.value.failed == 2
    assert raised.value.failed_indexes == (0, 1)
    assert publisher_harness.calls() == []


def test_publishing_nothing_calls_nothing(publisher_harness: PublisherHarness) -> None:
    publisher_harness.publisher.publish([])

    assert publisher_harness.calls() == []


def test_failures_carry_over_from_one_call_to_the_next(publisher_harness: PublisherHarness) -> None:
    # Given the bus fails the next 12 entries: all 10 of the first call, then the first 2 of the retry
    publisher_harness.fail_next(12)

    publisher_harness.publisher.publish([small_event(i) for i in range(10)])

    assert publisher_harness.calls() == [10, 10, 2]
    assert sorted(int(detail["id"]) for _, detail in publisher_harness.accepted()) == list(range(10))


# -- RateBudget: prepaid poll requests ------------------------------------------------------------


def test_prepaid_polls_are_counted_at_once_and_used_up_without_counting_again(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(limit_per_minute=20, reserved_for_actions=0.25)  # polls: 15 a window

    assert budget.prepay("k", 11) == 11
    assert budget.usage("k", purpose="poll") == (11, 15)
    fill(budget, "k", "poll", 11, clock)  # the prepaid ones
    assert budget.usage("k", purpose="poll") == (11, 15)
    fill(budget, "k", "poll", 4, clock)  # then each its own, up to the cap
    with pytest.raises(RateBudgetExhausted):
        budget.acquire("k", purpose="poll", deadline=clock.monotonic() + 5)
    assert clock.sleeps == []


def test_prepaying_takes_what_room_is_left_and_never_passes_the_cap(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(limit_per_minute=20, reserved_for_actions=0.25)
    fill(budget, "k", "poll", 10, clock)

    assert budget.prepay("k", 11) == 5
    assert budget.usage("k", purpose="poll") == (15, 15)
    assert budget.prepay("k", 1) == 0
    fill(budget, "k", "poll", 5, clock)
    with pytest.raises(RateBudgetExhausted):
        budget.acquire("k", purpose="poll", deadline=clock.monotonic() + 5)


def test_prepaid_polls_end_with_their_window_and_with_a_penalty(
    make_rate_budget: RateBudgetFactory, clock: FakeClock
) -> None:
    budget = make_rate_budget(limit_per_minute=20, reserved_for_actions=0.25)
    budget.prepay("k", 11)
    clock.advance(60)  # the next window: what was left was counted in the last one, never sent in this one

    fill(budget, "k", "poll", 1, clock)
    assert budget.usage("k", purpose="poll") == (1, 15)

    budget.prepay("k", 5)
    budget.penalize("k", clock.now() + 30)
    budget.acquire("k", purpose="poll", deadline=clock.monotonic() + 60)
    assert sum(clock.sleeps) == pytest.approx(30)  # a 429 is waited for, prepaid or not
