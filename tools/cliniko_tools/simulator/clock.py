"""The simulator's clock: what Cliniko would write into ``created_at`` / ``updated_at``."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from cliniko_tools.simulator.timefmt import parse_datetime


class SimClock:
    """UTC clock with second precision that follows real time until told otherwise.

    ``set`` freezes it at a moment; ``advance`` moves it (frozen or not); ``resume`` lets a frozen
    clock tick again from where it stands. Rate-limit windows deliberately don't use it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = None

    def _epoch(self) -> float:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def now_epoch(self) -> int:
        """Current simulated time as whole epoch seconds."""
        return int(self._epoch())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_epoch(), UTC)

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds
        return self.now()

    def set(self, when: datetime | str | float) -> datetime:
        """Freeze the clock at ``when`` (aware datetime, ISO-8601 string or epoch seconds)."""
        if isinstance(when, str):
            epoch: float = parse_datetime(when)
        elif isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError("naive datetime; pass an aware (UTC) datetime")
            epoch = when.timestamp()
        else:
            epoch = float(when)
        with self._lock:
            self._frozen = epoch
        return self.now()

    def freeze(self) -> datetime:
        with self._lock:
            self._frozen = time.time() + self._offset if self._frozen is None else self._frozen
        return self.now()

    def resume(self) -> datetime:
        """Tick in real time again, starting from the current simulated moment."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - time.time()
                self._frozen = None
        return self.now()

    @property
    def frozen(self) -> bool:
        with self._lock:
            return self._frozen is not None
