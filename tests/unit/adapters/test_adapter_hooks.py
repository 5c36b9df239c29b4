"""The hook ports, on DynamoDB (moto) and in memory alike: definitions round-trip, a replay mark holds until it
expires (even before DynamoDB's TTL deletes it), minute counters count, the log reads newest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cliniko_connector.adapters.dynamodb import DynamoHookLedger, DynamoHookStore
from cliniko_connector.adapters.memory import InMemoryHookLedger, InMemoryHookStore
from cliniko_connector.errors import HookNotFound
from cliniko_connector.hookmodels import HookLogEntry
from tests.unit.adapters.adapter_support import FakeClock
from tests.unit.hooks.support import make_hook


@pytest.fixture(params=["dynamodb", "memory"])
def stores(request: pytest.FixtureRequest, clock: FakeClock) -> tuple[Any, Any]:
    if request.param == "memory":
        return InMemoryHookStore(), InMemoryHookLedger(clock=clock.now)
    table: str = request.getfixturevalue("state_table")
    ddb: Callable[..., Any] = request.getfixturevalue("ddb")
    return DynamoHookStore(table, client=ddb), DynamoHookLedger(table, client=ddb, clock=clock.now)


def test_a_hook_round_trips_and_a_missing_one_is_hook_not_found(stores: tuple[Any, Any]) -> None:
    hooks, _ = stores
    hook = make_hook(created_at="2026-12-01T00:00:00Z")
    hooks.put(hook)
    hooks.put(make_hook("other"))
    assert hooks.get("signup") == hook
    assert [h.name for h in hooks.list()] == ["other", "signup"]
    hooks.delete("signup")
    with pytest.raises(HookNotFound):
        hooks.get("signup")


def test_a_replay_mark_holds_until_it_expires_and_can_be_forgotten(stores: tuple[Any, Any], clock: FakeClock) -> None:
    _, ledger = stores
    assert ledger.first_use("signup", "t1", clock.now() + 600)
    assert not ledger.first_use("signup", "t1", clock.now() + 600)
    assert ledger.first_use("other", "t1", clock.now() + 600)  # per hook
    clock.wall += 601
    assert ledger.first_use("signup", "t1", clock.now() + 600)  # expired, though not yet deleted
    ledger.forget("signup", "t1")
    assert ledger.first_use("signup", "t1", clock.now() + 600)


def test_minute_counters_and_the_log(stores: tuple[Any, Any]) -> None:
    _, ledger = stores
    assert [ledger.count_request("signup", 60) for _ in range(3)] == [1, 2, 3]
    assert ledger.count_request("signup", 120) == 1
    for i in range(3):
        ledger.log("signup", HookLogEntry(request_id=f"r{i}", at=f"2026-12-01T00:00:0{i}Z", status=202))
    assert [e.request_id for e in ledger.recent("signup", 2)] == ["r2", "r1"]
    ledger.forget_hook("signup")
    assert ledger.recent("signup", 5) == []
    assert ledger.count_request("signup", 60) == 1
