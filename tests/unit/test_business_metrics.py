"""Business metrics cost the stack, not each clinic: one CloudWatch metric per name and service, the clinic's
ids as properties of the EMF line, one line per set of labels per invocation, and nothing for a zero."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from cliniko_connector import observability
from cliniko_connector.errors import ConnectionNotFound
from cliniko_connector.observability import contained, count, flush_metrics, seconds_metric


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    flush_metrics()
    capsys.readouterr()

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]

    return lines


def billed(lines: list[dict[str, Any]]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """(name, dimension values): what CloudWatch bills as one custom metric each."""
    found = set()
    for doc in lines:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dims in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    found.add((metric["Name"], tuple((d, doc[d]) for d in dims)))
    return found


def test_two_clinics_polling_add_no_metric_of_their_own(emf: Any) -> None:
    for clinic in ("northside", "southside"):
        for resource in ("patients", "invoices"):
            count("RecordsPolled", 3, {"connection": clinic, "resource": resource})
    flush_metrics()
    lines = emf()
    assert billed(lines) == {("RecordsPolled", (("service", observability.SERVICE),))}
    assert {(d["connection"], d["resource"], d["RecordsPolled"]) for d in lines} == {
        (clinic, resource, 3) for clinic in ("northside", "southside") for resource in ("patients", "invoices")
    }


def test_one_stream_poll_is_one_line_with_its_counts_summed(emf: Any) -> None:
    labels = {"connection": "northside", "resource": "patients"}
    count("PagesFetched", 1, labels)
    count("PagesFetched", 2, labels)
    count("RecordsPolled", 7, labels)
    seconds_metric("StreamLagSeconds", 120, {"resource": "patients", "connection": "northside"})
    flush_metrics()
    (line,) = emf()
    # One value each, written as a number: Logs Insights can `sum(PagesFetched)` by connection and resource.
    assert (line["PagesFetched"], line["RecordsPolled"], line["StreamLagSeconds"]) == (3, 7, 120)
    units = {m["Name"]: m["Unit"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"PagesFetched": "Count", "RecordsPolled": "Count", "StreamLagSeconds": "Seconds"}


def test_an_idle_poll_writes_no_zero(emf: Any) -> None:
    labels = {"connection": "northside", "resource": "patients"}
    count("EventsPublished", 0, labels)
    count("DuplicatesSuppressed", 0, labels)
    seconds_metric("StreamLagSeconds", 0, labels)
    count("PagesFetched", 1, labels)
    flush_metrics()
    (line,) = emf()
    assert [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == ["PagesFetched"]
    assert "EventsPublished" not in line and "StreamLagSeconds" not in line


def test_a_dimension_bounded_by_the_catalog_is_published_per_service_and_per_value(emf: Any) -> None:
    count("ActionsFailed", labels={"action": "patient.create"}, by="action")
    count("ActionsSucceeded", labels={"action": "patient.create"})
    flush_metrics()
    service = ("service", observability.SERVICE)
    assert billed(emf()) == {
        ("ActionsFailed", (service,)),
        ("ActionsFailed", (service, ("action", "patient.create"))),
        ("ActionsSucceeded", (service,)),
    }


def test_a_handler_writes_its_metrics_when_it_returns_and_when_it_raises(emf: Any) -> None:
    @contained
    def handler(event: Any, context: Any) -> str:
        count("PollJobsDispatched", 2)
        if event == "fail":
            raise ConnectionNotFound("gone")
        return "ok"

    assert handler("run", None) == "ok"
    assert [d["PollJobsDispatched"] for d in emf()] == [2]
    with pytest.raises(ConnectionNotFound):
        handler("fail", None)
    assert [d["PollJobsDispatched"] for d in emf()] == [2]


def test_nothing_is_kept_while_metrics_are_disabled(emf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    count("PagesFetched", 1, {"connection": "northside"})
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    flush_metrics()
    assert emf() == []


def test_two_lags_of_one_stream_in_one_invocation_are_both_kept(emf: Any) -> None:
    labels = {"connection": "northside", "resource": "patients"}
    seconds_metric("StreamLagSeconds", 30, labels)
    seconds_metric("StreamLagSeconds", 90, labels)
    flush_metrics()
    (line,) = emf()
    assert line["StreamLagSeconds"] == [30.0, 90.0]  # the Maximum the alarm reads is 90, not a sum


def test_an_idle_poll_job_writes_one_metric_line_for_its_connection(emf: Any) -> None:
    from cliniko_connector.ports import PollJob
    from tests.unit.fakes import FakeCliniko
    from tests.unit.test_poll_worker import EVERY, STREAMS, Clock, worker

    poll_worker = worker(FakeCliniko(), Clock(), concurrency=len(STREAMS), triggers=EVERY)
    contained(lambda event, context: poll_worker.handle(PollJob(connection_id="c", resources=STREAMS)))({}, None)
    (line,) = emf()  # nothing changed: one line for the job's three streams, no zeros, no lag (all caught up)
    assert line["connection"] == "c" and "resource" not in line
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert [m["Name"] for m in directive["Metrics"]] == ["PagesFetched"] and line["PagesFetched"] == len(STREAMS)
    assert directive["Dimensions"] == [["service"]]


def test_a_stream_that_changed_writes_its_line_with_the_properties_the_dashboard_groups_by(emf: Any) -> None:
    from cliniko_connector.ports import PollJob
    from cliniko_tools.devtools.template.metrics import STREAM_LABELS
    from tests.unit.fakes import FakeCliniko
    from tests.unit.test_poll_worker import Clock, worker

    cliniko = FakeCliniko()
    ts = "2030-01-01T00:00:00Z"  # after the cursor's start (now): a new patient
    cliniko.put("patients", {"id": "1", "created_at": ts, "updated_at": ts, "archived_at": None})
    poll_worker = worker(cliniko, Clock())
    contained(lambda event, context: poll_worker.handle(PollJob(connection_id="c", resource="patients")))({}, None)
    (line,) = emf()
    assert {label: line[label] for label in STREAM_LABELS} == {"connection": "c", "resource": "patients"}
    assert (line["PagesFetched"], line["RecordsPolled"], line["EventsPublished"]) == (1, 1, 1)


def test_a_metric_that_cannot_be_written_does_not_fail_the_handler_and_says_so(emf: Any) -> None:
    @contained
    def handler(event: Any, context: Any) -> str:
        count("x" * 300, 1, {"connection": "northside"})  # longer than CloudWatch takes
        count("PagesFetched", 1, {"connection": "northside", "resource": "patients"})
        return "ok"

    handler_stream = observability.logger.registered_handler
    assert isinstance(handler_stream, logging.StreamHandler)
    logged, previous, level = io.StringIO(), handler_stream.stream, observability.logger.log_level
    handler_stream.setStream(logged)
    observability.logger.setLevel("INFO")  # whatever an earlier test (the CLI's) left
    try:
        assert handler({}, None) == "ok"
    finally:
        handler_stream.setStream(previous)
        observability.logger.setLevel(level)
    assert [line["PagesFetched"] for line in emf()] == [1]  # the other line is still written
    assert [json.loads(line)["message"] for line in logged.getvalue().splitlines()] == ["metrics not written"]


def test_a_stream_that_only_re_read_what_it_had_seen_counts_for_its_connection(emf: Any) -> None:
    from cliniko_connector.ports import PollJob
    from tests.unit.fakes import FakeCliniko
    from tests.unit.test_poll_worker import Clock, worker

    cliniko = FakeCliniko()
    ts = "2030-01-01T00:00:00Z"
    cliniko.put("patients", {"id": "1", "created_at": ts, "updated_at": ts, "archived_at": None})
    poll_worker = worker(cliniko, Clock())
    job = PollJob(connection_id="c", resource="patients")
    contained(lambda event, context: poll_worker.handle(job))({}, None)
    emf()  # the first poll published the patient

    contained(lambda event, context: poll_worker.handle(job))({}, None)
    (line,) = emf()  # the overlap read the patient again: nothing new, so no line of the stream's own
    assert line["connection"] == "c" and "resource" not in line
    assert (line["PagesFetched"], line["RecordsPolled"], line["DuplicatesSuppressed"]) == (1, 1, 1)
    assert "EventsPublished" not in line
