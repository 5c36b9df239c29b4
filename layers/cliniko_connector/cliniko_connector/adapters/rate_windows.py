"""What every `ports.RateBudget` shares: fixed windows per API key, guaranteed shares per purpose, and
waiting for room.

Each window counts every request (`n`), polls (`p`), actions (`a`) and each connection's actions
(`a#<connection id>`), and a request counts only while every counter it adds to is under its cap:

* polls stop at `1 - reserved_for_actions` of the window, so actions triggered by rules always find room;
* actions stop at `1 - reserved_for_polls` of the window, so a flood of action requests can never starve
  the key's polling (polls always keep `reserved_for_polls` of every window);
* one connection's actions stop at `action_share_per_connection` of the window, so when connections share a
  key one clinic's automations cannot take every other's action budget.

What neither reserve holds is first come, first served. Adapters differ only in how they count a request
(`_try`): in DynamoDB for every worker of a key, or in memory for tests.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Literal

from cliniko_connector.errors import RateBudgetExhausted
from cliniko_connector.settings import RateShares

Purpose = Literal["poll", "action"]

TOTAL = "n"
POLLS = "p"
ACTIONS = "a"

# The deployed defaults: a budget built without shares gets the same guarantees as the stack.
_DEFAULTS = RateShares()
DEFAULT_RESERVED_FOR_ACTIONS = _DEFAULTS.reserved_for_actions
DEFAULT_RESERVED_FOR_POLLS = _DEFAULTS.reserved_for_polls
DEFAULT_ACTION_SHARE_PER_CONNECTION = _DEFAULTS.action_share_per_connection


def connection_counter(connection_id: str) -> str:
    """The window counter of one connection's actions."""
    return f"{ACTIONS}#{connection_id}"


def window_start(epoch: float, window_seconds: int) -> int:
    """The start of the fixed window holding `epoch`: windows are aligned to multiples of their length."""
    return int(epoch // window_seconds) * window_seconds


def share_cap(limit_per_minute: int, share: float, window_seconds: int) -> int:
    """Requests a `share` of the limit allows per window; the per-minute limit is scaled to the window's
    length. Rounded down, so what a cap leaves to the other purpose is never less than its reserve."""
    # The epsilon keeps 100 * 0.7 = 69.99999999999999 from flooring to 69.
    return math.floor(limit_per_minute * window_seconds / 60 * share + 1e-9)


def full_counter(counts: Mapping[str, int], caps: Mapping[str, int]) -> str | None:
    """The first counter of `caps` that `counts` shows at its cap, if any."""
    return next((name for name, cap in caps.items() if counts.get(name, 0) >= cap), None)


class WindowedRateBudget:
    """A rate budget in fixed windows: `acquire` counts a request or waits (with jitter) for the window or
    penalty that holds it up, and gives up before the caller's deadline."""

    def __init__(
        self,
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
        # Raises ValueError (pydantic's ValidationError, naming the share) for shares out of range.
        self.shares = RateShares(
            reserved_for_actions=reserved_for_actions,
            reserved_for_polls=reserved_for_polls,
            action_share_per_connection=action_share_per_connection,
        )
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        self._limit = limit_per_minute
        self._window = window_seconds
        self._sleep = sleep
        self._now = now
        self._monotonic = monotonic
        self._jitter = jitter
        self._max_jitter = max_jitter_seconds
        # Poll requests `prepay` counted, per key: the window they were counted in and how many are left.
        self._prepaid: dict[str, tuple[int, int]] = {}
        self._prepaid_lock = threading.Lock()

    def caps(self, key_id: str, purpose: Purpose, connection_id: str | None = None) -> dict[str, int]:
        """Every counter a request of `purpose` adds to, with the cap it must be under."""
        limit = self._limit(key_id) if callable(self._limit) else self._limit
        caps = {TOTAL: share_cap(limit, 1.0, self._window)}
        if purpose == "action":
            caps[ACTIONS] = share_cap(limit, 1 - self.shares.reserved_for_polls, self._window)
            if connection_id is not None:
                per_connection = self.shares.action_share_per_connection
                caps[connection_counter(connection_id)] = share_cap(limit, per_connection, self._window)
        else:
            caps[POLLS] = share_cap(limit, 1 - self.shares.reserved_for_actions, self._window)
        return caps

    def cap(self, key_id: str, purpose: Purpose) -> int:
        """The most requests of `purpose` one window of the key takes."""
        return self.caps(key_id, purpose)[ACTIONS if purpose == "action" else POLLS]

    def prepay(self, key_id: str, requests: int) -> int:
        if requests < 1:
            return 0
        now = self._now()
        caps = self.caps(key_id, "poll")
        requests = min(requests, *caps.values())
        if self._try(key_id, caps, now, requests) is not None:
            # Not room for all: as many as the refusal showed room for, else each request waits for its own.
            requests = min(requests, self._room(key_id, caps, now))
            if requests < 1 or self._try(key_id, caps, now, requests) is not None:
                return 0
        start = window_start(now, self._window)
        with self._prepaid_lock:
            held_start, held = self._prepaid.get(key_id, (start, 0))
            self._prepaid[key_id] = (start, requests + (held if held_start == start else 0))
        return requests

    def _use_prepaid(self, key_id: str) -> bool:
        start = window_start(self._now(), self._window)
        with self._prepaid_lock:
            held_start, held = self._prepaid.get(key_id, (start, 0))
            if held_start != start or held < 1:
                self._prepaid.pop(key_id, None)  # a past window's are dropped: counted there, never sent later
                return False
            self._prepaid[key_id] = (start, held - 1)
            return True

    def _drop_prepaid(self, key_id: str) -> None:
        """A 429: what was prepaid must not let requests past the penalty."""
        with self._prepaid_lock:
            self._prepaid.pop(key_id, None)

    def acquire(self, key_id: str, *, purpose: Purpose, deadline: float, connection_id: str | None = None) -> None:
        if purpose == "poll" and self._use_prepaid(key_id):
            return
        caps = self.caps(key_id, purpose, connection_id)
        while True:
            now = self._now()
            wait_until = self._try(key_id, caps, now)
            if wait_until is None:
                return
            wait = max(0.0, wait_until - now) + self._max_jitter * self._jitter()
            if self._monotonic() + wait > deadline:
                raise RateBudgetExhausted(f"no {purpose} request budget left for this API key before the deadline")
            self._sleep(wait)

    def _room(self, key_id: str, caps: Mapping[str, int], now: float) -> int:
        """Requests the current window had room for when this process last looked (0: unknown)."""
        return 0

    def _try(self, key_id: str, caps: Mapping[str, int], now: float, requests: int = 1) -> float | None:
        """Count `requests` in every counter of `caps` in the window holding `now` if each has room for them
        under its cap: None when counted, else the epoch to wait for."""
        raise NotImplementedError
