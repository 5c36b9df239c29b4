"""A log line holds what the log group does not already say: CloudWatch bills every byte ingested."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cliniko_connector.observability import logger


@dataclass
class Context:
    function_name: str = "cliniko-connector-prod-PollWorkerFunction-AbCdEf123456"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id: str = "5f1b3c1e-2f0a-4c55-9d0e-0b6f3c2a7d10"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream, previous, level = io.StringIO(), handler.stream, logger.log_level
    handler.setStream(stream)
    logger.setLevel("INFO")  # the template's default, whatever an earlier test (the CLI's) left
    try:
        yield stream
    finally:
        handler.setStream(previous)
        logger.setLevel(level)


def invoke(trace_header: str, monkeypatch: pytest.MonkeyPatch, stream: io.StringIO) -> dict[str, Any]:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", trace_header)

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: Any, context: Any) -> None:
        logger.info("stream polled", extra={"stream": "northside/patients", "records": 0})

    handler({}, Context())
    entry: dict[str, Any] = json.loads(stream.getvalue().splitlines()[-1])
    return entry


def test_a_line_names_its_request_but_not_the_function_the_log_group_belongs_to(
    lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = invoke("Root=1-6752a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=0", monkeypatch, lines)
    assert entry["function_request_id"] == Context.aws_request_id
    assert entry["stream"] == "northside/patients" and entry["message"] == "stream polled"
    assert not {"function_name", "function_arn", "function_memory_size"} & entry.keys()
    assert "xray_trace_id" not in entry  # not sampled: no trace to look up


def test_a_traced_invocation_keeps_its_trace_id(lines: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = invoke("Root=1-6752a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1", monkeypatch, lines)
    assert entry["xray_trace_id"] == "1-6752a1b2-0123456789abcdef01234567"
