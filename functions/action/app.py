"""Every action function's entry point: ACTION_NAME in its environment picks the catalog action."""

from typing import Any

from cliniko_connector import wiring
from cliniko_connector.errors import InputValidationError
from cliniko_connector.eventmodels import parse_action_event
from cliniko_connector.observability import contained, logger, metrics, tracer
from cliniko_connector.settings import ActionSettings, load_settings

settings = load_settings(ActionSettings)
run_action = wiring.action_app(settings)


# clear_state: keys appended for one request never label the next one's lines in a warm container.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@contained
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(action=settings.action_name)
    try:
        request = parse_action_event(event, settings.accepted_sources)
    except InputValidationError as malformed:
        return wiring.rejected(settings.action_name, malformed)
    # Caller-chosen strings are logged only once the request model has checked their form and length.
    logger.append_keys(connection_id=request.connection_id)
    logger.set_correlation_id(request.event_key or request.idempotency_key)
    return run_action(request, context)
