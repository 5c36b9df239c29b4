"""Powertools Logger, Tracer and Metrics, created once for every function and the CLI."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = "cliniko-connector"
NAMESPACE = "ClinikoConnector"

# stderr: in Lambda it reaches CloudWatch like stdout does, and in the CLI it keeps `--json` output clean.
logger = Logger(service=SERVICE, logger_handler=logging.StreamHandler(sys.stderr))
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "count", "logger", "metrics", "tracer"]


def count(name: str, value: float = 1, dimensions: Mapping[str, str] | None = None) -> None:
    """Record one business metric. Dimensions are low-cardinality ids (connection, resource), never data."""
    if is_metrics_disabled():
        return
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)
