"""SQS FIFO consumer: one message is one connection's streams to poll in turn; failures are reported per
message, and a transient one comes back within a minute (see `usecases.poll_worker.QueuedPollWorker`)."""

from typing import Any

from cliniko_connector import wiring
from cliniko_connector.errors import ConnectionDisabled, ConnectionNotFound, StreamBusy
from cliniko_connector.observability import contained, logger, metrics, tracer
from cliniko_connector.ports import PollJob
from cliniko_connector.settings import PollWorkerSettings, load_settings

SAFETY_MARGIN_SECONDS = 15.0

settings = load_settings(PollWorkerSettings)
worker = wiring.queued_poll_worker(settings)


def _poll(record: dict[str, Any], remaining_seconds: float) -> None:
    job = PollJob.model_validate_json(record["body"])
    logger.append_keys(connection_id=job.connection_id, resources=list(job.resources))
    try:
        worker.handle(job, record["receiptHandle"], time_budget_seconds=remaining_seconds - SAFETY_MARGIN_SECONDS)
    except StreamBusy:
        logger.info("streams already being polled; skipping this tick")
    except (ConnectionNotFound, ConnectionDisabled) as gone:
        # Removed or paused since the job was queued: nothing to retry.
        logger.info("job dropped", extra={"reason": gone.error_type})
    finally:
        logger.remove_keys(["connection_id", "resources"])  # the batch's next job is another connection


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@contained
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Jobs in queue order; a job that fails is reported with every job after it (the FIFO rule Powertools'
    `SqsFifoPartialProcessor` follows, in a few lines: its batch package imports asyncio and every event class,
    a sixth of a cold start), so no later job of a message group runs before an earlier one."""
    remaining = context.get_remaining_time_in_millis() / 1000.0
    records: list[dict[str, Any]] = event["Records"]
    for index, record in enumerate(records):
        try:
            _poll(record, remaining)
        except Exception as exc:
            logger.info("poll job failed; it and the batch's later jobs come back", extra={"error": type(exc).__name__})
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records[index:]]}
    return {"batchItemFailures": []}
