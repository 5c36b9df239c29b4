"""On AWS the events page follows a tail of the bus (`events tail`'s temporary rule and queue): made only when the
page is first asked for, read in the background, removed when the console stops."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from cliniko_connector.usecases.tail import BusTail
from cliniko_tools.console.backend import BusFollower


class Channel:
    """A `TailChannel` that delivers `batches` one per receive, then signals that the last one was taken."""

    def __init__(self, batches: list[list[dict[str, Any]]]) -> None:
        self.batches = [[json.dumps(e) for e in b] for b in batches]
        self.created: list[str] = []
        self.removed: list[str] = []
        self.drained = threading.Event()

    def create(self, name: str, pattern: Mapping[str, Any]) -> None:
        self.created.append(name)

    def receive(self, name: str, wait_seconds: int) -> list[str]:
        if not self.batches:
            self.drained.set()  # every batch before this call has been handed over (and kept)
            threading.Event().wait(0.01)
            return []
        return self.batches.pop(0)

    def remove(self, name: str) -> list[str]:
        self.removed.append(name)
        return []

    def names(self, prefix: str) -> list[str]:
        return []


def test_the_tail_is_made_on_first_use_kept_to_the_newest_events_and_removed_on_close() -> None:
    events = [{"id": str(i), "detail-type": "Patient Created"} for i in range(5)]
    channel = Channel([events[:3], events[3:]])
    follower = BusFollower(BusTail(channel), keep=4)
    assert channel.created == []  # nothing is made in the account until the events page is opened
    follower.recent()
    assert len(channel.created) == 1
    assert channel.drained.wait(timeout=30)
    assert [e["id"] for e in follower.recent()] == ["1", "2", "3", "4"]  # the newest 4, oldest first
    assert follower.close() == []
    assert channel.removed == channel.created


def test_a_console_that_never_showed_events_leaves_nothing_to_remove() -> None:
    channel = Channel([])
    assert BusFollower(BusTail(channel)).close() == []
    assert channel.created == channel.removed == []
