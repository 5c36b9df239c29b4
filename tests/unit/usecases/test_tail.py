"""`events tail` as a use-case: a named temporary channel, events decoded once each, always removed."""

from __future__ import annotations

import json

import pytest

from cliniko_connector.adapters.memory import InMemoryTailChannel
from cliniko_connector.errors import ConfigurationError
from cliniko_connector.usecases.tail import EVERY_EVENT, TAIL_PREFIX, BusTail, stale_tails


def test_a_tail_reads_each_event_once_skips_what_is_not_an_event_and_removes_its_channel() -> None:
    channel = InMemoryTailChannel()
    with BusTail(channel) as tail:
        assert tail.name.startswith(TAIL_PREFIX) and channel.patterns == {tail.name: EVERY_EVENT}
        channel.deliver(json.dumps({"detail-type": "Patient Created", "detail": {"id": "1"}}))
        channel.deliver("not json")
        channel.deliver("[1, 2]")
        assert [e["detail"]["id"] for e in tail.receive(5)] == ["1"]
        assert list(tail.receive(5)) == []
    assert channel.patterns == {} and channel.queues == {} and tail.left_behind == []


def test_a_tail_that_fails_to_start_removes_what_it_created() -> None:
    channel = InMemoryTailChannel()
    channel.fail_on = "rule"
    with pytest.raises(ConfigurationError), BusTail(channel, {"source": ["cliniko"]}):
        pass
    assert channel.queues == {}


def test_what_could_not_be_removed_is_reported_and_found_later_as_stale() -> None:
    channel = InMemoryTailChannel()
    tail = BusTail(channel)
    channel.cannot_remove.add(tail.name)
    with tail:
        pass
    assert tail.left_behind == [f"rule {tail.name} (AccessDenied)"]
    assert stale_tails(channel) == [tail.name]
