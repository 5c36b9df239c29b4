"""`backfill`: history published once, resumable after a time limit or Ctrl-C, progress on stderr."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient
from tests.e2e.cli.conftest import CONNECTION, Stack

pytestmark = pytest.mark.e2e

HISTORY = 120


def test_backfill_all_pauses_survives_ctrl_c_resumes_and_publishes_each_record_once(stack: Stack) -> None:
    stack.monkeypatch.setenv("POLL_PAGE_SIZE", "10")
    stack.connect()
    stack.patients(*(f"P{n}" for n in range(HISTORY)), ago=3600)
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    assert stack.cli("poll").code == 0
    assert stack.only_stream()["events_published"] == 0  # enabled "now": the history isn't published

    # A tiny time budget: one page, then it pauses (exit 3) with the stream's place kept.
    paused = stack.cli("backfill", CONNECTION, "patient.created", "--all", "--time-limit", "0")
    assert paused.code == 3, paused.err
    assert f"starting {CONNECTION}/patients from 1970-01-01T00:00:00Z ({HISTORY} records)" in paused.err
    assert "time limit reached: run the same command again to continue" in paused.err
    assert "paused" in paused.out
    after_pause = stack.only_stream()
    assert after_pause["backfill"] == {"total": HISTORY, "done": 10}
    assert after_pause["events_published"] == 10

    # Ctrl-C in the middle of the next run, once four pages of records came back (however many requests the poller
    # makes around them: the count, a probe of the crowded second these records share, and a page confirmed by
    # the next before its checkpoint is written): it stops at the last checkpoint.
    real_list_page = ClinikoClient.list_page
    pages = {"with_records": 0}

    def interrupted(self: ClinikoClient, *args: Any, **kwargs: Any) -> Any:
        if pages["with_records"] >= 4:
            raise KeyboardInterrupt
        page = real_list_page(self, *args, **kwargs)
        if len(page.records) > 1:
            pages["with_records"] += 1
        return page

    stack.monkeypatch.setattr(ClinikoClient, "list_page", interrupted)
    stopped = stack.cli("backfill", CONNECTION, "patient.created", "--all")
    assert stopped.code == 130
    assert f"resuming {CONNECTION}/patients" in stopped.err
    assert "interrupted: every stream keeps its last checkpoint; run the same command again" in stopped.err
    after_stop = stack.only_stream()
    assert 10 < after_stop["backfill"]["done"] < HISTORY
    assert after_stop["last_error"] is None  # an interruption is not a failure
    stack.monkeypatch.setattr(ClinikoClient, "list_page", real_list_page)

    # Run again: it continues from the checkpoint and catches up.
    resumed = stack.cli("backfill", CONNECTION, "patient.created", "--all", "--json")
    assert resumed.code == 0, resumed.err
    (outcome,) = resumed.json
    assert outcome["action"] == "resume" and outcome["caught_up"] is True and not outcome["stopped"]
    assert outcome["backfill_total"] == outcome["backfill_done"] == HISTORY
    done = stack.only_stream()
    assert done["backfill"] == {"total": HISTORY, "done": HISTORY}
    assert done["events_published"] == HISTORY  # every record once across the three runs
    assert done["events_last_hour"] == HISTORY

    # Each record reached the bus exactly once: the archive holds one Patient Created per record.
    replay = stack.cli("replay", "--since", "1h", "--dry-run", "--json")
    assert replay.json["by_detail_type"] == {"Patient Created": HISTORY}

    # Progress went to stderr as plain lines (stderr is not a terminal here), never to stdout.
    assert f"{CONNECTION}/patients [1/1]" in resumed.err and "records" in resumed.err and "ETA" in resumed.err
    assert "[1/1]" not in resumed.out

    # Backfilling the same history again only resumes (nothing new); --restart publishes it again.
    again = stack.cli("backfill", CONNECTION, "patient.created", "--all", "--json")
    assert again.code == 0 and again.json[0]["events"] == 0


def test_backfill_since_publishes_only_later_history_and_enables_the_trigger(stack: Stack) -> None:
    stack.connect()
    stack.patients("Ada", "Grace", ago=300)
    stack.patients("Old", ago=1800)
    human = stack.cli("backfill", CONNECTION, "patient.created", "--since", "10m")
    assert human.code == 0, human.err
    assert human.out.splitlines()[0].split() == [
        "STREAM",
        "BACKFILL",
        "STATE",
        "PAGES",
        "RECORDS",
        "EVENTS",
        "DONE",
        "TIME",
        "CURSOR",
    ]
    assert human.out.splitlines()[2].split()[:3] == ["patients", "started", "caught"]
    listed = stack.cli("triggers", "list", CONNECTION, "--json")
    assert {t["trigger"] for t in listed.json if t["enabled"]} == {"patient.created"}
    assert stack.only_stream()["events_published"] == 2
    restarted = stack.cli("backfill", CONNECTION, "patient.created", "--since", "10m", "--restart", "--json")
    assert restarted.code == 0 and restarted.json[0]["action"] == "restart"


def test_backfill_refuses_unknown_triggers_and_connections_in_one_line(stack: Stack) -> None:
    stack.connect()
    unknown = stack.cli("backfill", CONNECTION, "patient.exploded", "--all")
    assert unknown.code == 2 and unknown.err.startswith("error: unknown triggers: patient.exploded")
    missing = stack.cli("backfill", "nobody", "patient.created", "--all")
    assert missing.code == 1
    assert missing.err.strip() == "error: no connection 'nobody'; see `cliniko-connector connections list`"
