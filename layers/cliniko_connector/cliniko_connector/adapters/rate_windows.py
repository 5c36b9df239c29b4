"""What every `ports.RateBudget` shares: fixed windows per API key, a cap per purpose, and waiting for room.

Adapters differ only in how they count a request (`_try`): in DynamoDB for every worker of a key, or in
memory for tests.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Literal

from cliniko_connector.errors import RateBudgetExhausted

Purpose = Literal["poll", "action"]


def window_start(epoch: float, window_seconds: int) -> int:
    """The start of the fixed window holding `epoch`: windows are aligned to multiples of their length."""
    return int(epoch // window_seconds) * window_seconds


def rate_cap(limit_per_minute: int, purpose: Purpose, reserved_for_actions: float, window_seconds: int) -> int:
    """Requests allowed per window: pollers stop at `1 - reserved_for_actions` of the limit so actions
    triggered by rules always find room. The per-minute limit is scaled to the window's length."""
    per_window = limit_per_minute * window_seconds / 60
    share = per_window if purpose == "action" else per_window * (1 - reserved_for_actions)
    # The epsilon keeps 100 * 0.7 = 69.99999999999999 from flooring to 69.
    return math.floor(share + 1e-9)


class WindowedRateBudget:
    """A rate budget in fixed windows: `acquire` counts a request or waits (with jitter) for the window or
    penalty that holds it up, and gives up before the caller's deadline."""

    def __init__(
        self,
        limit_per_minute: Callable[[str], int] | int = 200,
        reserved_for_actions: float = 0.2,
        window_seconds: int = 60,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        max_jitter_seconds: float = 1.0,
    ) -> None:
        if not 0 <= reserved_for_actions < 1:
            raise ValueError("reserved_for_actions must be in [0, 1)")
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        self._limit = limit_per_minute
        self._reserved = reserved_for_actions
        self._window = window_seconds
        self._sleep = sleep
        self._now = now
        self._monotonic = monotonic
        self._jitter = jitter
        self._max_jitter = max_jitter_seconds

    def cap(self, key_id: str, purpose: Purpose) -> int:
        limit = self._limit(key_id) if callable(self._limit) else self._limit
        return rate_cap(limit, purpose, self._reserved, self._window)

    def acquire(self, key_id: str, *, purpose: Purpose, deadline: float) -> None:
        cap = self.cap(key_id, purpose)
        while True:
            now = self._now()
            wait_until = self._try(key_id, cap, now)
            if wait_until is None:
                return
            wait = max(0.0, wait_until - now) + self._max_jitter * self._jitter()
            if self._monotonic() + wait > deadline:
                raise RateBudgetExhausted(f"no {purpose} request budget left for this API key before the deadline")
            self._sleep(wait)

    def _try(self, key_id: str, cap: int, now: float) -> float | None:
        """Count one request in the window holding `now` if it has room under `cap`: None when counted,
        else the epoch to wait for."""
        raise NotImplementedError
