"""Connect a clinic, switch triggers on, poll, and watch it with `status`; what errors look like."""

from __future__ import annotations

import re

import pytest

from cliniko_connector.adapters.secrets import SecretsManagerStore
from tests.e2e.cli.conftest import CONNECTION, KEY, WRONG_KEY, Stack

pytestmark = pytest.mark.e2e


def test_connect_enable_poll_and_watch_status(stack: Stack) -> None:
    stack.connect()
    enabled = stack.cli("triggers", "enable", CONNECTION, "patient.created", "patient.updated")
    assert enabled.code == 0, enabled.err

    before = stack.cli("status")
    assert before.code == 0, before.err
    assert "patients" in before.out and "patient.created,patient.updated" in before.out
    assert "never" in before.out  # not polled yet

    ada, _grace, _alan = stack.patients("Ada", "Grace", "Alan")
    stack.sim.update("patients", ada["id"], {"email": "ada@example.com"})
    polled = stack.cli("poll", "--json")
    assert polled.code == 0, polled.err
    assert [(r["resource"], r["events"], r["caught_up"]) for r in polled.json] == [("patients", 3, True)]

    human = stack.cli("status", CONNECTION)
    assert human.code == 0, human.err
    lines = human.out.splitlines()
    assert lines[0].startswith(f"{CONNECTION} (Northside Physio): active, polled every 60s, payload full")
    assert "rate budget" in lines[0] and "/20 requests used in this 6s window (200/min)" in lines[0]
    assert lines[1:3] == ["  allowed reads: none", "  allowed writes: none"]  # a new connection allows none
    header, _rule, row = lines[3:6]
    assert re.fullmatch(r"\d\d:00", header.split()[8])
    assert header.split() == [
        "STREAM",
        "TRIGGERS",
        "CURSOR",
        "LAG",
        "LAST",
        "POLL",
        "EVENTS",
        "SINCE",
        header.split()[8],  # this hour: HH:00
        "24H",
        "BACKFILL",
        "LAST",
        "ERROR",
    ]
    assert row.split()[0] == "patients" and row.split()[-1] == "-"  # no error
    assert KEY not in human.out + human.err
    assert "Ada" not in human.out  # ids and counts only

    (report,) = stack.cli("status", "--json").json
    assert report["connection"] == CONNECTION and report["status"] == "active"
    assert report["rate_budget"]["limit_per_minute"] == 200
    assert isinstance(report["rate_budget"]["used_in_window"], int)  # 1, or 0 if a new window began
    assert report["rate_budget"]["window_seconds"] == 6 and report["rate_budget"]["cap_in_window"] == 20
    (stream,) = report["streams"]
    assert stream["resource"] == "patients"
    assert stream["triggers"] == ["patient.created", "patient.updated"]
    assert stream["events_last_hour"] == stream["events_last_24h"] == stream["events_published"] == 3
    assert stream["last_error"] is None and stream["last_poll_at"] is not None
    assert stream["caught_up_at"] is not None and 0 <= stream["lag_seconds"] < 30
    assert stream["backfill"] is None


def test_a_key_from_standard_input_is_stored_and_never_printed(stack: Stack) -> None:
    added = stack.cli(
        "connections", "add", "Harbourside", "--api-key-file", "-", "--base-url", stack.sim.base_url, stdin=KEY + "\n"
    )
    assert added.code == 0, added.err
    assert "connected harbourside" in added.out
    assert stack.cli("connections", "test", "harbourside").code == 0
    listed = stack.cli("connections", "list", "--json")
    assert [c["id"] for c in listed.json] == ["harbourside"]
    assert KEY not in added.out + added.err + listed.out


def test_a_wrong_key_is_refused_in_one_line_that_never_shows_it(stack: Stack) -> None:
    wrong = stack.root / "wrong.txt"
    wrong.write_text(WRONG_KEY, encoding="utf-8")
    added = stack.cli("connections", "add", "Wrong", "--api-key-file", str(wrong), "--base-url", stack.sim.base_url)
    assert added.code == 1
    assert added.out == ""
    assert len(added.err.strip().splitlines()) == 1
    assert added.err.startswith("error: ") and "refused" in added.err
    assert WRONG_KEY not in added.err and WRONG_KEY[:12] not in added.err


def test_a_revoked_key_stops_with_what_to_do_and_status_shows_the_error(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    # The clinic revokes the key in Cliniko: the stored key is refused from now on.
    worker = stack.state.functions["PollWorkerFunction"].environment
    SecretsManagerStore(
        client=stack.client("secretsmanager"), prefix=worker["SECRETS_PREFIX"], owner=worker["STACK_NAME"]
    ).put(CONNECTION, WRONG_KEY)

    polled = stack.cli("poll", "--connection", CONNECTION)
    assert polled.code == 1
    assert polled.err.strip().count("\n") == 0 and "ClinikoUnauthorized" not in polled.err

    backfill = stack.cli("backfill", CONNECTION, "patient.created", "--since", "1h")
    assert backfill.code == 1
    (line,) = backfill.err.strip().splitlines()
    assert line.startswith(f"error: Cliniko refused the API key of {CONNECTION}: store a new one with ")
    assert f"cliniko-connector connections rotate-key {CONNECTION} --api-key-file FILE" in line
    assert WRONG_KEY not in backfill.out + backfill.err + polled.err

    (report,) = stack.cli("status", "--json").json
    error = report["streams"][0]["last_error"]
    assert error.startswith("ClinikoUnauthorized: GET /v1/patients: the API key was refused (at ")
    human = stack.cli("status")
    assert "ClinikoUnauthorized" in human.out and WRONG_KEY not in human.out

    verbose = stack.cli("--verbose", "backfill", CONNECTION, "patient.created", "--since", "1h")
    assert verbose.code == 1 and "type: ClinikoUnauthorized" in verbose.err


def test_a_cliniko_outage_fails_in_one_clear_line_and_loses_nothing(stack: Stack) -> None:
    stack.monkeypatch.setenv("POLL_TIME_BUDGET_SECONDS", "1")
    stack.monkeypatch.setenv("CLINIKO_MAX_BACKOFF_SECONDS", "0.1")
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.patients("Ada")
    stack.sim.faults.inject("server_error", status=503, paths=["/patients"])

    backfill = stack.cli("backfill", CONNECTION, "patient.created", "--since", "1h")
    assert backfill.code == 1
    (line,) = backfill.err.strip().splitlines()
    # Retries end on the 503 itself or on the spent time budget, whichever comes first.
    assert line.startswith(
        "error: Cliniko did not answer properly; nothing was lost: run the same command again later ("
    )
    polled = stack.cli("poll")
    assert polled.code == 1 and polled.err.startswith("error: ") and polled.err.count("\n") == 1
    (report,) = stack.cli("status", "--json").json
    assert report["streams"][0]["last_error"].startswith(
        ("ClinikoServerError: GET /v1/patients: Cliniko answered 503", "ClinikoTimeout")
    )

    # Cliniko is back: the same commands pick up where they were, and the error is cleared.
    stack.sim.faults.clear()
    assert stack.cli("poll").code == 0
    (report,) = stack.cli("status", "--json").json
    assert report["streams"][0]["last_error"] is None
    assert report["streams"][0]["events_published"] == 1
