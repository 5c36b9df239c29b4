"""The business metrics (namespace ClinikoConnector) the alarms and the dashboard read."""

from __future__ import annotations

# Business metrics (namespace ClinikoConnector). Their one dimension is `service`, which the functions take from
# POWERTOOLS_SERVICE_NAME (set per stage in Globals): a CloudWatch metric is billed per name and dimension values,
# so a clinic adds none. Whose a value is goes into the metric's EMF line as a property (noted per metric), where
# Logs Insights groups by it (observability.count).
STREAM_METRICS = ("RecordsPolled", "EventsPublished", "DuplicatesSuppressed", "PagesFetched")  # connection, resource
ACTION_METRICS = ("ActionsSucceeded", "ActionsFailed", "ActionTransientFailures")  # action
API_REQUESTS_METRIC = "ClinikoRequests"  # connection, resource: requests a poll sent to Cliniko
RATE_LIMITED_METRIC = "ClinikoRateLimited"  # connection, resource: polls that failed on a 429
AUTH_FAILURES_METRIC = "ClinikoAuthFailures"  # connection: polls that failed on a 401/403
STREAM_LAG_METRIC = "StreamLagSeconds"  # connection, resource: how far behind Cliniko a stream is (unit Seconds)
# connection: a poll or action refused a connection row whose base URL this stack sends no key to.
BASE_URL_REFUSED_METRIC = "ConnectionBaseUrlRefused"
# connection, resource: list pages that came back out of the order asked for
SORT_NOT_HONOURED_METRIC = "ClinikoSortNotHonoured"
# The properties of a poll's metric lines that say which stream: the dashboard's Logs Insights table groups by them.
STREAM_LABELS = ("connection", "resource")
# The one metric with a second dimension, `action`: bounded by the catalog, and a value only when an action fails;
# the dashboard's "Failed actions per action" reads it.
PER_ACTION_METRIC = "ActionsFailed"
# Every inbound hook request, by HTTP status (a dimension: the statuses are few); the hook's name is a label.
HOOK_REQUESTS_METRIC = "HookRequests"
EMITTED_METRICS = frozenset(
    {
        HOOK_REQUESTS_METRIC,
        *STREAM_METRICS,
        *ACTION_METRICS,
        "PollJobsDispatched",
        API_REQUESTS_METRIC,
        RATE_LIMITED_METRIC,
        AUTH_FAILURES_METRIC,
        STREAM_LAG_METRIC,
        BASE_URL_REFUSED_METRIC,
        SORT_NOT_HONOURED_METRIC,
    }
)
# The failure-rate alarm reads ActionsFailed and ActionsSucceeded per service (all actions together).
ROLLUP_METRICS = ("ActionsFailed", "ActionsSucceeded")
