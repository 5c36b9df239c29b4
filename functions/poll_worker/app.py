"""SQS FIFO consumer: one message is one stream to poll; failures are reported per message, and a transient
one comes back within a minute (see `wiring.QueuedPollWorker`)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cliniko_connector import wiring
from cliniko_connector.errors import ConnectionDisabled, ConnectionNotFound, StreamBusy
from cliniko_connector.observability import contained, logger, metrics, tracer
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import PollWorkerSettings, load_settings

SAFETY_MARGIN_SECONDS = 15.0

settings = load_settings(PollWorkerSettings)
worker = wiring.queued_poll_worker(settings)
processor = SqsFifoPartialProcessor()


def _poll(record: SQSRecord, remaining_seconds: float) -> None:
    job = PollJob.model_validate_json(record.body)
    logger.append_keys(connection_id=job.connection_id, resource=job.resource)
    try:
        worker.handle(job, record.receipt_handle, time_budget_seconds=remaining_seconds - SAFETY_MARGIN_SECONDS)
    except StreamBusy:
        logger.info("stream already being polled; skipping this tick")
    except (ConnectionNotFound, ConnectionDisabled) as gone:
        # Removed or paused since the job was queued: nothing to retry.
        logger.info("job dropped", extra={"reason": gone.error_type})
    finally:
        logger.remove_keys(["connection_id", "resource"])  # the batch's next job is another stream


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@contained
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    remaining = context.get_remaining_time_in_millis() / 1000.0
    return process_partial_response(
        event=event,
        record_handler=lambda record: _poll(record, remaining),
        processor=processor,
        context=context,
    )
