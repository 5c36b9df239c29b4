"""The dashboard and alarms of template.yaml read metrics the code emits, and name resources that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cliniko_connector.observability import NAMESPACE
from cliniko_tools.devtools.template import (
    ACTION_METRICS,
    API_REQUESTS_METRIC,
    AUTH_FAILURES_METRIC,
    DEAD_LETTER_QUEUES,
    EMITTED_METRICS,
    RATE_LIMITED_METRIC,
    ROLLUP_METRICS,
    SORT_NOT_HONOURED_METRIC,
    STREAM_LAG_METRIC,
    STREAM_METRICS,
    dashboard_metric_names,
)
from cliniko_tools.devtools.template.dashboard import STREAM_TABLE_COLUMNS
from cliniko_tools.devtools.template.metrics import HOOK_REQUESTS_METRIC, PER_ACTION_METRIC, STREAM_LABELS

PACKAGE = Path(__file__).resolve().parents[3] / "layers" / "cliniko_connector" / "cliniko_connector"
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def emitted_by_the_code() -> set[str]:
    """Metric names passed to a metric helper (`count`, `seconds_metric`, …) anywhere in the package."""
    call = re.compile(r"\b(?:count|seconds_metric|add_metric|single_metric)\(\s*(?:name=)?\"([A-Za-z]+)\"")
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        names.update(call.findall(path.read_text(encoding="utf-8")))
    return names


def dashboard_text(resources: dict[str, Any]) -> str:
    text: str = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return text


def substituted(text: str, resources: dict[str, Any], parameters: dict[str, Any]) -> str:
    """The body as CloudFormation would render it, with placeholder values; fails on unknown names."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        logical_id = name.split(".", 1)[0]
        assert name.startswith("AWS::") or logical_id in resources or name in parameters, f"unknown ${{{name}}}"
        return "900" if name == "StreamLagAlarmSeconds" else f"value-of-{name}"

    return SUB_VARIABLE.sub(value, text)


def test_the_dashboard_body_is_valid_json_on_a_24_column_grid(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    body = json.loads(substituted(dashboard_text(resources), resources, template["Parameters"]))
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["type"] in {"metric", "text", "alarm", "log"}
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= 24
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, f"{widget['properties'].get('title')} overlaps another widget"
                cells.add((x, y))
        if widget["type"] == "metric":
            props = widget["properties"]
            assert props["metrics"] and props["region"] == "value-of-AWS::Region"
            ids = [m[-1]["id"] for m in props["metrics"] if isinstance(m[-1], dict) and "id" in m[-1]]
            assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z][a-zA-Z0-9_]*", i) for i in ids)
            for annotation in props.get("annotations", {}).get("horizontal", []):
                assert isinstance(annotation["value"], int | float)  # CloudWatch rejects a quoted number
        if widget["type"] == "log":
            props = widget["properties"]
            assert props["region"] == "value-of-AWS::Region" and props["view"] == "table"
            assert props["query"].startswith("SOURCE 'value-of-PollWorkerFunctionLogGroup' | ")


