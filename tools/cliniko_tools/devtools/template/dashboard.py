"""The CloudWatch dashboard: business metrics per service, a Logs Insights table per connection and stream (from the
metric lines' properties), failures per action, queues, functions, alarms."""

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
    HOOK_REQUESTS_METRIC,
    PER_ACTION_METRIC,
    RATE_LIMITED_METRIC,
    STREAM_LABELS,
    STREAM_LAG_METRIC,
    STREAM_METRICS,
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


def _service_metric(name: str, label: str, **options: Any) -> list[Any]:
    """One business metric of this stack (its `service` dimension)."""
    return [NAMESPACE, name, "service", SERVICE_DIMENSION, {"label": label, **options}]


# The Logs Insights table: the poll worker's metric lines (EMF documents, the ones with `_aws`) summed by the
# properties that say which stream. What each column sums is a metric the code writes on those lines.
STREAM_TABLE_COLUMNS = (
    ("sum", "RecordsPolled", "records"),
    ("sum", "EventsPublished", "events"),
    ("sum", "DuplicatesSuppressed", "duplicates"),
    ("sum", "PagesFetched", "pages"),
    ("sum", API_REQUESTS_METRIC, "requests"),
    ("sum", RATE_LIMITED_METRIC, "rate_limited"),
    ("sum", AUTH_FAILURES_METRIC, "auth_failures"),
    ("max", STREAM_LAG_METRIC, "max_lag_s"),
)


def stream_table_query(log_group: str) -> str:
    columns = ", ".join(f"{stat}({metric}) as {name}" for stat, metric, name in STREAM_TABLE_COLUMNS)
    return (
        f"SOURCE '{log_group}' | filter ispresent(_aws.Timestamp) and ispresent({STREAM_LABELS[0]}) "
        f"| stats {columns} by {', '.join(STREAM_LABELS)} | sort requests desc | limit 200"
    )


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
        _graph(
            "Polling, all clinics",
            [_service_metric(name, name) for name in STREAM_METRICS],
        ),
        _graph(
            "Cliniko API requests and 429s, all clinics",
            [
                _service_metric(API_REQUESTS_METRIC, "requests"),
                _service_metric(RATE_LIMITED_METRIC, "429", yAxis="right"),
            ],
        ),
        _graph("Cliniko 401/403, all clinics", [_service_metric(AUTH_FAILURES_METRIC, "401/403")]),
        _graph(
            "Stream lag (seconds behind), worst stream",
            [_service_metric(STREAM_LAG_METRIC, "worst stream")],
            stat="Maximum",
            annotations=lag_threshold,
        ),
        _graph(
            "Actions succeeded / failed (all actions)",
            [
                _service_metric("ActionsSucceeded", "succeeded"),
                _service_metric("ActionsFailed", "failed"),
                _service_metric("ActionTransientFailures", "transient"),
            ],
        ),
        _graph(
            "Failed actions per action",
            [_expression(search(PER_ACTION_METRIC, "action", "Sum"), "", "failed_by_action")],
        ),
        _graph(
            "Inbound hook requests by HTTP status",
            [
                _expression(search(HOOK_REQUESTS_METRIC, "status", "Sum"), "", "hooks_by_status"),
                ["AWS/Lambda", "Errors", "FunctionName", "${HookFunction}", {"label": "hook function errors"}],
            ],
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
        {
            "type": "log",
            "width": 24,
            "height": 8,
            "properties": {
                "title": "Per connection and stream (Logs Insights over the poll worker's metric lines)",
                "region": "${AWS::Region}",
                "view": "table",
                "query": stream_table_query("${PollWorkerFunctionLogGroup}"),
            },
        },
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
    """Every `ClinikoConnector` metric name the dashboard reads: in metric arrays, SEARCH expressions and the Logs
    Insights table's columns."""
    names: set[str] = set()
    for widget in body["widgets"]:
        props = widget["properties"]
        for line in props.get("metrics", []):
            if line and line[0] == NAMESPACE:
                names.add(line[1])
            elif line and isinstance(line[0], dict) and "expression" in line[0]:
                names.update(re.findall(r'MetricName="([A-Za-z]+)"', line[0]["expression"]))
        names.update(re.findall(r"\b(?:sum|max)\(([A-Za-z]+)\)", props.get("query", "")))
    return names
