"""Powertools Logger, Tracer and Metrics, created once for every function and the CLI."""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from cliniko_connector.errors import ConnectorError, UnexpectedError

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
# X-Ray traces live outside the stack's KMS key and log retention, so they get nothing that can hold patient
# data: no handler responses or exception objects (POWERTOOLS_TRACER_CAPTURE_RESPONSE/ERROR=false in the
# template), and only botocore is instrumented. The requests and http.client patches would record a failed
# Cliniko call's exception, whose text holds the URL's query string (a find by email or name).
TRACED_MODULES = ("botocore",)


class TracingOff:
    """The tracer where tracing is off (Powertools' own rule: outside Lambda, under `sam local`, or
    POWERTOOLS_TRACE_DISABLED): building a Tracer imports the X-Ray SDK, whose recorder creates a boto3 client of
    its own, a third of a cold start, to trace nothing."""

    def capture_lambda_handler(self, lambda_handler: Callable[..., Any]) -> Callable[..., Any]:
        return lambda_handler


tracer: Tracer | TracingOff = (
    TracingOff() if Tracer._is_tracer_disabled() else Tracer(service=SERVICE, patch_modules=TRACED_MODULES)
)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "contained", "count", "logger", "metrics", "tracer"]


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


Handler = Callable[[Any, Any], Any]


def contained(handler: Handler) -> Handler:
    """A handler whose unexpected exceptions leave it as `UnexpectedError` naming only their type. X-Ray records an
    escaping exception's message, and Lambda's failure record (in the action DLQ) holds it: the connector's own
    errors carry no data, but a bug's (a KeyError on a record's value) could. Where it happened is logged."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        except ConnectorError:
            raise
        except Exception as exc:
            frames = [
                f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)
            ]
            logger.error("unexpected error", extra={"error": type(exc).__name__, "at": frames})
            raise UnexpectedError(f"unexpected {type(exc).__name__} (the function's log says where)") from None

    return run
