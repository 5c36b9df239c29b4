"""200 fuzzed bodies per action behind a hook: each gets 202 or 400 (never a 5xx, never an exception), and
what a 202 publishes is an action request the action function accepts as it is."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.eventmodels import ActionRequest
from cliniko_connector.hookmodels import HookMap
from cliniko_connector.usecases.actions import validate_input
from tests.unit.hooks.support import make_hook, rig

BODIES_PER_ACTION = 200
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    1.5e308,
    "",
    " ",
    "x" * 3000,
    "\u0000",
    "💥",
    "<script>",
    "2026-02-30",
    [],
    {},
    [None],
    {"a": {"b": {"c": [1]}}},
    "$.data",
    "<id>",
    "1 OR 1=1",
    "../../etc",
]


def _mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(ODD_VALUES)
    if isinstance(value, dict) and depth < 4:
        out = {k: _mutate(v, rng, depth + 1) for k, v in value.items() if rng.random() > 0.1}
        if rng.random() < 0.1:
            out[rng.choice(["extra", "id", "__proto__", "🙂"])] = rng.choice(ODD_VALUES)
        return out
    if isinstance(value, list) and depth < 4:
        return [_mutate(v, rng, depth + 1) for v in value] + ([rng.choice(ODD_VALUES)] if roll > 0.9 else [])
    return value


def _body(sample: dict[str, Any], rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice([b"", b"{", b"[]", b"null", b'{"fields": ', bytes(rng.randrange(256) for _ in range(40))])
    if roll < 0.08:  # nesting deeper than any input, and deeper than Python's own recursion limit
        depth = rng.choice([40, 3000])
        return b'{"fields": ' + b'{"a": [' * depth + b"1" + b"]}" * depth + b"}" if rng.random() < 0.5 else b"[" * 5000
    return json.dumps({"fields": _mutate(sample, rng), "ref": rng.choice(["a1", 7, None, "bad key", {}])}).encode()


@pytest.mark.parametrize("action_name", sorted(ACTIONS))
def test_fuzzed_bodies_get_202_or_400_never_a_server_error(action_name: str) -> None:
    action = ACTIONS[action_name]
    sample = dict(action.sample_input)
    hook_map = HookMap(input={field: f"$.fields.{field}" for field in sample}, idempotency_key="$.ref")
    r = rig(make_hook(action=action_name, map=hook_map, rate_limit_per_minute=10**5), allowed=(action_name,))
    rng = random.Random(action_name)
    statuses: dict[int, int] = {}
    assert r.call(None, raw=json.dumps({"fields": sample, "ref": "sample"}).encode())[0] == 202
    for _ in range(BODIES_PER_ACTION):
        r.now[0] += 1  # a new signature each time: the same body twice in one second is a replay
        status, reply = r.call(None, raw=_body(sample, rng))
        statuses[status] = statuses.get(status, 0) + 1
        assert status in (202, 400), (status, reply)
    assert statuses.get(400, 0) > 0  # the fuzz reached the validation, not only the happy path
    for event in r.publisher.events:
        request = ActionRequest.model_validate(event.detail)
        validate_input(action, request.input)
