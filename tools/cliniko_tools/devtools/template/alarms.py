"""CloudWatch alarms: one per dead-letter queue, and on the pipeline's health (business metrics per service and
AWS's own). None reads a metric per connection: alarms cost the stack, not each clinic."""

from __future__ import annotations

from typing import Any

from cliniko_connector.observability import NAMESPACE
from cliniko_tools.devtools.template.intrinsics import NO_VALUE, get_att, if_, ref, sub
from cliniko_tools.devtools.template.metrics import (
    AUTH_FAILURES_METRIC,
    BASE_URL_REFUSED_METRIC,
    SORT_NOT_HONOURED_METRIC,
    STREAM_LAG_METRIC,
)
from cliniko_tools.devtools.template.names import SERVICE_DIMENSION
from cliniko_tools.devtools.template.queues import DEAD_LETTER_QUEUES
from cliniko_tools.devtools.template.stack import Stack

ACTION_FAILURE_RATE_THRESHOLD = 0.2  # more than 20% of action outcomes failed …
ACTION_FAILURE_RATE_MIN_OUTCOMES = 5  # … out of at least this many in 5 minutes
POLL_WORKER_ERRORS_THRESHOLD = 3  # failed poll jobs in 15 minutes
HOOK_ERRORS_THRESHOLD = 3
AUTH_FAILURE_PERIODS = 3  # 401/403 answers in each of 3 consecutive 5-minute periods
POLL_QUEUE_MAX_AGE_SECONDS = 3_600  # a poll job an hour old failed twice or the worker stalled

ALARM_ACTIONS = if_("HasAlarmTopic", [ref("AlarmTopicArn")], NO_VALUE)


def add_dead_letter_alarms(stack: Stack) -> None:
    for queue, what in DEAD_LETTER_QUEUES.items():
        stack.add(f"{queue}Alarm", _dlq_alarm(queue, what))


def add_alarms(stack: Stack) -> None:
    """The pipeline's health: action failure rate, failed and stale poll jobs, refused keys, lag, order."""
    service = [{"Name": "service", "Value": sub(SERVICE_DIMENSION)}]

    def rollup(metric_id: str, name: str) -> dict[str, Any]:
        return {
            "Id": metric_id,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": service},
                "Period": 300,
                "Stat": "Sum",
            },
        }

    failed, ok = "FILL(failed, 0)", "FILL(succeeded, 0)"
    stack.add(
        "ActionFailureRateAlarm",
        _alarm(
            f"failed action outcomes exceed {ACTION_FAILURE_RATE_THRESHOLD:.0%} of all outcomes "
            f"(at least {ACTION_FAILURE_RATE_MIN_OUTCOMES} in 5 minutes).",
            Metrics=[
                rollup("failed", "ActionsFailed"),
                rollup("succeeded", "ActionsSucceeded"),
                {
                    "Id": "failure_rate",
                    "Label": "ActionsFailed / (ActionsSucceeded + ActionsFailed)",
                    "ReturnData": True,
                    "Expression": f"IF({failed} + {ok} >= {ACTION_FAILURE_RATE_MIN_OUTCOMES}, "
                    f"{failed} / ({failed} + {ok}), 0)",
                },
            ],
            EvaluationPeriods=3,
            DatapointsToAlarm=2,
            Threshold=ACTION_FAILURE_RATE_THRESHOLD,
            ComparisonOperator="GreaterThanThreshold",
        ),
    )
    stack.add(
        "PollWorkerErrorsAlarm",
        _alarm(
            f"at least {POLL_WORKER_ERRORS_THRESHOLD} poll jobs failed in 15 minutes (one job per invocation, "
            "so every Lambda error is a failed job).",
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": ref("PollWorkerFunction")}],
            Statistic="Sum",
            Period=900,
            EvaluationPeriods=1,
            Threshold=POLL_WORKER_ERRORS_THRESHOLD,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
    )
    stack.add(
        "HookErrorsAlarm",
        _alarm(
            "the hook function failed (not a refusal: those are answers) at least "
            f"{HOOK_ERRORS_THRESHOLD} times in 15 minutes; callers got a 5xx and will send again.",
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": ref("HookFunction")}],
            Statistic="Sum",
            Period=900,
            EvaluationPeriods=1,
            Threshold=HOOK_ERRORS_THRESHOLD,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
    )
    stack.add(
        "PollQueueBacklogAlarm",
        _alarm(
            f"the oldest poll job is over {POLL_QUEUE_MAX_AGE_SECONDS // 60} minutes old: jobs keep failing or "
            "the worker is not consuming.",
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": get_att("PollQueue", "QueueName")}],
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=2,
            Threshold=POLL_QUEUE_MAX_AGE_SECONDS,
            ComparisonOperator="GreaterThanThreshold",
        ),
    )
    stack.add(
        "ClinikoAuthFailuresAlarm",
        _on_service_metric(
            AUTH_FAILURES_METRIC,
            f"Cliniko refused a key (401/403) in each of {AUTH_FAILURE_PERIODS} consecutive 5-minute periods: "
            "a key was revoked or its user lost access. The dashboard's Logs Insights table shows which connection.",
            periods=AUTH_FAILURE_PERIODS,
        ),
    )
    stack.add(
        "ConnectionBaseUrlRefusedAlarm",
        _on_service_metric(
            BASE_URL_REFUSED_METRIC,
            "a poll or action refused a connection whose base URL is not its key's Cliniko shard (the connections "
            "table was edited to send a key elsewhere, or AllowBaseUrlOverride is off for a connection that "
            "needs it). The key was not sent; the function's log names the connection.",
        ),
    )
    stack.add(
        "StreamLagAlarm",
        _on_service_metric(
            STREAM_LAG_METRIC,
            "a stream's cursor is more than ${StreamLagAlarmSeconds} seconds behind: polling is failing or can't "
            "keep up. The dashboard's Logs Insights table shows which connection and resource.",
            statistic="Maximum",
            periods=2,
            threshold=ref("StreamLagAlarmSeconds"),
            comparison="GreaterThanThreshold",
        ),
    )

    stack.add(
        "ClinikoSortNotHonouredAlarm",
        _on_service_metric(
            SORT_NOT_HONOURED_METRIC,
            "a Cliniko list came back out of the order the poller asked for (sort=updated_at,id): the stream "
            "read that window without relying on order (correct, more requests). `status` shows which stream.",
        ),
    )


def _alarm(description: str, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": sub(f"cliniko-connector ${{Stage}}: {description}"),
            **properties,
            "TreatMissingData": "notBreaching",
            "AlarmActions": ALARM_ACTIONS,
            "OKActions": ALARM_ACTIONS,
        },
    }


def _on_service_metric(
    metric: str,
    description: str,
    *,
    statistic: str = "Sum",
    periods: int = 1,
    threshold: Any = 1,
    comparison: str = "GreaterThanOrEqualToThreshold",
) -> dict[str, Any]:
    """An alarm on a business metric of this stack (its one dimension is `service`), in 5-minute periods, every
    one of `periods` breaching: by default, it happened at least once in five minutes."""
    return _alarm(
        description,
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": "service", "Value": sub(SERVICE_DIMENSION)}],
        Statistic=statistic,
        Period=300,
        EvaluationPeriods=periods,
        DatapointsToAlarm=periods,
        Threshold=threshold,
        ComparisonOperator=comparison,
    )


def _dlq_alarm(queue_id: str, what: str) -> dict[str, Any]:
    return _alarm(
        f"{queue_id} holds {what}.",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": get_att(queue_id, "QueueName")}],
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )
