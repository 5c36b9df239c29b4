"""Small pieces of the operator commands: progress lines, times, event summaries, dead-letter parsing."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cliniko_connector.adapters.bus_operations import EventBridgeTail
from cliniko_connector.ports import PollJob, QueuedMessage
from cliniko_connector.usecases.backfill import BackfillProgress
from cliniko_connector.usecases.dlq import parse_message
from cliniko_connector.usecases.tail import BusTail
from cliniko_tools.cli.backfill import ProgressDisplay
from cliniko_tools.cli.events import json_object, summarize
from cliniko_tools.cli.replay import parse_when
from cliniko_tools.cli.status import duration

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def progress(**changes: Any) -> BackfillProgress:
    fields: dict[str, Any] = dict(
        connection_id="clinic",
        resource="patients",
        index=1,
        streams=2,
        origin=NOW,
        position=NOW,
        total=1000,
        done=250,
        done_at_start=0,
        pages=3,
        elapsed=10.0,
        rate_used=42,
        rate_limit=200,
        now=NOW,
    )
    fields.update(changes)
    return BackfillProgress(**fields)


def test_a_terminal_gets_one_redrawn_line_with_bar_counts_rate_and_eta() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out, tty=True)
    display.update(progress())
    display.update(progress(done=500, state="rate-limited"))
    display.finish()
    text = out.getvalue()
    assert text.count("\r\x1b[K") == 2 and text.endswith("\n")
    last = text.split("\r\x1b[K")[-1]
    assert last.startswith("clinic/patients [1/2] [############............]  50%")
    assert "500/1,000 records, 3 pages, at 2026-01-05T09:30:00Z, rate 42/200 in this 60s window" in last
    assert "ETA 10s" in last and "waiting for the rate budget" in last


def test_a_log_gets_plain_lines_on_state_changes_and_every_few_seconds() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out, tty=False, plain_interval=3600)
    display.update(progress())
    display.update(progress(done=300))  # same state, too soon: no line
    display.update(progress(done=1000, state="caught-up"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue() and "#" not in out.getvalue()
    assert lines[0].startswith("clinic/patients [1/2]  25%  250/1,000 records")
    assert lines[1].endswith("caught up")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T09:30:00Z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05T19:30:00+10:00", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05T09:30:00", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
    ],
)
def test_times_are_iso_in_utc_by_default(text: str, expected: datetime) -> None:
    assert parse_when(text) == expected


def test_relative_times_count_back_from_now() -> None:
    assert abs((datetime.now(UTC) - timedelta(hours=2)) - parse_when("2h")) < timedelta(seconds=5)
    assert abs((datetime.now(UTC) - timedelta(days=7)) - parse_when("7d")) < timedelta(seconds=5)
    with pytest.raises(argparse.ArgumentTypeError, match="is not a time"):
        parse_when("yesterday")


def test_patterns_must_be_json_objects() -> None:
    assert json_object('{"source": ["cliniko"]}') == {"source": ["cliniko"]}
    for bad in ("[1]", "{}", "{nope"):
        with pytest.raises(argparse.ArgumentTypeError):
            json_object(bad)


def test_durations_read_like_a_clock() -> None:
    assert [duration(s) for s in (None, 0, 59, 61, 3599, 3661, 90000)] == [
        "-",
        "0s",
        "59s",
        "1m 01s",
        "59m 59s",
        "1h 01m",
        "1d 01h",
    ]


def test_event_summaries_show_ids_and_keys_never_data_or_inputs() -> None:
    trigger = {
        "time": "t",
        "detail-type": "Patient Created",
        "source": "cliniko",
        "detail": {
            "connection_id": "c",
            "trigger": "patient.created",
            "resource": "patients",
            "id": "7",
            "event_key": "c:patients:7:created",
            "data": {"first_name": "Ada"},
        },
    }
    assert summarize(trigger) == "t  Patient Created  c  patients/7  event_key=c:patients:7:created"
    action = {
        "time": "t",
        "detail-type": "Cliniko Action Requested",
        "detail": {"connection_id": "c", "action": "medical_alert.create", "input": {"name": "Ada"}},
    }
    assert summarize(action) == "t  Cliniko Action Requested  c  action=medical_alert.create"
    assert "Ada" not in summarize(trigger) + summarize(action)


def message(body: Any, **attributes: str) -> QueuedMessage:
    return QueuedMessage(
        message_id="m-1",
        receipt_handle="r",
        body=body if isinstance(body, str) else json.dumps(body),
        sent_at=NOW,
        receive_count=2,
        attributes=attributes,
    )


def test_an_action_destination_record_says_what_failed_and_why() -> None:
    record = {
        "requestContext": {
            "functionArn": "arn:aws:lambda:us-east-1:1:function:stack-MedicalAlertCreateActionFunction-X:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"connection_id": "c", "idempotency_key": "c:patients:7:created", "input": {"name": "Ada"}},
        "responsePayload": {"errorType": "ClinikoServerError", "errorMessage": "POST /v1/medical_alerts: 500"},
    }
    m = parse_message("actions", message(record), lambda job: None)
    assert (m.what, m.connection_id, m.key, m.attempts) == (
        "action medical_alert.create",
        "c",
        "c:patients:7:created",
        3,
    )
    assert m.error == "ClinikoServerError: POST /v1/medical_alerts: 500"
    assert m.sent_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC) and m.receive_count == 2
    assert "Ada" not in json.dumps(m.summary())


def test_dispatcher_failures_and_bus_dead_letters_are_read_like_their_kinds() -> None:
    record = {
        "requestContext": {"functionArn": "arn:aws:lambda:us-east-1:1:function:s-PollDispatcherFunction-X:$LATEST"},
        "requestPayload": {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
        "responsePayload": {"errorType": "ConnectorError", "errorMessage": "2 poll jobs could not be queued"},
    }
    dispatch = parse_message("dispatcher", message(record), lambda job: None)
    assert (dispatch.what, dispatch.error) == ("poll dispatch", "ConnectorError: 2 poll jobs could not be queued")
    event = {"detail-type": "Patient Created", "source": "cliniko", "detail": {"connection_id": "c", "event_key": "k"}}
    bus = parse_message("bus", message(event, ERROR_CODE="KMS_KEY_DISABLED"), lambda job: None)
    assert (bus.what, bus.key, bus.error, bus.redrivable) == ("Patient Created", "k", "KMS_KEY_DISABLED", True)


def test_only_this_projects_error_messages_are_shown() -> None:
    record = {
        "requestContext": {"functionArn": "arn:aws:lambda:us-east-1:1:function:s-MedicalAlertCreateActionFunction-X"},
        "requestPayload": {"connection_id": "c", "input": {}},
        "responsePayload": {"errorType": "KeyError", "errorMessage": "'Ada Lovelace'"},
    }
    m = parse_message("actions", message(record), lambda job: None)
    assert m.error == "KeyError"


def test_unreadable_or_foreign_messages_are_listed_but_not_sent_back() -> None:
    assert not parse_message("actions", message("not json"), lambda job: None).redrivable
    assert not parse_message("poll", message({"something": "else"}), lambda job: None).redrivable
    job = parse_message("poll", message({"connection_id": "c", "resource": "patients"}), lambda j: None)
    assert job.redrivable and job.error is not None and "see the worker's logs" in job.error

    def broken(j: PollJob) -> str | None:
        raise RuntimeError("state store down")

    assert parse_message("poll", message({"connection_id": "c", "resource": "patients"}), broken).redrivable


class FailingEvents:
    def __init__(self) -> None:
        self.rules: set[str] = set()

    def put_rule(self, Name: str, **kwargs: Any) -> dict[str, str]:
        self.rules.add(Name)
        return {"RuleArn": f"arn:aws:events:us-east-1:1:rule/b/{Name}"}

    def put_targets(self, **kwargs: Any) -> None:
        raise RuntimeError("AccessDenied")

    def remove_targets(self, **kwargs: Any) -> None:
        pass

    def delete_rule(self, Name: str, **kwargs: Any) -> None:
        self.rules.discard(Name)


class Queues:
    def __init__(self) -> None:
        self.queues: set[str] = set()

    def create_queue(self, QueueName: str, **kwargs: Any) -> dict[str, str]:
        self.queues.add(QueueName)
        return {"QueueUrl": QueueName}

    def get_queue_attributes(self, QueueUrl: str, **kwargs: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:1:{QueueUrl}"}}

    def set_queue_attributes(self, **kwargs: Any) -> None:
        pass

    def delete_queue(self, QueueUrl: str) -> None:
        self.queues.discard(QueueUrl)


def test_a_tail_that_fails_to_start_removes_what_it_created() -> None:
    events, sqs = FailingEvents(), Queues()
    with pytest.raises(RuntimeError, match="AccessDenied"), BusTail(EventBridgeTail(events, sqs, "bus")):
        pass
    assert events.rules == set() and sqs.queues == set()
