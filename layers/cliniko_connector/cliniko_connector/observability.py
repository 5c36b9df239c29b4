"""Powertools Logger, Tracer and Metrics, created once for every function and the CLI."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

NAMESPACE = "ClinikoConnector"
# The template names the service per stage (cliniko-connector-<Stage>), so two stages never mix metrics.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "cliniko-connector"

# At DEBUG the AWS SDK logs request and response bodies (API keys, whole records) and urllib3 logs
# query strings (a find by email): whatever level the application runs at, these stay at WARNING.
for _noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

# Business metrics are flushed as they happen (`count`), so the handler decorator often has nothing left.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# stderr: in Lambda it reaches CloudWatch like stdout does, and in the CLI it keeps `--json` output clean.
logger = Logger(service=SERVICE, logger_handler=logging.StreamHandler(sys.stderr))
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "count", "logger", "metrics", "tracer"]


def count(name: str, value: float = 1, dimensions: Mapping[str, str] | None = None, *, rollup: bool = False) -> None:
    """Record one business metric, flushed at once. Dimensions are low-cardinality ids (connection, resource,
    action), never data. `rollup` also records it with the service dimension only, for stack-wide alarms."""
    if is_metrics_disabled():
        return
    for dims in [dimensions or {}, {}] if rollup and dimensions else [dimensions or {}]:
        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
            metric.add_dimension(name="service", value=SERVICE)
            for key, dim in dims.items():
                metric.add_dimension(name=key, value=dim)
