"""Powertools Logger, Tracer and Metrics, created once for every function and the CLI."""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from cliniko_connector.errors import ConnectorError, UnexpectedError

NAMESPACE = "ClinikoConnector"
# The template names the service per stage (cliniko-connector-<Stage>), so two stages never mix metrics.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "cliniko-connector"

# At DEBUG the AWS SDK logs request and response bodies (API keys, whole records) and urllib3 logs
# query strings (a find by email): whatever level the application runs at, these stay at WARNING.
for _noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

# Business metrics are written by `contained` (below), so Powertools' handler decorator has nothing left to write.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Keys Powertools adds to every line that say nothing the log group does not: it is the function's own, and
# its configuration is the template's. A trace id is kept only when the invocation is traced (`Sampled=1`);
# with tracing off (TracingMode=PassThrough) it names a trace nobody recorded. CloudWatch bills each byte.
_SAID_BY_THE_LOG_GROUP = frozenset({"function_name", "function_arn", "function_memory_size"})


def _log_line(entry: Mapping[str, Any]) -> str:
    traced = "Sampled=1" in os.environ.get("_X_AMZN_TRACE_ID", "")
    kept = {k: v for k, v in entry.items() if k not in _SAID_BY_THE_LOG_GROUP and (traced or k != "xray_trace_id")}
    return json.dumps(kept, default=str, separators=(",", ":"))


# stderr: in Lambda it reaches CloudWatch like stdout does, and in the CLI it keeps `--json` output clean.
logger = Logger(service=SERVICE, logger_handler=logging.StreamHandler(sys.stderr), json_serializer=_log_line)
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

__all__ = [
    "NAMESPACE",
    "SERVICE",
    "MetricUnit",
    "contained",
    "count",
    "flush_metrics",
    "logger",
    "metrics",
    "seconds_metric",
    "tracer",
]


# Business metrics. A CloudWatch metric is billed per name and set of dimension values, so the only dimension is
# `service` (one per stack and stage; `by` adds a catalog-bounded one where the dashboard needs it): a clinic adds
# no metric of its own. Which connection, resource or action a value belongs to goes into the EMF document as a
# property, where CloudWatch Logs Insights can group by it (docs/operations.md). Values are kept until the end of
# the invocation (`contained` flushes them) and written as one EMF line per set of labels, and zeros are not
# written at all: an idle poll logs one short line, not one per counter.
_Labels = tuple[tuple[str, str], ...]


class _Pending:
    """This invocation's business metrics, by (labels, dimension key): name -> (unit, values)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[tuple[_Labels, str | None], dict[str, tuple[MetricUnit, list[float]]]] = {}

    def add(self, name: str, unit: MetricUnit, value: float, labels: Mapping[str, str] | None, by: str | None) -> None:
        key = (tuple(sorted((labels or {}).items())), by)
        with self._lock:
            values = self._sets.setdefault(key, {}).setdefault(name, (unit, []))[1]
            if unit is MetricUnit.Count and values:
                values[0] += value  # a count is summed: one value per line, whatever the number of calls
            else:
                values.append(value)

    def flush(self) -> None:
        with self._lock:
            sets, self._sets = self._sets, {}
        if is_metrics_disabled():
            return
        for (labels, by), named in sets.items():
            try:
                line = _emf_line(labels, by, named)
            except Exception as exc:  # a bad name or value never fails the invocation that counted it
                logger.warning("metrics not written", extra={"metrics": sorted(named), "error": type(exc).__name__})
                continue
            sys.stdout.write(line + "\n")  # EMF goes to stdout, as Powertools writes it


def _emf_line(labels: _Labels, by: str | None, named: Mapping[str, tuple[MetricUnit, list[float]]]) -> str:
    emf = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for key, label in labels:
        if key == by:
            emf.add_dimensions(service=SERVICE, **{key: label})
        else:
            emf.add_metadata(key, label)
    for name, (unit, values) in named.items():
        for value in values:
            emf.add_metric(name=name, unit=unit, value=value)
    doc: dict[str, Any] = dict(emf.serialize_metric_set())
    for name, (_, values) in named.items():
        if len(values) == 1:  # a number, not a list: Logs Insights sums `RecordsPolled`, not `…Polled.0`
            doc[name] = int(values[0]) if float(values[0]).is_integer() else values[0]
    return json.dumps(doc, separators=(",", ":"))


_pending = _Pending()


def count(
    name: str,
    value: float = 1,
    labels: Mapping[str, str] | None = None,
    *,
    by: str | None = None,
) -> None:
    """Count a business outcome (nothing when `value` is 0). `labels` say whose it is (connection, resource,
    action): ids, never data; they go into the EMF document, not into dimensions. `by` names one label that is
    also a dimension (the metric is then published per service and per that label); only a label bounded by the
    catalog, never a connection."""
    if value and not is_metrics_disabled():
        _pending.add(name, MetricUnit.Count, value, labels, by)


def seconds_metric(name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
    """A duration in seconds (a stream's lag), per service, with `labels` as EMF properties; nothing when 0."""
    if value and not is_metrics_disabled():
        _pending.add(name, MetricUnit.Seconds, value, labels, None)


def flush_metrics() -> None:
    """Write the business metrics recorded so far (`contained` does at the end of each invocation)."""
    _pending.flush()


atexit.register(flush_metrics)  # the CLI and local runs, which have no handler to end


Handler = Callable[[Any, Any], Any]


def contained(handler: Handler) -> Handler:
    """A handler whose business metrics are written when it returns or raises, and whose unexpected exceptions
    leave it as `UnexpectedError` naming only their type. X-Ray records an escaping exception's message, and
    Lambda's failure record (in the action DLQ) holds it: the connector's own errors carry no data, but a bug's
    (a KeyError on a record's value) could. Where it happened is logged."""

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
        finally:
            flush_metrics()

    return run
