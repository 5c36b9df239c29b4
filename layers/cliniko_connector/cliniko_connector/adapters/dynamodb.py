"""DynamoDB adapters: stream state (cursor, lease, snapshots), connections, and the shared rate budget.

State table schema (created by the template): partition key `pk` (S), sort key `sk` (S), TTL attribute
`expires_at` (N). Connections table: partition key `connection_id` (S).

Timestamps are stored as second-precision ISO `Z` strings (`timeutil.to_z`): fixed width, so DynamoDB's
string comparison orders them in time, which the cursor's "never backwards" condition relies on.
Nothing here puts item contents in logs or exception messages.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.adapters.rate_windows import (
    DEFAULT_ACTION_SHARE_PER_CONNECTION,
    DEFAULT_RESERVED_FOR_ACTIONS,
    DEFAULT_RESERVED_FOR_POLLS,
    TOTAL,
    WindowedRateBudget,
    full_counter,
    window_start,
)
from cliniko_connector.errors import (
    ConnectionNotFound,
    CursorConflict,
    StateStoreError,
)
from cliniko_connector.models import Connection, RecordSnapshot, RecordState, StreamCursor, StreamKey
from cliniko_connector.ports import StreamStats
from cliniko_connector.timeutil import parse_ts, to_z

if TYPE_CHECKING:
    from cliniko_connector.hookmodels import Hook, HookLogEntry

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
CURSOR_SK = "CURSOR"
PENALTY_SK = "PENALTY"
SNAPSHOT_SK_PREFIX = "REC#"
STATS_SK_PREFIX = "STATS#"
STATS_HOUR_SK_PREFIX = "STATS#H#"
CAUGHT_UP_SK = "STATS#CAUGHT_UP"
# Hourly event counters are kept this long after their hour, for `status`.
STATS_TTL_SECONDS = 3 * 86400
# Window counters are kept a few minutes past their window for `usage` and debugging.
RATE_ITEM_TTL_SLACK = 300
# A 429 blocks at most this many upcoming windows on the shared table; longer penalties are re-learned.
MAX_PENALTY_WINDOWS = 10


# -- attribute values ---------------------------------------------------------------------------


def _number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("DynamoDB numbers must be finite")
    return str(value) if isinstance(value, int) else format(Decimal(repr(value)), "f")


def to_attribute(value: Any) -> AttributeValue:
    """A JSON-like Python value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v) for k, v in value.items()}}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def from_attribute(value: AttributeValue) -> Any:
    """The inverse of `to_attribute`; numbers come back as int when integral in form, else float."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        text = str(inner)
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attribute(v) for v in inner]
    if kind == "M":
        return {k: from_attribute(v) for k, v in inner.items()}
    raise TypeError(f"unsupported DynamoDB attribute type {kind}")


def _s(value: str) -> AttributeValue:
    return {"S": value}


def _n(value: int | float) -> AttributeValue:
    return {"N": _number(value)}


def _is_conditional_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _BatchRetry:
    """Resends BatchGetItem/BatchWriteItem leftovers with backoff, a bounded number of times."""

    def __init__(self, max_attempts: int, sleep: Callable[[float], None], jitter: Callable[[], float]) -> None:
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.jitter = jitter

    def backoff(self, attempt: int) -> None:
        self.sleep(min(2.0, 0.05 * 2 ** (attempt - 1)) * (0.5 + 0.5 * self.jitter()))


# -- stream state -------------------------------------------------------------------------------


class DynamoStreamStateStore:
    """Implements `ports.StreamStateStore` on the state table.

    Items per stream (`pk = STREAM#{connection_id}#{resource}`): `sk = CURSOR` (conditional on version, on
    the position never moving backwards and on no other owner's unexpired lease; the lease, when and how far
    the stream last caught up are its attributes), `sk = REC#{id}` (one item per
    record: its settled snapshot at the top level, pending ones in a list; expiring `snapshot_ttl_seconds`
    after its last write), and for `status` `sk = STATS#H#{hour}`
    (events published that hour: an atomic `ADD`, expiring after `STATS_TTL_SECONDS`). Reads are strongly consistent: a
    worker that takes over a lease must see what the previous one wrote.
    """

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        snapshot_ttl_seconds: int = 400 * 86400,
        now: Callable[[], float] = time.time,
        *,
        max_batch_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.table_name = table_name
        self._client = client if client is not None else boto3_client("dynamodb")
        self._snapshot_ttl = snapshot_ttl_seconds
        self._now = now
        self._retry = _BatchRetry(max_batch_attempts, sleep, jitter)

    def __repr__(self) -> str:
        return f"DynamoStreamStateStore(table_name={self.table_name!r})"

    @staticmethod
    def partition_key(stream: StreamKey) -> str:
        return f"STREAM#{stream.connection_id}#{stream.resource}"

    # -- cursor -----------------------------------------------------------------------------------

    def get_cursor(self, stream: StreamKey) -> StreamCursor | None:
        response = self._client.get_item(
            TableName=self.table_name, Key=self._key(stream, CURSOR_SK), ConsistentRead=True
        )
        item = response.get("Item")
        return _cursor_from_item(item) if item else None

    def get_cursors(self, streams: Sequence[StreamKey], *, consistent: bool = True) -> dict[StreamKey, StreamCursor]:
        by_pk = {self.partition_key(s): s for s in streams}
        found: dict[StreamKey, StreamCursor] = {}
        for chunk in _chunks(list(by_pk), BATCH_GET_LIMIT):
            keys = [{"pk": _s(pk), "sk": _s(CURSOR_SK)} for pk in chunk]
            request = {self.table_name: {"Keys": keys, "ConsistentRead": consistent}}
            for item in self._batch_get(request):
                found[by_pk[item["pk"]["S"]]] = _cursor_from_item(item)
        return found

    def put_cursor(
        self,
        stream: StreamKey,
        cursor: StreamCursor,
        *,
        expected_version: int | None,
        owner: str | None = None,
        lease_seconds: int = 0,
    ) -> StreamCursor:
        version = 1 if expected_version is None else expected_version + 1
        now = self._now()
        item = {**self._key(stream, CURSOR_SK), **_cursor_to_item(cursor, version)}
        if owner and lease_seconds:
            item["lease_owner"] = _s(owner)
            item["lease_until"] = _n(now + lease_seconds)
        if expected_version is None:
            condition = "attribute_not_exists(pk)"
            names: dict[str, str] = {}
            values: dict[str, AttributeValue] = {}
        else:
            condition = (
                "#v = :expected AND #p <= :position AND (attribute_not_exists(#owner) OR #owner = :me OR #until < :now)"
            )
            names = {"#v": "version", "#p": "position", "#owner": "lease_owner", "#until": "lease_until"}
            values = {
                ":expected": _n(expected_version),
                ":position": item["position"],
                ":me": _s(owner or ""),
                ":now": _n(now),
            }
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": item,
            "ConditionExpression": condition,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
            kwargs["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**kwargs)
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise CursorConflict(
                    f"cursor of stream {stream} was changed by another writer, is leased to another or would move "
                    "backwards"
                ) from None
            raise
        return _cursor_from_item(item)

    def leased_by(self, cursor: StreamCursor) -> str | None:
        if cursor.lease_owner is None or (cursor.lease_until or 0.0) < self._now():
            return None
        return cursor.lease_owner

    # -- records -----------------------------------------------------------------------------------

    def get_records(self, stream: StreamKey, ids: Sequence[str]) -> dict[str, RecordState]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, RecordState] = {}
        for chunk in _chunks(unique, BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [self._key(stream, SNAPSHOT_SK_PREFIX + record_id) for record_id in chunk],
                    "ConsistentRead": True,
                }
            }
            for item in self._batch_get(request):
                state = _record_from_item(item)
                found[state.id] = state
        return found

    def put_records(self, stream: StreamKey, states: Sequence[RecordState]) -> None:
        # One request may not name the same key twice; the last state of a record wins.
        latest = list({state.id: state for state in states}.values())
        expires_at = int(self._now()) + self._snapshot_ttl
        for chunk in _chunks(latest, BATCH_WRITE_LIMIT):
            self._batch_write(
                [
                    {
                        "PutRequest": {
                            "Item": {
                                **self._key(stream, SNAPSHOT_SK_PREFIX + s.id),
                                **_record_item(s, expires_at),
                            }
                        }
                    }
                    for s in chunk
                ]
            )

    def list_records(self, stream: StreamKey) -> Iterator[RecordState]:
        for page in self._query_pages(self._prefix_query(stream, SNAPSHOT_SK_PREFIX)):
            yield from (_record_from_item(item) for item in page)

    def delete_records(self, stream: StreamKey, ids: Sequence[str]) -> None:
        keys = [self._key(stream, SNAPSHOT_SK_PREFIX + record_id) for record_id in dict.fromkeys(ids)]
        for chunk in _chunks(keys, BATCH_WRITE_LIMIT):
            self._batch_write([{"DeleteRequest": {"Key": key}} for key in chunk])

    def delete_stream(self, stream: StreamKey) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ProjectionExpression": "#pk, #sk",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": _s(self.partition_key(stream))},
            "ConsistentRead": True,
        }
        for page in self._query_pages(kwargs):
            keys = [{"pk": item["pk"], "sk": item["sk"]} for item in page]
            for chunk in _chunks(keys, BATCH_WRITE_LIMIT):
                self._batch_write([{"DeleteRequest": {"Key": key}} for key in chunk])

    def _prefix_query(self, stream: StreamKey, prefix: str) -> dict[str, Any]:
        """Query arguments for a stream's items whose sort key starts with `prefix`."""
        return {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": _s(self.partition_key(stream)), ":prefix": _s(prefix)},
            "ConsistentRead": True,
        }

    def _query_pages(self, kwargs: dict[str, Any]) -> Iterator[list[Item]]:
        """The items of a Query, one page at a time (each page read before the next is asked for)."""
        while True:
            page = self._client.query(**kwargs)
            yield page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    # -- statistics -------------------------------------------------------------------------------

    def record_events(self, stream: StreamKey, hour: int, count: int) -> None:
        if count <= 0:
            return
        self._client.update_item(
            TableName=self.table_name,
            Key=self._key(stream, f"{STATS_HOUR_SK_PREFIX}{hour:010d}"),
            UpdateExpression="ADD #n :n SET expires_at = :exp",
            ExpressionAttributeNames={"#n": "events"},
            ExpressionAttributeValues={":n": _n(count), ":exp": _n(hour + 3600 + STATS_TTL_SECONDS)},
        )

    def get_stats(self, stream: StreamKey, since_hour: int) -> StreamStats:
        kwargs = self._prefix_query(stream, STATS_SK_PREFIX)
        hours: dict[int, int] = {}
        caught_up_at: datetime | None = None
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items", []):
                sk = item["sk"]["S"]
                if sk == CAUGHT_UP_SK and "caught_up_at" in item:  # written before it moved into the cursor
                    caught_up_at = parse_ts(item["caught_up_at"]["S"])
                elif sk.startswith(STATS_HOUR_SK_PREFIX):
                    hour = int(sk.removeprefix(STATS_HOUR_SK_PREFIX))
                    if hour >= since_hour:
                        hours[hour] = int(item.get("events", {}).get("N", "0"))
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        cursor = self.get_cursor(stream)
        if cursor is not None and cursor.caught_up_at is not None:
            caught_up_at = max(cursor.caught_up_at, caught_up_at or cursor.caught_up_at)
        return StreamStats(events_by_hour=hours, caught_up_at=caught_up_at)

    # -- internals --------------------------------------------------------------------------------

    def _key(self, stream: StreamKey, sk: str) -> Item:
        return {"pk": _s(self.partition_key(stream)), "sk": _s(sk)}

    def _batch_get(self, request: dict[str, Any]) -> list[Item]:
        items: list[Item] = []
        for attempt in range(1, self._retry.max_attempts + 1):
            if attempt > 1:
                self._retry.backoff(attempt - 1)
            response = self._client.batch_get_item(RequestItems=request)
            items.extend(response.get("Responses", {}).get(self.table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request.get(self.table_name, {}).get("Keys"):
                return items
        left = len(request[self.table_name]["Keys"])
        raise StateStoreError(f"BatchGetItem left {left} key(s) unprocessed after {self._retry.max_attempts} attempts")

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table_name: requests}
        for attempt in range(1, self._retry.max_attempts + 1):
            if attempt > 1:
                self._retry.backoff(attempt - 1)
            response = self._client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending.get(self.table_name):
                return
        left = len(pending[self.table_name])
        raise StateStoreError(
            f"BatchWriteItem left {left} item(s) unprocessed after {self._retry.max_attempts} attempts"
        )


def _cursor_to_item(cursor: StreamCursor, version: int) -> Item:
    item: Item = {
        "position": _s(to_z(cursor.position)),
        "origin": _s(to_z(cursor.origin)),
        "version": _n(version),
        "events_published": _n(cursor.events_published),
        "backfill_done": _n(cursor.backfill_done),
    }
    if cursor.last_poll_at is not None:
        item["last_poll_at"] = _s(to_z(cursor.last_poll_at))
    if cursor.last_error is not None:
        item["last_error"] = _s(cursor.last_error)
    if cursor.backfill_total is not None:
        item["backfill_total"] = _n(cursor.backfill_total)
    if cursor.reconcile_from is not None:
        item["reconcile_from"] = _s(to_z(cursor.reconcile_from))
    if cursor.reconcile_after_id is not None:
        item["reconcile_after_id"] = _s(cursor.reconcile_after_id)
    if cursor.reconciled_at is not None:
        item["reconciled_at"] = _s(to_z(cursor.reconciled_at))
    if cursor.sort_not_honoured_at is not None:
        item["sort_not_honoured_at"] = _s(to_z(cursor.sort_not_honoured_at))
    if cursor.caught_up_at is not None:
        item["caught_up_at"] = _s(to_z(cursor.caught_up_at))
    if cursor.seen_tail is not None:
        item["seen_tail"] = _s(cursor.seen_tail)
    return item


def _cursor_from_item(item: Item) -> StreamCursor:
    def optional(name: str) -> Any:
        return from_attribute(item[name]) if name in item else None

    def timestamp(name: str) -> datetime | None:
        value = optional(name)
        return parse_ts(value) if value else None

    return StreamCursor(
        position=parse_ts(item["position"]["S"]),
        origin=parse_ts(item["origin"]["S"]),
        version=int(item["version"]["N"]),
        last_poll_at=timestamp("last_poll_at"),
        reconcile_from=timestamp("reconcile_from"),
        reconcile_after_id=optional("reconcile_after_id"),
        reconciled_at=timestamp("reconciled_at"),
        sort_not_honoured_at=timestamp("sort_not_honoured_at"),
        caught_up_at=timestamp("caught_up_at"),
        seen_tail=optional("seen_tail"),
        lease_owner=optional("lease_owner"),
        lease_until=optional("lease_until"),
        last_error=optional("last_error"),
        events_published=int(optional("events_published") or 0),
        backfill_total=optional("backfill_total"),
        backfill_done=int(optional("backfill_done") or 0),
    )


def _record_item(state: RecordState, expires_at: int) -> Item:
    item: Item = {"expires_at": _n(expires_at)}
    if state.settled is not None:
        item.update(_snapshot_attributes(state.settled))
    if state.pending:
        item["pending"] = {"L": [{"M": _snapshot_attributes(s)} for s in state.pending]}
    if state.sent:
        item["sent"] = _s(json.dumps(list(state.sent), separators=(",", ":")))
    if state.walked is not None:
        item["walked"] = _s(state.walked)
    return item


def _snapshot_attributes(snapshot: RecordSnapshot) -> Item:
    return {
        "updated_at": _s(snapshot.updated_at),
        "fingerprint": _s(snapshot.fingerprint),
        # One string rather than a map: a map of 30-odd fields costs botocore 30-odd nested values to validate
        # and serialize, per record and per write (measured: most of the poller's CPU in a backfill).
        "field_hashes": _s(json.dumps(snapshot.field_hashes, separators=(",", ":"), sort_keys=True)),
        "watched": _s(json.dumps(snapshot.watched, separators=(",", ":"), sort_keys=True, default=str)),
    }


def _record_from_item(item: Item) -> RecordState:
    record_id = item["sk"]["S"].removeprefix(SNAPSHOT_SK_PREFIX)
    return RecordState(
        id=record_id,
        settled=_snapshot_from_attributes(record_id, item) if "fingerprint" in item else None,
        pending=tuple(_snapshot_from_attributes(record_id, p["M"]) for p in item.get("pending", {}).get("L", [])),
        sent=tuple(json.loads(item["sent"]["S"])) if "sent" in item else (),
        walked=item["walked"]["S"] if "walked" in item else None,
    )


def _snapshot_from_attributes(record_id: str, item: Item) -> RecordSnapshot:
    return RecordSnapshot(
        id=record_id,
        updated_at=item["updated_at"]["S"],
        fingerprint=item["fingerprint"]["S"],
        field_hashes=json.loads(item["field_hashes"]["S"]) if "field_hashes" in item else {},
        watched=json.loads(item["watched"]["S"]) if "watched" in item else {},
    )


# -- connections --------------------------------------------------------------------------------


class DynamoConnectionStore:
    """Implements `ports.ConnectionStore` on the connections table (key `connection_id`).

    Each `Connection` field is a plain attribute (`triggers` a list); unset optional fields are omitted.
    """

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client if client is not None else boto3_client("dynamodb")

    def __repr__(self) -> str:
        return f"DynamoConnectionStore(table_name={self.table_name!r})"

    def get(self, connection_id: str) -> Connection:
        response = self._client.get_item(
            TableName=self.table_name, Key={"connection_id": _s(connection_id)}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            raise ConnectionNotFound(f"no connection {connection_id!r}")
        return _connection_from_item(item)

    def list(self) -> list[Connection]:
        kwargs: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        found: list[Connection] = []
        while True:
            page = self._client.scan(**kwargs)
            found.extend(_connection_from_item(item) for item in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return sorted(found, key=lambda c: c.id)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put(self, connection: Connection) -> None:
        self._client.put_item(TableName=self.table_name, Item=_connection_to_item(connection))

    def delete(self, connection_id: str) -> None:
        self._client.delete_item(TableName=self.table_name, Key={"connection_id": _s(connection_id)})


def _connection_to_item(connection: Connection) -> Item:
    data = connection.model_dump(mode="json", exclude_none=True)
    data["connection_id"] = data.pop("id")
    return {name: to_attribute(value) for name, value in data.items()}


def _connection_from_item(item: Item) -> Connection:
    data = {name: from_attribute(value) for name, value in item.items()}
    data["id"] = data.pop("connection_id")
    return Connection.model_validate(data)


# -- rate budget --------------------------------------------------------------------------------


class DynamoRateBudget(WindowedRateBudget):
    """Implements `ports.RateBudget` on the state table, shared by every worker of an API key.

    One item per key per fixed window (`pk = RATE#{key_id}`, `sk = W#{window_start}`) holds the window's
    counters (`n` every request, `p` polls, `a` actions, `a#<connection id>` a connection's actions; see
    `rate_windows`): an acquisition is a single conditional `ADD` of one to each counter it uses, which
    fails once any of them reaches its cap. A 429 (`penalize`) is recorded in `sk = PENALTY` and stamped as
    `blocked_until` on the window items it covers, so every worker learns it from the same UpdateItem that
    would have counted its request (the old item comes back with the condition failure). Each process also
    remembers penalties and the counters of windows it was refused in, so waiting callers cost no further
    DynamoDB calls.

    `key_id` is a hash of the API key computed by the caller, never the key itself.
    """

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        limit_per_minute: Callable[[str], int] | int = 200,
        reserved_for_actions: float = DEFAULT_RESERVED_FOR_ACTIONS,
        window_seconds: int = 60,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        *,
        reserved_for_polls: float = DEFAULT_RESERVED_FOR_POLLS,
        action_share_per_connection: float = DEFAULT_ACTION_SHARE_PER_CONNECTION,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        max_jitter_seconds: float = 1.0,
    ) -> None:
        super().__init__(
            limit_per_minute,
            reserved_for_actions,
            window_seconds,
            sleep,
            now,
            reserved_for_polls=reserved_for_polls,
            action_share_per_connection=action_share_per_connection,
            monotonic=monotonic,
            jitter=jitter,
            max_jitter_seconds=max_jitter_seconds,
        )
        self.table_name = table_name
        self._client = client if client is not None else boto3_client("dynamodb")
        self._lock = threading.Lock()
        self._penalties: dict[str, float] = {}
        # Per key: the window start and the counters a refused update showed (they only grow in a window).
        self._seen: dict[str, tuple[int, dict[str, int]]] = {}

    def __repr__(self) -> str:
        return f"DynamoRateBudget(table_name={self.table_name!r}, window_seconds={self._window})"

    def penalize(self, key_id: str, until_epoch: float) -> None:
        self._drop_prepaid(key_id)
        with self._lock:
            self._penalties[key_id] = max(until_epoch, self._penalties.get(key_id, 0.0))
        now = self._now()
        if until_epoch <= now:
            return
        self._set_if_later(
            self._rate_key(key_id, PENALTY_SK), "until", until_epoch, int(until_epoch) + RATE_ITEM_TTL_SLACK
        )
        first = window_start(now, self._window)
        last = min(window_start(until_epoch, self._window), first + (MAX_PENALTY_WINDOWS - 1) * self._window)
        for start in range(first, last + 1, self._window):
            self._set_if_later(
                self._rate_key(key_id, f"W#{start}"),
                "blocked_until",
                until_epoch,
                start + self._window + RATE_ITEM_TTL_SLACK,
            )

    def usage(self, key_id: str, *, purpose: Literal["poll", "action"] = "action") -> tuple[int, int]:
        """Requests counted in the current window and the cap for `purpose` (for the status CLI)."""
        start = window_start(self._now(), self._window)
        response = self._client.get_item(
            TableName=self.table_name, Key=self._rate_key(key_id, f"W#{start}"), ConsistentRead=True
        )
        item = response.get("Item") or {}
        used = int(item[TOTAL]["N"]) if TOTAL in item else 0
        return used, self.cap(key_id, purpose)

    # -- internals --------------------------------------------------------------------------------

    def _rate_key(self, key_id: str, sk: str) -> Item:
        return {"pk": _s(f"RATE#{key_id}"), "sk": _s(sk)}

    def _try(self, key_id: str, caps: Mapping[str, int], now: float, requests: int = 1) -> float | None:
        known = self._known_wait(key_id, caps, now, requests)
        return known if known is not None else self._try_count(key_id, caps, now, requests)

    def _room(self, key_id: str, caps: Mapping[str, int], now: float) -> int:
        with self._lock:
            seen_start, seen = self._seen.get(key_id, (-1, {}))
        if seen_start != window_start(now, self._window) or not seen:
            return 0
        return max(0, min(cap - seen.get(name, 0) for name, cap in caps.items()))

    def _known_wait(self, key_id: str, caps: Mapping[str, int], now: float, requests: int = 1) -> float | None:
        """When this process already knows the requests must wait: a penalty, or a counter it saw too full."""
        start = window_start(now, self._window)
        with self._lock:
            penalty = self._penalties.get(key_id, 0.0)
            seen_start, seen = self._seen.get(key_id, (-1, {}))
        if penalty > now:
            return penalty
        if seen_start == start and full_counter(seen, {n: cap - requests + 1 for n, cap in caps.items()}) is not None:
            return float(start + self._window)
        return None

    def _try_count(self, key_id: str, caps: Mapping[str, int], now: float, requests: int = 1) -> float | None:
        """Count `requests` in the current window in one conditional `ADD`; None on success, else the epoch
        to wait for."""
        start = window_start(now, self._window)
        counters = list(caps)
        names = {f"#c{i}": name for i, name in enumerate(counters)}
        under = " AND ".join(f"(attribute_not_exists(#c{i}) OR #c{i} < :c{i})" for i in range(len(counters)))
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._rate_key(key_id, f"W#{start}"),
                UpdateExpression="ADD " + ", ".join(f"{name} :n" for name in names) + " SET expires_at = :exp",
                ConditionExpression=f"{under} AND (attribute_not_exists(#b) OR #b <= :now)",
                ExpressionAttributeNames={**names, "#b": "blocked_until"},
                ExpressionAttributeValues={
                    ":n": _n(requests),
                    **{f":c{i}": _n(caps[name] - requests + 1) for i, name in enumerate(counters)},
                    ":now": _n(now),
                    ":exp": _n(start + self._window + RATE_ITEM_TTL_SLACK),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            old: Item = exc.response.get("Item") or {}
        blocked = float(old["blocked_until"]["N"]) if "blocked_until" in old else 0.0
        counts = {name: int(old[name]["N"]) for name in counters if name in old}
        with self._lock:
            if blocked > now:
                self._penalties[key_id] = max(blocked, self._penalties.get(key_id, 0.0))
                return blocked
            seen_start, seen = self._seen.get(key_id, (-1, {}))
            merged = {**seen, **counts} if seen_start == start else counts
            self._seen[key_id] = (start, merged)
        return float(start + self._window)

    def _set_if_later(self, key: Item, attribute: str, value: float, expires_at: int) -> None:
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="SET #a = :v, expires_at = :exp",
                ConditionExpression="attribute_not_exists(#a) OR #a < :v",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":v": _n(value), ":exp": _n(expires_at)},
            )
        except ClientError as exc:
            # A later penalty is already recorded.
            if not _is_conditional_failure(exc):
                raise


# -- inbound hooks ------------------------------------------------------------------------------

HOOKS_PK = "HOOKS"  # every hook's definition: one partition, one item per hook (sk = its name)
HOOK_PK_PREFIX = "HOOK#"  # one hook's ledger: replay marks, minute counters, request outcomes
HOOK_SEEN_PREFIX = "SEEN#"
HOOK_RATE_PREFIX = "RATE#"
HOOK_LOG_PREFIX = "LOG#"
HOOK_LOG_TTL_SECONDS = 7 * 86400
HOOK_RATE_TTL_SECONDS = 300


class DynamoHookStore:
    """Implements `ports.HookStore` on the state table: partition `HOOKS`, sort key the hook's name, the hook
    as JSON in `hook` (its map keeps its own shape, with no DynamoDB type juggling)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client if client is not None else boto3_client("dynamodb")

    def __repr__(self) -> str:
        return f"DynamoHookStore(table_name={self.table_name!r})"

    def get(self, name: str) -> Hook:
        from cliniko_connector.errors import HookNotFound

        item = self._client.get_item(
            TableName=self.table_name, Key={"pk": _s(HOOKS_PK), "sk": _s(name)}, ConsistentRead=True
        ).get("Item")
        if not item:
            raise HookNotFound(f"no hook {name!r}")
        return _hook_from_item(item)

    def list(self) -> list[Hook]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(HOOKS_PK)},
            "ConsistentRead": True,
        }
        found: list[Hook] = []
        while True:
            page = self._client.query(**kwargs)
            found.extend(_hook_from_item(item) for item in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put(self, hook: Hook) -> None:
        self._client.put_item(
            TableName=self.table_name,
            Item={"pk": _s(HOOKS_PK), "sk": _s(hook.name), "hook": _s(hook.model_dump_json())},
        )

    def delete(self, name: str) -> None:
        self._client.delete_item(TableName=self.table_name, Key={"pk": _s(HOOKS_PK), "sk": _s(name)})


def _hook_from_item(item: Item) -> Hook:
    from cliniko_connector.hookmodels import Hook

    return Hook.model_validate_json(item["hook"]["S"])


class DynamoHookLedger:
    """Implements `ports.HookLedger` on the state table, partition `HOOK#<name>`. Every item expires (TTL
    `expires_at`); a replay mark is checked against its own `expires_at` too, as DynamoDB deletes late."""

    def __init__(self, table_name: str, client: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table_name = table_name
        self._client = client if client is not None else boto3_client("dynamodb")
        self._clock = clock

    def __repr__(self) -> str:
        return f"DynamoHookLedger(table_name={self.table_name!r})"

    def _key(self, name: str, sk: str) -> Item:
        return {"pk": _s(HOOK_PK_PREFIX + name), "sk": _s(sk)}

    def first_use(self, name: str, token: str, expires_at: float) -> bool:
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={**self._key(name, HOOK_SEEN_PREFIX + token), "expires_at": _n(int(expires_at))},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": _n(int(self._clock()))},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def forget(self, name: str, token: str) -> None:
        self._client.delete_item(TableName=self.table_name, Key=self._key(name, HOOK_SEEN_PREFIX + token))

    def count_request(self, name: str, minute: int) -> int:
        response = self._client.update_item(
            TableName=self.table_name,
            Key=self._key(name, f"{HOOK_RATE_PREFIX}{minute}"),
            UpdateExpression="ADD n :one SET expires_at = :exp",
            ExpressionAttributeValues={":one": _n(1), ":exp": _n(minute + 60 + HOOK_RATE_TTL_SECONDS)},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["n"]["N"])

    def log(self, name: str, entry: HookLogEntry) -> None:
        self._client.put_item(
            TableName=self.table_name,
            Item={
                **self._key(name, f"{HOOK_LOG_PREFIX}{entry.at}#{entry.request_id}"),
                "entry": _s(entry.model_dump_json()),
                "expires_at": _n(int(self._clock()) + HOOK_LOG_TTL_SECONDS),
            },
        )

    def recent(self, name: str, limit: int) -> list[HookLogEntry]:
        from cliniko_connector.hookmodels import HookLogEntry

        response = self._client.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :log)",
            ExpressionAttributeValues={":pk": _s(HOOK_PK_PREFIX + name), ":log": _s(HOOK_LOG_PREFIX)},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [HookLogEntry.model_validate_json(item["entry"]["S"]) for item in response.get("Items", [])]

    def forget_hook(self, name: str) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(HOOK_PK_PREFIX + name)},
            "ProjectionExpression": "pk, sk",
        }
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items", []):
                self._client.delete_item(TableName=self.table_name, Key={"pk": item["pk"], "sk": item["sk"]})
            if not page.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
