"""The CloudWatch dashboard: business metrics per connection, stream and action, queues, functions, alarms."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from cliniko_connector.observability import NAMESPACE
from cliniko_tools.devtools.template.intrinsics import sub
from cliniko_tools.devtools.template.metrics import (
    API_REQUESTS_METRIC,
    AUTH_FAILURES_METRIC,
    RATE_LIMITED_METRIC,
    STREAM_LAG_METRIC,
)
from cliniko_tools.devtools.template.names import SERVICE_DIMENSION, STACK_PREFIX
from cliniko_tools.devtools.template.queues import DEAD_LETTER_QUEUES
from cliniko_tools.devtools.template.stack import Stack


def add_dashboard(stack: Stack) -> None:
    stack.add(
        "Dashboard",
        {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": sub(STACK_PREFIX),
                "DashboardBody": sub(dashboard_json(stack.resources)),
            },
        },
    )


def search(metric: str, dimensions: str, stat: str, period: int = 300) -> str:
    """A SEARCH expression over one business metric of this stack, one line per dimension combination."""
    return (
        f'SEARCH(\'{{{NAMESPACE},{dimensions},service}} MetricName="{metric}" '
        f"service=\"{SERVICE_DIMENSION}\"', '{stat}', {period})"
    )


def _graph(
    title: str, metrics: list[list[Any]], *, stat: str = "Sum", stacked: bool = False, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "stacked": stacked,
            "stat": stat,
            "period": 300,
            "metrics": metrics,
            **extra,
        },
    }


def _expression(expression: str, label: str, metric_id: str) -> list[Any]:
    """A metric-math line; without a label, a SEARCH names each line by its dimension values."""
    return [{"expression": expression, "id": metric_id, **({"label": label} if label else {})}]


def _per_stream(title: str, metric: str, stat: str = "Sum") -> dict[str, Any]:
    return _graph(title, [_expression(search(metric, "connection,resource", stat), "", "s1")], stat=stat)


# A number in the dashboard JSON that comes from a parameter: replaced, unquoted, by `${StreamLagAlarmSeconds}`.
LAG_THRESHOLD_PLACEHOLDER = "<StreamLagAlarmSeconds>"


def dashboard_json(resources: Mapping[str, Any]) -> str:
    """The dashboard body as `Fn::Sub` text."""
    text = json.dumps(dashboard_body(resources), indent=1)
    return text.replace(json.dumps(LAG_THRESHOLD_PLACEHOLDER), "${StreamLagAlarmSeconds}")


def dashboard_body(resources: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard: an `Fn::Sub` body, so it names this stack's queues, functions and alarms."""
    dlqs = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"${{{queue}.QueueName}}", {"label": queue}]
        for queue in DEAD_LETTER_QUEUES
    ]
    alarms = [f"${{{logical_id}.Arn}}" for logical_id, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    lag_threshold = {"horizontal": [{"label": "StreamLagAlarmSeconds", "value": LAG_THRESHOLD_PLACEHOLDER}]}
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "width": 24,
            "height": 2,
            "properties": {
                "markdown": "## cliniko-connector ${Stage}\nBusiness metrics are in the `ClinikoConnector` namespace, "
                "`service` = `" + SERVICE_DIMENSION + "`. What each alarm means and what to do: docs/operations.md."
            },
        },
        {"type": "alarm", "width": 24, "height": 3, "properties": {"title": "Alarms", "alarms": alarms}},
        _per_stream("Records polled per connection/resource", "RecordsPolled"),
        _per_stream("Events published per connection/resource", "EventsPublished"),
        _per_stream("Duplicates suppressed per connection/resource", "DuplicatesSuppressed"),
        _per_stream("Pages fetched per connection/resource", "PagesFetched"),
        _graph(
            "Cliniko API requests and 429s per connection",
            [
                _expression(search(API_REQUESTS_METRIC, "connection", "Sum"), "requests", "req"),
                _expression(search(RATE_LIMITED_METRIC, "connection", "Sum"), "429", "limited"),
            ],
        ),
        _graph(
            "Cliniko 401/403 per connection",
            [_expression(search(AUTH_FAILURES_METRIC, "connection", "Sum"), "", "auth")],
        ),
        _graph(
            "Stream lag (seconds behind) per connection/resource",
            [_expression(search(STREAM_LAG_METRIC, "connection,resource", "Maximum"), "", "lag")],
            stat="Maximum",
            annotations=lag_threshold,
        ),
        _graph(
            "Actions succeeded / failed (all actions)",
            [
                _expression(f"SUM({search('ActionsSucceeded', 'action', 'Sum')})", "succeeded", "ok"),
                _expression(f"SUM({search('ActionsFailed', 'action', 'Sum')})", "failed", "failed"),
                _expression(f"SUM({search('ActionTransientFailures', 'action', 'Sum')})", "transient", "transient"),
            ],
        ),
        _graph(
            "Failed actions per action",
            [_expression(search("ActionsFailed", "action", "Sum"), "", "failed_by_action")],
        ),
        _graph("Dead-letter queue depth", dlqs, stat="Maximum"),
        _graph(
            "Poll functions",
            [
                ["AWS/Lambda", "Errors", "FunctionName", "${PollWorkerFunction}", {"label": "worker errors"}],
                ["AWS/Lambda", "Throttles", "FunctionName", "${PollWorkerFunction}", {"label": "worker throttles"}],
                ["AWS/Lambda", "Errors", "FunctionName", "${PollDispatcherFunction}", {"label": "dispatcher errors"}],
                [
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    "QueueName",
                    "${PollQueue.QueueName}",
                    {"label": "oldest poll job (s)", "stat": "Maximum", "yAxis": "right"},
                ],
            ],
        ),
    ]
    # Lay the widgets out left to right, top to bottom, on CloudWatch's 24-column grid.
    x = y = row_height = 0
    for widget in widgets:
        if x + widget["width"] > 24:
            x, y, row_height = 0, y + row_height, 0
        widget["x"], widget["y"] = x, y
        x += widget["width"]
        row_height = max(row_height, widget["height"])
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}


def dashboard_metric_names(body: Mapping[str, Any]) -> set[str]:
    """Every `ClinikoConnector` metric name the dashboard reads."""
    text = json.dumps(body)
    return set(re.findall(r'MetricName=\\"([A-Za-z]+)\\"', text))