def test_the_dashboard_shows_what_operations_needs(resources: dict[str, Any]) -> None:
    text = dashboard_text(resources)
    names = dashboard_metric_names(json.loads(text.replace("${StreamLagAlarmSeconds}", "0")))
    assert {*STREAM_METRICS, *ACTION_METRICS, STREAM_LAG_METRIC, AUTH_FAILURES_METRIC} <= names
    assert {API_REQUESTS_METRIC, RATE_LIMITED_METRIC} <= names  # API requests and 429s per connection
    assert names <= EMITTED_METRICS
    for queue in DEAD_LETTER_QUEUES:
        assert f"${{{queue}.QueueName}}" in text, queue
    alarms = [k for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"]
    for alarm in alarms:
        assert f"${{{alarm}.Arn}}" in text, alarm
    body = json.loads(text.replace("${StreamLagAlarmSeconds}", "0"))
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if line[0] == NAMESPACE:  # never another stack's metrics
                assert line[2:4] == ["service", "cliniko-connector-${Stage}"], line
            elif "expression" in line[0]:
                assert 'service="cliniko-connector-${Stage}"' in line[0]["expression"]


def test_the_dashboard_and_alarms_read_no_metric_per_connection(resources: dict[str, Any]) -> None:
    """A dimension per connection would make every clinic pay for its own metrics: the dashboard reads the
    stack's metrics per service, only ActionsFailed per action (which the catalog bounds), and HookRequests per
    HTTP status (a handful)."""
    text = dashboard_text(resources)
    searched = re.findall(r"SEARCH\('\{[A-Za-z]+,([a-z,]+)\} MetricName=\\\"([A-Za-z]+)\\\"", text)
    assert searched == [("action,service", PER_ACTION_METRIC), ("status,service", HOOK_REQUESTS_METRIC)]
    for resource in resources.values():
        if resource["Type"] == "AWS::CloudWatch::Alarm" and resource["Properties"].get("Namespace") == NAMESPACE:
            assert [d["Name"] for d in resource["Properties"]["Dimensions"]] == ["service"]


def test_the_dashboard_table_groups_the_metric_lines_by_the_properties_the_code_writes(
    resources: dict[str, Any],
) -> None:
    body = json.loads(dashboard_text(resources).replace("${StreamLagAlarmSeconds}", "0"))
    (widget,) = [w for w in body["widgets"] if w["type"] == "log"]
    query = widget["properties"]["query"]
    assert f"by {', '.join(STREAM_LABELS)} " in query
    assert {metric for _, metric, _ in STREAM_TABLE_COLUMNS} <= EMITTED_METRICS
    # That a poll's metric line carries these properties: tests/unit/test_business_metrics.py.


def metrics_read_by_alarms(resources: dict[str, Any]) -> set[str]:
    """Metric names every alarm reads: its own MetricName, its metric-math MetricStats, its Metrics Insights SELECTs."""
    select = re.compile(r"SELECT\s+[A-Z]+\(([A-Za-z]+)\)\s+FROM\s+SCHEMA\(\"" + NAMESPACE + '"')
    names: set[str] = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        if props.get("Namespace") == NAMESPACE:
            names.add(props["MetricName"])
        for query in props.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == NAMESPACE:
                names.add(metric["MetricName"])
            expression = query.get("Expression", "")
            names.update(select.findall(expression["Fn::Sub"] if isinstance(expression, dict) else expression))
    return names


def test_every_metric_the_dashboard_reads_is_emitted_by_the_code() -> None:
    emitted = emitted_by_the_code()
    assert emitted >= EMITTED_METRICS, f"the dashboard reads metrics nobody emits: {EMITTED_METRICS - emitted}"


def test_every_metric_an_alarm_reads_is_emitted_by_the_code(resources: dict[str, Any]) -> None:
    read = metrics_read_by_alarms(resources)
    # The connector's own alarms (the rest watch queues and Lambda's metrics): found, or this proves nothing.
    assert {STREAM_LAG_METRIC, AUTH_FAILURES_METRIC, *ROLLUP_METRICS} <= read
    assert read <= emitted_by_the_code(), f"alarms read metrics nobody emits: {read - emitted_by_the_code()}"
    assert read <= EMITTED_METRICS


def test_the_action_failure_rate_alarm(resources: dict[str, Any]) -> None:
    props = resources["ActionFailureRateAlarm"]["Properties"]
    metrics = {m["Id"]: m for m in props["Metrics"]}
    for metric_id, name in (("failed", "ActionsFailed"), ("succeeded", "ActionsSucceeded")):
        metric = metrics[metric_id]["MetricStat"]["Metric"]
        assert metric["Namespace"] == NAMESPACE and metric["MetricName"] == name
        assert metric["Dimensions"] == [{"Name": "service", "Value": {"Fn::Sub": "cliniko-connector-${Stage}"}}]
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m} == set(
        ROLLUP_METRICS
    )
    (returned,) = [m for m in props["Metrics"] if m["ReturnData"]]
    assert "FILL(failed, 0) / (FILL(failed, 0) + FILL(succeeded, 0))" in returned["Expression"]
    assert 0 < props["Threshold"] < 1


def test_the_health_alarms(resources: dict[str, Any]) -> None:
    worker = resources["PollWorkerErrorsAlarm"]["Properties"]
    assert (worker["Namespace"], worker["MetricName"]) == ("AWS/Lambda", "Errors")
    assert worker["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "PollWorkerFunction"}}]
    auth = resources["ClinikoAuthFailuresAlarm"]["Properties"]
    assert (auth["MetricName"], auth["Statistic"]) == (AUTH_FAILURES_METRIC, "Sum")
    assert auth["EvaluationPeriods"] == auth["DatapointsToAlarm"] >= 2  # repeated, not one refused request
    lag = resources["StreamLagAlarm"]["Properties"]
    assert (lag["MetricName"], lag["Statistic"]) == (STREAM_LAG_METRIC, "Maximum")  # the worst stream
    assert lag["Threshold"] == {"Ref": "StreamLagAlarmSeconds"}
    for alarm in (auth, lag):
        assert alarm["Namespace"] == NAMESPACE and alarm["Period"] == 300
        assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Fn::Sub": "cliniko-connector-${Stage}"}}]


def test_a_list_out_of_the_order_asked_for_is_alarmed_on_the_rolled_up_metric(
    resources: dict[str, Any],
) -> None:
    props = resources["ClinikoSortNotHonouredAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (NAMESPACE, SORT_NOT_HONOURED_METRIC)
    assert props["Dimensions"] == [{"Name": "service", "Value": {"Fn::Sub": "cliniko-connector-${Stage}"}}]
    assert props["Threshold"] == 1 and props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_alarms_are_on_the_optional_topic_only_when_given(template: dict[str, Any]) -> None:
    assert template["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
