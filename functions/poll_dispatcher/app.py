"""Scheduled: queue one poll job per active connection, naming its streams due this tick."""

from typing import Any

from cliniko_connector import wiring
from cliniko_connector.observability import contained, logger, metrics, tracer
from cliniko_connector.settings import DispatcherSettings, load_settings
from cliniko_connector.timeutil import utc_now

settings = load_settings(DispatcherSettings)
dispatcher = wiring.dispatcher(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@contained
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    return {"jobs": dispatcher.dispatch(utc_now())}
