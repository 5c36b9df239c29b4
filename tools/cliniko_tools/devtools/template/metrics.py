"""The business metrics (namespace ClinikoConnector) the alarms and the dashboard read."""

from __future__ import annotations

# Business metrics (namespace ClinikoConnector). Each carries the dimensions noted plus `service`, which
# Powertools' `single_metric` takes from POWERTOOLS_SERVICE_NAME (set per stage in Globals).
STREAM_METRICS = ("RecordsPolled", "EventsPublished", "DuplicatesSuppressed", "PagesFetched")  # connection, resource
ACTION_METRICS = ("ActionsSucceeded", "ActionsFailed", "ActionTransientFailures")  # action
API_REQUESTS_METRIC = "ClinikoRequests"  # connection: requests a poll sent to Cliniko
RATE_LIMITED_METRIC = "ClinikoRateLimited"  # connection: polls that failed on a 429
AUTH_FAILURES_METRIC = "ClinikoAuthFailures"  # connection: polls that failed on a 401/403
STREAM_LAG_METRIC = "StreamLagSeconds"  # connection, resource: how far behind Cliniko a stream is (unit Seconds)
# connection (and rolled up): a poll or action refused a connection row whose base URL this stack sends no key to.
BASE_URL_REFUSED_METRIC = "ConnectionBaseUrlRefused"
# connection, resource (and rolled up to `service`): list pages that came back out of the order asked for
SORT_NOT_HONOURED_METRIC = "ClinikoSortNotHonoured"
EMITTED_METRICS = frozenset(
    {
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
# The failure-rate alarm reads ActionsFailed and ActionsSucceeded rolled up to the `service` dimension alone
# (a second emission without `action`): a metric-math alarm reads at most 10 metrics, not two per action.
ROLLUP_METRICS = ("ActionsFailed", "ActionsSucceeded")
