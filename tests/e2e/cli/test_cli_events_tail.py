"""`events tail`: events as they reach the bus, through the console script too; nothing left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cliniko_connector.adapters import aws
from cliniko_connector.usecases import tail as tail_usecase
from cliniko_connector.usecases.tail import BusTail
from cliniko_tools.cli import events as events_cli
from cliniko_tools.cli.main import main
from tests.e2e.cli.conftest import CONNECTION, KEY, Stack

pytestmark = pytest.mark.e2e

CONSOLE_SCRIPT = Path(sys.executable).with_name("cliniko-connector")


def tails(stack: Stack) -> list[str]:
    rules = stack.client("events").list_rules(EventBusName=stack.bus, NamePrefix="cliniko-tail-")["Rules"]
    return [r["Name"] for r in rules]


def tail_queues(stack: Stack) -> list[str]:
    urls: list[str] = stack.client("sqs").list_queues(QueueNamePrefix="cliniko-tail-").get("QueueUrls", [])
    return urls


def test_the_console_script_tails_events_until_max_events_then_cleans_up(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "events", "tail", "--max-events", "2", "--timeout", "60"],
        env=stack.subprocess_env(),
        cwd=stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.startswith(f"watching {stack.bus} (temporary rule cliniko-tail-"), first
        assert len(tails(stack)) == 1
        ada, grace = stack.patients("Ada", "Grace")
        assert stack.cli("poll").code == 0
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    for line, patient in zip(lines, (ada, grace), strict=True):
        assert "Patient Created" in line and CONNECTION in line and f"patients/{patient['id']}" in line
        assert f"event_key={CONNECTION}:patients:{patient['id']}:" in line
    assert "Ada" not in out and "Grace" not in out  # ids and keys, not the record
    assert err.strip().endswith("2 event(s)")
    assert KEY not in out + err
    assert tails(stack) == [] and tail_queues(stack) == []


def test_tail_json_prints_whole_events_matching_the_pattern(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    codes: list[Any] = []
    pattern = json.dumps({"detail-type": ["Patient Created"]})
    thread = threading.Thread(
        target=lambda: codes.append(
            main(["events", "tail", "--json", "--pattern", pattern, "--max-events", "1", "--timeout", "30"])
        )
    )
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not tails(stack) and time.monotonic() < deadline:
            time.sleep(0.05)
        stack.put_event("Patient Updated", {"connection_id": CONNECTION, "id": "1"})  # not matched
        stack.put_event("Patient Created", {"connection_id": CONNECTION, "id": "2", "data": {"first_name": "Ada"}})
    finally:
        thread.join(timeout=40)
    assert codes == [0]
    out = capsys.readouterr().out
    (line,) = out.splitlines()
    event = json.loads(line)
    assert event["detail-type"] == "Patient Created"
    assert event["detail"]["data"] == {"first_name": "Ada"}  # --json: the whole event, as the bus has it
    assert tails(stack) == [] and tail_queues(stack) == []


def test_a_quiet_bus_ends_the_tail_at_its_timeout(stack: Stack) -> None:
    started = time.monotonic()
    result = stack.cli("events", "tail", "--timeout", "1")
    assert result.code == 0 and result.out == ""
    assert result.err.strip().endswith("0 event(s)")
    assert time.monotonic() - started < 10
    assert tails(stack) == [] and tail_queues(stack) == []


@pytest.fixture
def scaled_long_polls(monkeypatch: pytest.MonkeyPatch) -> int:
    """As in production (a 10 s read timeout, 20 s long polls) a long poll outlasts the clients' read
    timeout; scaled down to 1 s and 3 s so the test takes seconds. Returns the long poll."""
    monkeypatch.setattr(aws, "READ_TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(tail_usecase, "LONG_POLL_SECONDS", 3)
    return 3


def test_a_quiet_bus_for_several_long_polls_does_not_end_the_tail(stack: Stack, scaled_long_polls: int) -> None:
    started = time.monotonic()
    result = stack.cli("events", "tail", "--timeout", str(2 * scaled_long_polls + 1))
    elapsed = time.monotonic() - started
    assert result.code == 0, result.err
    assert result.err.strip().endswith("0 event(s)") and "Timeout" not in result.err
    assert elapsed >= 2 * scaled_long_polls  # it waited through the long polls rather than stopping early
    assert tails(stack) == [] and tail_queues(stack) == []


def test_an_event_published_while_the_tail_is_between_long_polls_is_printed(
    stack: Stack, scaled_long_polls: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls: list[int] = []

    class PublishBetweenPolls(BusTail):
        def receive(self, wait_seconds: int) -> Any:
            received = list(super().receive(wait_seconds))
            polls.append(len(received))
            if len(polls) == 1:  # the first long poll came back empty: nobody is waiting on the queue now
                assert received == []
                stack.put_event("Patient Created", {"connection_id": CONNECTION, "id": "7", "trigger": "x"})
            return iter(received)

    monkeypatch.setattr(events_cli, "BusTail", PublishBetweenPolls)
    result = stack.cli("events", "tail", "--max-events", "1", "--timeout", str(4 * scaled_long_polls))
    assert result.code == 0, result.err
    (line,) = result.out.splitlines()
    assert "Patient Created" in line and "/7" in line
    assert polls[0] == 0 and polls[-1] == 1
