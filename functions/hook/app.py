"""The inbound hooks' entry point: a Lambda function URL (`POST /hooks/NAME`) → one action request on the bus."""

from typing import Any

from cliniko_connector import wiring
from cliniko_connector.observability import contained, logger, metrics, tracer
from cliniko_connector.settings import HookSettings, load_settings
from cliniko_connector.usecases.hooks import HookRefused, HookReply, call_from_function_url

settings = load_settings(HookSettings)
receiver = wiring.hook_receiver(settings)


# clear_state: keys appended for one request never label the next one's lines in a warm container.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@contained
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        call = call_from_function_url(event, settings.hook_max_body_bytes)
    except HookRefused as refused:
        return HookReply(refused.status, {"error": refused.error, "message": str(refused)}).to_function_url()
    logger.set_correlation_id(call.request_id)
    return receiver.receive(call).to_function_url()
