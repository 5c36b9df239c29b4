"""What the simulator answered: every ``/v1`` request, newest last, bounded."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cliniko_tools.simulator.keys import key_hash
from cliniko_tools.simulator.wire import Request

REQUEST_LOG_LIMIT = 100_000


@dataclass(frozen=True)
class RecordedRequest:
    """One ``/v1`` request the simulator answered (status 0: connection dropped, no answer)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    api_key_hash: str | None  # sha256 prefix; the key itself is never kept
    status: int
    at: datetime  # wall-clock UTC
    user_agent: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": [list(pair) for pair in self.query],
            "api_key_hash": self.api_key_hash,
            "status": self.status,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "user_agent": self.user_agent,
        }


class RequestLog:
    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self._entries: deque[RecordedRequest] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def record(self, request: Request, key: str | None, status: int) -> None:
        entry = RecordedRequest(
            method=request.method,
            path=request.path,
            query=list(request.query),
            api_key_hash=key_hash(key) if key else None,
            status=status,
            at=datetime.fromtimestamp(time.time(), UTC),
            user_agent=request.header("User-Agent"),
        )
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
