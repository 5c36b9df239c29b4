"""Watching the bus: a temporary rule into a temporary queue, read until told to stop, then removed.

The queue only accepts messages from its own rule. Both are named `cliniko-tail-<random>`; `close` deletes
them (also after Ctrl-C). A tail killed outright leaves them behind: `stale_tails` finds them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from cliniko_connector.ports import TailChannel

TAIL_PREFIX = "cliniko-tail-"
# SQS's longest wait; the tail's SQS client must allow this long for an answer (`aws.client_config`).
LONG_POLL_SECONDS = 20
EVERY_EVENT: dict[str, Any] = {"source": [{"prefix": ""}]}


@dataclass
class BusTail:
    """One tail of the bus: `open` (or `with`) creates its rule and queue, `receive` reads, `close` removes."""

    channel: TailChannel
    pattern: dict[str, Any] = field(default_factory=lambda: dict(EVERY_EVENT))
    name: str = field(default_factory=lambda: TAIL_PREFIX + secrets.token_hex(4))
    left_behind: list[str] = field(default_factory=list)
    _open: bool = False

    def open(self) -> None:
        self._open = True  # from the first call on: `close` removes whatever it got to create
        self.channel.create(self.name, self.pattern)

    def receive(self, wait_seconds: int) -> Iterator[dict[str, Any]]:
        """The events that arrived (waiting up to `wait_seconds` for the first), each once."""
        assert self._open, "open() first"
        wait = max(0, min(LONG_POLL_SECONDS, wait_seconds))
        for body in self.channel.receive(self.name, wait):
            try:
                event = json.loads(body)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event

    def close(self) -> list[str]:
        """Remove the rule and the queue, each even if the other fails; what could not be removed."""
        left = self.channel.remove(self.name) if self._open else []
        self._open = False
        self.left_behind = left
        return left

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def stale_tails(channel: TailChannel) -> list[str]:
    """Rules of tails that were not cleaned up (the process was killed)."""
    return channel.names(TAIL_PREFIX)
