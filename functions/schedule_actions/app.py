"""The scheduling function: an automation's waiting target (or a later event of its record) makes, moves or
drops the record's one-time schedule."""

from typing import Any

from cliniko_connector import wiring
from cliniko_connector.errors import InputValidationError
from cliniko_connector.observability import contained, logger, metrics, tracer
from cliniko_connector.settings import ScheduleSettings, load_settings

settings = load_settings(ScheduleSettings)
schedules = wiring.schedule_actions(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@contained
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        request = schedules.parse(event)
        logger.append_keys(automation=request.automation, target=request.target)
        return schedules.handle(request).as_dict()
    except InputValidationError as refused:  # UntrustedSource too
        # Refused for good: a retry would be refused again. Field names only, never the values.
        logger.warning("schedule request refused", extra={"error": refused.error_type})
        return {"refused": refused.error_type, "fields": sorted(refused.field_errors)}
