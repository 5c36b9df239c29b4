"""Powertools Logger, Tracer and Metrics, created once for every function and the CLI."""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "cliniko-connector"
NAMESPACE = "ClinikoConnector"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "logger", "metrics", "tracer"]


def count(name: str, value: float = 1, dimensions: Mapping[str, str] | None = None) -> None:
    """Record one business metric. Dimensions are low-cardinality ids (connection, resource), never data."""
    if dimensions:
        with metrics.single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as m:
            for key, dim in dimensions.items():
                m.add_dimension(name=key, value=dim)
    else:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
