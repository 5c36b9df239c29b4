"""Cliniko's per-key request budget (200 per minute), as a fixed window on real time."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    """Fixed-window counter per API key.

    Uses ``time.monotonic`` for the window and reports the reset as wall-clock epoch seconds, so a
    client sleeping until ``X-RateLimit-Reset`` gets a fresh window whatever the simulator clock says.
    """

    def __init__(self, limit: int = 200, window_seconds: float = 60.0) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}
        self.limit = limit
        self.window_seconds = window_seconds

    def configure(self, limit: int, window_seconds: float) -> None:
        if limit < 0 or window_seconds <= 0:
            raise ValueError("limit must be >= 0 and window_seconds > 0")
        with self._lock:
            self.limit = limit
            self.window_seconds = window_seconds
            self._windows.clear()

    def hit(self, key: str) -> tuple[bool, int]:
        """Count one request; returns (allowed, reset as integer epoch seconds)."""
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.window_seconds:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
            remaining_window = start + self.window_seconds - now
            reset = math.ceil(time.time() + remaining_window)
            return count <= self.limit, reset

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
