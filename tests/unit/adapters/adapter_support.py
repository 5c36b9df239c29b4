"""Helpers shared by the adapter tests: a fake clock, table schemas, client proxies that count calls and
inject the failures moto never produces, and small event builders."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from cliniko_connector.adapters.eventbridge import entry_size
from cliniko_connector.models import BusEvent
from cliniko_tools.local.stack import create_declared_table

REGION = "us-east-1"
STATE_TABLE = "cliniko-connector-state"
CONNECTIONS_TABLE = "cliniko-connector-connections"
BUS_NAME = "cliniko-connector-test"
# Aligned to a 60-second window, so tests can reason about window boundaries.
WINDOW_ALIGNED_EPOCH = 1_800_000_000.0


class FakeClock:
    """Wall clock, monotonic clock and sleep in one: sleeping advances both clocks and is recorded."""

    def __init__(self, wall: float = WINDOW_ALIGNED_EPOCH + 10, mono: float = 5_000.0) -> None:
        self.wall = wall
        self.mono = mono
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def client_error(code: str, operation: str, message: str = "injected") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class ClientProxy:
    """Wraps a boto3 client: counts calls per operation and lets a test replace an operation.

    An override receives the real bound method and the call's keyword arguments."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.overrides: dict[str, Callable[..., Any]] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(**kwargs: Any) -> Any:
            self.calls[name] += 1
            self.requests.append((name, kwargs))
            override = self.overrides.get(name)
            return override(attr, **kwargs) if override else attr(**kwargs)

        return call


class FlakyEventsClient:
    """A PutEvents client over moto that fails chosen entries by index, as EventBridge can and moto can't.

    Entries chosen to fail are not forwarded; the response puts an ErrorCode at their index. Everything
    moto accepted is kept in `accepted` (as sent), and each call's entry count in `calls`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.accepted: list[dict[str, Any]] = []
        self.calls: list[int] = []
        self.requests: list[list[dict[str, Any]]] = []
        self._fail_budget = 0
        self._fail_code = "InternalFailure"
        self._permanent_code: str | None = None
        self._throttle_calls = 0
        self._fail_indexes: dict[int, set[int]] = {}

    def fail_next(self, n: int, code: str = "InternalFailure") -> None:
        self._fail_budget, self._fail_code = n, code

    def fail_permanently(self, enabled: bool = True, code: str = "InternalFailure") -> None:
        self._permanent_code = code if enabled else None

    def fail_indexes_of_call(self, call_number: int, indexes: set[int], code: str = "ThrottlingException") -> None:
        """Fail exactly these entry indexes of the `call_number`-th call (1-based)."""
        self._fail_indexes[call_number] = indexes
        self._fail_code = code

    def throttle_next_calls(self, n: int) -> None:
        self._throttle_calls = n

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(len(Entries))
        self.requests.append(list(Entries))
        if self._throttle_calls:
            self._throttle_calls -= 1
            raise client_error("ThrottlingException", "PutEvents", "Rate exceeded")
        chosen = self._fail_indexes.pop(len(self.calls), set())
        outcome: list[str | None] = []
        for index in range(len(Entries)):
            if self._permanent_code:
                outcome.append(self._permanent_code)
            elif index in chosen:
                outcome.append(self._fail_code)
            elif self._fail_budget > 0:
                self._fail_budget -= 1
                outcome.append(self._fail_code)
            else:
                outcome.append(None)
        forwarded = [entry for entry, code in zip(Entries, outcome, strict=True) if code is None]
        real = self._client.put_events(Entries=forwarded)["Entries"] if forwarded else []
        results: list[dict[str, Any]] = []
        real_iter = iter(real)
        for entry, code in zip(Entries, outcome, strict=True):
            if code is None:
                result = next(real_iter)
                if "EventId" in result:
                    self.accepted.append(entry)
                results.append(result)
            else:
                results.append({"ErrorCode": code, "ErrorMessage": "injected"})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}


def create_state_table(client: Any, name: str = STATE_TABLE) -> None:
    create_declared_table(client, "StateTable", name)


def create_connections_table(client: Any, name: str = CONNECTIONS_TABLE) -> None:
    create_declared_table(client, "ConnectionsTable", name)


def small_event(n: int, **detail: Any) -> BusEvent:
    return BusEvent(source="cliniko", detail_type="Patient Updated", detail={"id": str(n), **detail})


def event_of_size(n: int, target_bytes: int) -> BusEvent:
    """An event whose PutEvents entry size is exactly `target_bytes`."""
    base = small_event(n, pad="")
    padding = target_bytes - entry_size(base)
    assert padding >= 0
    return small_event(n, pad="x" * padding)


def accepted_details(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(entry["Detail"]) for entry in entries]


class PublisherHarness:
    """A publisher plus a view of what the bus accepted, for the real adapter and the fake alike."""

    def __init__(
        self,
        publisher: Any,
        accepted: Callable[[], list[tuple[str, dict[str, Any]]]],
        calls: Callable[[], list[int]],
        fail_next: Callable[..., None],
        fail_permanently: Callable[..., None],
    ) -> None:
        self.publisher = publisher
        self.accepted = accepted
        self.calls = calls
        self.fail_next = fail_next
        self.fail_permanently = fail_permanently


RateBudgetFactory = Callable[..., Any]
