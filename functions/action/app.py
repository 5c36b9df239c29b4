"""Every action function's entry point: ACTION_NAME in its environment picks the catalog action."""

from typing import Any

from cliniko_connector import wiring
from cliniko_connector.errors import InputValidationError
from cliniko_connector.eventmodels import parse_action_event
from cliniko_connector.observability import logger, metrics, tracer
from cliniko_connector.settings import ActionSettings, load_settings

settings = load_settings(ActionSettings)
run_action = wiring.action_app(settings)


@logger.inject_lambda_context(correlation_id_path="detail.event_key || event_key || idempotency_key")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(action=settings.action_name)
    try:
        request = parse_action_event(event, settings.accepted_sources)
    except InputValidationError as malformed:
        return wiring.rejected(settings.action_name, malformed)
    logger.append_keys(connection_id=request.connection_id)
    return run_action(request, context)
