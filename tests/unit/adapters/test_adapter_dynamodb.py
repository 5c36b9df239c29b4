"""DynamoDB adapter specifics the contract tests can't see: item layout, request chunking, retries of
unprocessed keys and items, pagination, and how few calls the rate budget makes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cliniko_connector.adapters.dynamodb import (
    DynamoConnectionStore,
    DynamoRateBudget,
    DynamoStreamStateStore,
    from_attribute,
    to_attribute,
)
from cliniko_connector.adapters.rate_windows import share_cap
from cliniko_connector.errors import ConfigurationError, CursorConflict, RateBudgetExhausted, StateStoreError
from cliniko_connector.models import Connection, RecordSnapshot, RecordState, StreamCursor, StreamKey
from cliniko_connector.settings import AwsResourceSettings, RateShares, load_settings
from cliniko_connector.wiring import build_runtime
from tests.leases import release_lease, take_lease
from tests.unit.adapters.adapter_support import STATE_TABLE, WINDOW_ALIGNED_EPOCH, ClientProxy, FakeClock

STREAM = StreamKey(connection_id="acme", resource="patients")
PK = "STREAM#acme#patients"
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
TTL = 400 * 86400


@pytest.fixture
def store(ddb: ClientProxy, state_table: str, clock: FakeClock) -> DynamoStreamStateStore:
    return DynamoStreamStateStore(state_table, client=ddb, now=clock.now, sleep=clock.sleep, jitter=lambda: 0.0)


def raw_items(ddb: ClientProxy, pk: str) -> dict[str, dict[str, Any]]:
    response = ddb._client.query(
        TableName=STATE_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    return {item["sk"]["S"]: item for item in response["Items"]}


def snap(record_id: str) -> RecordState:
    return RecordState(
        id=record_id,
        settled=RecordSnapshot(
            id=record_id,
            updated_at="2026-01-05T09:30:00Z",
            fingerprint="fp",
            field_hashes={"email": "h"},
            watched={"status": "booked", "arrived": None},
        ),
    )


# -- attribute values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -7, 12345678901234567890, 1.5, "", "text", [], [1, "a", None], {"k": {"n": [True]}}],
)
def test_attribute_values_round_trip(value: Any) -> None:
    assert from_attribute(to_attribute(value)) == value


def test_bools_are_not_stored_as_numbers() -> None:
    assert to_attribute(True) == {"BOOL": True}
    assert type(from_attribute(to_attribute(3))) is int


# -- stream state items ------------------------------------------------------------------------------


def test_cursor_item_uses_the_documented_keys_and_iso_z_strings(
    store: DynamoStreamStateStore, ddb: ClientProxy
) -> None:
    store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0, last_poll_at=T0), expected_version=None)

    item = raw_items(ddb, PK)["CURSOR"]

    assert item["position"] == {"S": "2026-01-05T09:30:00Z"}
    assert item["origin"] == {"S": "2026-01-05T09:30:00Z"}
    assert item["last_poll_at"] == {"S": "2026-01-05T09:30:00Z"}
    assert item["version"] == {"N": "1"}
    assert "last_error" not in item
    assert "backfill_total" not in item


def test_cursor_conflict_message_holds_no_cursor_data(store: DynamoStreamStateStore) -> None:
    store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0, last_error="boom"), expected_version=None)

    with pytest.raises(CursorConflict) as raised:
        store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=7)

    assert "2026" not in str(raised.value)
    assert "boom" not in str(raised.value)


def test_the_lease_is_the_cursor_items_owner_and_expiry(
    store: DynamoStreamStateStore, ddb: ClientProxy, clock: FakeClock
) -> None:
    take_lease(store, STREAM, "worker-a", 900)

    item = raw_items(ddb, PK)["CURSOR"]

    assert set(raw_items(ddb, PK)) == {"CURSOR"}  # no item of its own: taking it is the cursor's write
    assert item["lease_owner"] == {"S": "worker-a"}
    assert float(item["lease_until"]["N"]) == clock.now() + 900
    release_lease(store, STREAM, "worker-a")
    assert "lease_owner" not in raw_items(ddb, PK)["CURSOR"]


def test_snapshot_items_expire_after_the_ttl_and_store_watched_as_json(
    store: DynamoStreamStateStore, ddb: ClientProxy, clock: FakeClock
) -> None:
    store.put_records(STREAM, [snap("42")])

    item = raw_items(ddb, PK)["REC#42"]

    assert int(item["expires_at"]["N"]) == int(clock.now()) + TTL
    assert json.loads(item["watched"]["S"]) == {"status": "booked", "arrived": None}
    assert json.loads(item["field_hashes"]["S"]) == {"email": "h"}
    assert item["fingerprint"] == {"S": "fp"}
    assert "pending" not in item


def test_pending_versions_are_a_list_beside_the_settled_one(store: DynamoStreamStateStore, ddb: ClientProxy) -> None:
    settled = snap("42").settled
    assert settled is not None
    newer = settled.model_copy(update={"updated_at": "2026-01-05T09:31:00Z", "fingerprint": "fp2"})
    store.put_records(STREAM, [RecordState(id="42", settled=settled, pending=(newer,))])

    item = raw_items(ddb, PK)["REC#42"]

    assert item["fingerprint"] == {"S": "fp"}
    assert [p["M"]["fingerprint"] for p in item["pending"]["L"]] == [{"S": "fp2"}]
    assert store.get_records(STREAM, ["42"])["42"].pending == (newer,)


def test_snapshot_ttl_is_configurable(ddb: ClientProxy, state_table: str, clock: FakeClock) -> None:
    store = DynamoStreamStateStore(state_table, client=ddb, snapshot_ttl_seconds=3600, now=clock.now)

    store.put_records(STREAM, [snap("1")])

    assert int(raw_items(ddb, PK)["REC#1"]["expires_at"]["N"]) == int(clock.now()) + 3600


def test_snapshot_reads_and_writes_are_chunked_at_100_and_25(store: DynamoStreamStateStore, ddb: ClientProxy) -> None:
    store.put_records(STREAM, [snap(str(i)) for i in range(60)])
    assert ddb.calls["batch_write_item"] == 3

    found = store.get_records(STREAM, [str(i) for i in range(250)])

    assert len(found) == 60
    get_sizes = [len(kw["RequestItems"][STATE_TABLE]["Keys"]) for op, kw in ddb.requests if op == "batch_get_item"]
    write_sizes = [len(kw["RequestItems"][STATE_TABLE]) for op, kw in ddb.requests if op == "batch_write_item"]
    assert get_sizes == [100, 100, 50]
    assert write_sizes == [25, 25, 10]


def _leave_unprocessed(times: int, keep: int) -> Any:
    """A batch_get_item override that, `times` times, only reads the first `keep` keys and hands the rest
    back as UnprocessedKeys, like DynamoDB under load."""
    state = {"left": times}

    def override(real: Any, RequestItems: dict[str, Any]) -> Any:
        if state["left"] <= 0:
            return real(RequestItems=RequestItems)
        state["left"] -= 1
        request = RequestItems[STATE_TABLE]
        keys = request["Keys"]
        response = real(RequestItems={STATE_TABLE: {**request, "Keys": keys[:keep]}}) if keep else {"Responses": {}}
        response["UnprocessedKeys"] = {STATE_TABLE: {**request, "Keys": keys[keep:]}}
        return response

    return override


def test_unprocessed_keys_are_read_again(store: DynamoStreamStateStore, ddb: ClientProxy, clock: FakeClock) -> None:
    store.put_records(STREAM, [snap(str(i)) for i in range(30)])
    ddb.overrides["batch_get_item"] = _leave_unprocessed(times=2, keep=10)

    found = store.get_records(STREAM, [str(i) for i in range(30)])

    assert len(found) == 30
    assert ddb.calls["batch_get_item"] == 3
    assert len(clock.sleeps) == 2


def test_keys_left_unprocessed_too_often_raise(ddb: ClientProxy, state_table: str, clock: FakeClock) -> None:
    store = DynamoStreamStateStore(state_table, client=ddb, now=clock.now, sleep=clock.sleep, max_batch_attempts=3)
    ddb.overrides["batch_get_item"] = _leave_unprocessed(times=99, keep=0)

    with pytest.raises(StateStoreError) as raised:
        store.get_records(STREAM, ["1", "2"])

    assert ddb.calls["batch_get_item"] == 3
    assert "2 key(s)" in str(raised.value)


def _leave_items_unprocessed(times: int, keep: int) -> Any:
    state = {"left": times}

    def override(real: Any, RequestItems: dict[str, Any]) -> Any:
        if state["left"] <= 0:
            return real(RequestItems=RequestItems)
        state["left"] -= 1
        requests = RequestItems[STATE_TABLE]
        response = real(RequestItems={STATE_TABLE: requests[:keep]}) if keep else {}
        return {**response, "UnprocessedItems": {STATE_TABLE: requests[keep:]}}

    return override


def test_unprocessed_items_are_written_again(store: DynamoStreamStateStore, ddb: ClientProxy) -> None:
    ddb.overrides["batch_write_item"] = _leave_items_unprocessed(times=1, keep=5)

    store.put_records(STREAM, [snap(str(i)) for i in range(20)])

    assert ddb.calls["batch_write_item"] == 2
    assert len(raw_items(ddb, PK)) == 20


def test_items_left_unprocessed_too_often_raise_instead_of_being_dropped(
    ddb: ClientProxy, state_table: str, clock: FakeClock
) -> None:
    store = DynamoStreamStateStore(state_table, client=ddb, now=clock.now, sleep=clock.sleep, max_batch_attempts=4)
    ddb.overrides["batch_write_item"] = _leave_items_unprocessed(times=99, keep=0)

    with pytest.raises(StateStoreError):
        store.put_records(STREAM, [snap("1")])

    assert ddb.calls["batch_write_item"] == 4


def test_deleting_a_stream_follows_query_pages(store: DynamoStreamStateStore, ddb: ClientProxy) -> None:
    # Given 40 snapshots, a cursor and a lease, and a query that returns 7 items per page
    store.put_records(STREAM, [snap(str(i)) for i in range(40)])
    store.put_cursor(STREAM, StreamCursor(position=T0, origin=T0), expected_version=None)
    take_lease(store, STREAM, "w", 60)
    ddb.overrides["query"] = lambda real, **kw: real(**kw, Limit=7)

    store.delete_stream(STREAM)

    assert raw_items(ddb, PK) == {}
    assert ddb.calls["query"] >= 6


# -- connections -------------------------------------------------------------------------------------


@pytest.fixture
def connections(ddb: ClientProxy, connections_table: str) -> DynamoConnectionStore:
    return DynamoConnectionStore(connections_table, client=ddb)


def test_connection_item_is_keyed_by_connection_id_with_triggers_as_a_list(
    connections: DynamoConnectionStore, ddb: ClientProxy
) -> None:
    connections.put(Connection(id="acme", name="Acme", secret_id="arn:x", shard="uk1", triggers=("a.b", "c.d")))

    item = ddb._client.get_item(TableName=connections.table_name, Key={"connection_id": {"S": "acme"}})["Item"]

    assert item["triggers"] == {"L": [{"S": "a.b"}, {"S": "c.d"}]}
    assert item["rate_limit_per_minute"] == {"N": "200"}
    assert "id" not in item
    assert "base_url" not in item  # unset optional fields are left out


def test_listing_connections_follows_scan_pages(connections: DynamoConnectionStore, ddb: ClientProxy) -> None:
    for connection_id in ("e", "d", "c", "b", "a"):
        connections.put(Connection(id=connection_id, name=connection_id, secret_id="s", shard="au1"))
    ddb.overrides["scan"] = lambda real, **kw: real(**kw, Limit=2)

    assert [c.id for c in connections.list()] == ["a", "b", "c", "d", "e"]
    assert ddb.calls["scan"] >= 3


def test_attributes_unknown_to_this_version_are_ignored(connections: DynamoConnectionStore, ddb: ClientProxy) -> None:
    ddb._client.put_item(
        TableName=connections.table_name,
        Item={
            "connection_id": {"S": "acme"},
            "name": {"S": "Acme"},
            "secret_id": {"S": "s"},
            "shard": {"S": "au1"},
            "added_in_a_later_release": {"BOOL": True},
        },
    )

    assert connections.get("acme").name == "Acme"


# -- rate budget -------------------------------------------------------------------------------------


@pytest.fixture
def budget(ddb: ClientProxy, state_table: str, clock: FakeClock) -> DynamoRateBudget:
    return DynamoRateBudget(
        state_table,
        client=ddb,
        limit_per_minute=10,
        reserved_for_actions=0.2,
        reserved_for_polls=0.3,
        sleep=clock.sleep,
        now=clock.now,
        monotonic=clock.monotonic,
        jitter=lambda: 0.0,
    )


def test_each_acquire_is_one_update_item(budget: DynamoRateBudget, ddb: ClientProxy, clock: FakeClock) -> None:
    for _ in range(5):
        budget.acquire("k", purpose="poll", deadline=clock.monotonic())

    assert dict(ddb.calls) == {"update_item": 5}


def test_window_counter_item_is_aligned_and_expires_minutes_later(
    budget: DynamoRateBudget, ddb: ClientProxy, clock: FakeClock
) -> None:
    budget.acquire("k", purpose="poll", deadline=clock.monotonic())
    budget.acquire("k", purpose="action", deadline=clock.monotonic())

    items = raw_items(ddb, "RATE#k")

    window = int(WINDOW_ALIGNED_EPOCH)
    assert set(items) == {f"W#{window}"}
    assert items[f"W#{window}"]["n"] == {"N": "2"}
    assert items[f"W#{window}"]["p"] == {"N": "1"}
    assert items[f"W#{window}"]["a"] == {"N": "1"}
    assert int(items[f"W#{window}"]["expires_at"]["N"]) == window + 60 + 300


@pytest.mark.parametrize(("full", "cap", "other"), [("poll", 8, "action"), ("action", 7, "poll")])
def test_a_share_seen_full_is_waited_out_without_asking_dynamodb_again_while_the_other_still_asks(
    budget: DynamoRateBudget, ddb: ClientProxy, clock: FakeClock, full: Any, cap: int, other: Any
) -> None:
    for _ in range(cap):
        budget.acquire("k", purpose=full, deadline=clock.monotonic())
    ddb.calls.clear()

    # The first refusal costs one call; later callers in this process know that share of the window is full.
    for _ in range(3):
        with pytest.raises(RateBudgetExhausted):
            budget.acquire("k", purpose=full, deadline=clock.monotonic() + 1)
    assert ddb.calls["update_item"] == 1
    # The other purpose has room of its own (its reserve at least), so it still asks, and is granted.
    for _ in range(2):
        budget.acquire("k", purpose=other, deadline=clock.monotonic())
    assert ddb.calls["update_item"] == 3


def test_an_action_counts_against_its_connection_in_the_same_update(
    budget: DynamoRateBudget, ddb: ClientProxy, clock: FakeClock
) -> None:
    budget.acquire("k", purpose="action", deadline=clock.monotonic(), connection_id="clinic-a")
    budget.acquire("k", purpose="action", deadline=clock.monotonic(), connection_id="clinic-b")
    budget.acquire("k", purpose="action", deadline=clock.monotonic(), connection_id="clinic-a")

    item = raw_items(ddb, "RATE#k")[f"W#{int(WINDOW_ALIGNED_EPOCH)}"]
    assert {name: item[name]["N"] for name in ("n", "a", "a#clinic-a", "a#clinic-b")} == {
        "n": "3",
        "a": "3",
        "a#clinic-a": "2",
        "a#clinic-b": "1",
    }
    assert "p" not in item
    assert dict(ddb.calls) == {"update_item": 3}


def test_a_penalty_set_by_another_worker_is_learned_from_the_refused_update(
    budget: DynamoRateBudget, ddb: ClientProxy, state_table: str, clock: FakeClock
) -> None:
    # Given another worker (another Lambda) got a 429 and penalized the key for 30 s
    other = DynamoRateBudget(state_table, client=ddb, limit_per_minute=10, now=clock.now)
    until = clock.now() + 30
    other.penalize("k", until)
    ddb.calls.clear()

    # When this worker acquires
    budget.acquire("k", purpose="action", deadline=clock.monotonic() + 60)

    # Then it waited until the penalty ended, having learned it from its refused update alone
    assert clock.now() == pytest.approx(until)
    assert dict(ddb.calls) == {"update_item": 2}


def test_penalize_records_the_penalty_and_stamps_the_windows_it_covers(
    budget: DynamoRateBudget, ddb: ClientProxy, clock: FakeClock
) -> None:
    until = clock.now() + 115  # 5 s into the window after next

    budget.penalize("k", until)
    budget.penalize("k", clock.now() + 5)  # a shorter one does not shorten it

    items = raw_items(ddb, "RATE#k")
    window = int(WINDOW_ALIGNED_EPOCH)
    assert float(items["PENALTY"]["until"]["N"]) == until
    assert {sk for sk in items if sk.startswith("W#")} == {f"W#{window}", f"W#{window + 60}", f"W#{window + 120}"}
    assert all(float(items[sk]["blocked_until"]["N"]) == until for sk in items if sk.startswith("W#"))


def test_a_very_long_penalty_stamps_a_bounded_number_of_windows(
    budget: DynamoRateBudget, ddb: ClientProxy, clock: FakeClock
) -> None:
    budget.penalize("k", clock.now() + 86400)

    assert len([sk for sk in raw_items(ddb, "RATE#k") if sk.startswith("W#")]) == 10


def test_usage_reads_the_current_window(budget: DynamoRateBudget, clock: FakeClock) -> None:
    for _ in range(3):
        budget.acquire("k", purpose="poll", deadline=clock.monotonic())

    assert budget.usage("k", purpose="poll") == (3, 8)
    assert budget.usage("k") == (3, 7)
    clock.advance(60)
    assert budget.usage("k", purpose="poll") == (0, 8)


@pytest.mark.parametrize(
    ("limit", "share", "window", "expected"),
    [
        (200, 1 - 0.2, 60, 160),
        (200, 1.0, 60, 200),
        (100, 1 - 0.3, 60, 70),  # 100 * 0.7 is 69.999... in floating point
        (60, 1.0, 10, 10),  # a 10-second window gets a sixth of the minute's limit
        (1, 0.5, 60, 0),
    ],
)
def test_share_cap(limit: int, share: float, window: int, expected: int) -> None:
    assert share_cap(limit, share, window) == expected


def test_reserved_share_must_leave_room_for_polls(ddb: ClientProxy) -> None:
    with pytest.raises(ValueError, match="reserved_for_actions"):
        DynamoRateBudget("t", client=ddb, reserved_for_actions=1.0)


REQUIRED_SETTINGS: dict[str, Any] = {
    "cliniko_contact_email": "ops@example.com",
    "connections_table": "c",
    "state_table": "s",
    "event_bus_name": "b",
}


def test_the_stacks_settings_give_the_budget_its_shares(aws: None) -> None:
    settings = AwsResourceSettings(**REQUIRED_SETTINGS, poll_reserved_share=0.4, action_connection_share=0.5)

    budget = build_runtime(settings).rate_budget

    assert isinstance(budget, DynamoRateBudget)
    assert budget.shares == RateShares(
        reserved_for_actions=0.2, reserved_for_polls=0.4, action_share_per_connection=0.5
    )


def test_reserves_that_add_up_to_more_than_the_budget_fail_at_cold_start() -> None:
    with pytest.raises(ConfigurationError, match="ACTION_RESERVED_SHARE \\+ POLL_RESERVED_SHARE"):
        load_settings(AwsResourceSettings, **REQUIRED_SETTINGS, action_reserved_share=0.5, poll_reserved_share=0.6)
