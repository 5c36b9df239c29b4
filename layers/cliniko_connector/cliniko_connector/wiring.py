"""Composition root: builds the use-cases with their AWS and Cliniko adapters from typed settings.

Lambda handlers, the CLI and the local stack all come through here, so they run the same code.
Everything is built once per process and reused across warm invocations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.adapters.dynamodb import (
    DynamoConnectionStore,
    DynamoRateBudget,
    DynamoStreamStateStore,
)
from cliniko_connector.adapters.sqs import SqsJobQueue
from cliniko_connector.errors import (
    IdempotencyConflict,
    InputValidationError,
    UntrustedBaseUrl,
)
from cliniko_connector.models import Connection
from cliniko_connector.observability import count, logger
from cliniko_connector.ports import (
    ClinikoApi,
    ConnectionStore,
    EventPublisher,
    JobQueue,
    RateBudget,
    SecretStore,
    StreamStateStore,
)
from cliniko_connector.settings import (
    ActionSettings,
    AwsResourceSettings,
    DispatcherSettings,
    HookSettings,
    PollerSettings,
    PollWorkerSettings,
    ScheduleSettings,
)

# Each factory imports what its function uses, so a function's cold start loads only its own use-case: the
# dispatcher no HTTP client, the poll worker no action catalog, an action function no poll loop.
if TYPE_CHECKING:
    from cliniko_connector.adapters.cliniko_http import ClinikoClient
    from cliniko_connector.eventmodels import ActionRequest
    from cliniko_connector.usecases.dispatch import Dispatcher
    from cliniko_connector.usecases.hooks import HookReceiver
    from cliniko_connector.usecases.poll_worker import PollWorker as PollWorker
    from cliniko_connector.usecases.poll_worker import QueuedPollWorker as QueuedPollWorker
    from cliniko_connector.usecases.schedules import ScheduleActions


def __getattr__(name: str) -> Any:
    """`wiring.PollWorker` and `wiring.QueuedPollWorker`, as the CLI, tests and benchmarks name them, imported
    when first asked for (they live with the worker, in `usecases/poll_worker.py`)."""
    if name in ("PollWorker", "QueuedPollWorker"):
        from cliniko_connector.usecases import poll_worker

        return getattr(poll_worker, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def rate_key_id(api_key: str) -> str:
    """Identifies a key in the shared rate budget without storing the key."""
    return hashlib.sha256(b"cliniko-rate-budget\0" + api_key.encode()).hexdigest()[:24]


@dataclass
class Runtime:
    """The adapters of one process."""

    settings: AwsResourceSettings
    connections: ConnectionStore
    state: StreamStateStore
    publisher: EventPublisher
    secrets: SecretStore
    rate_budget: RateBudget
    rate_limits: dict[str, int] = field(default_factory=dict)
    _clients: dict[tuple[str, str, str], ClinikoClient] = field(default_factory=dict)

    def api_for(self, connection: Connection, purpose: str = "poll") -> ClinikoApi:
        """A Cliniko client for the connection; rebuilt only when its key or base URL changes. A row whose base
        URL this stack doesn't send keys to is refused before its key is even read (`UntrustedBaseUrl`)."""
        base_url = self._trusted_base_url(connection)
        api_key = self.secrets.get(connection.secret_id)
        fingerprint = hashlib.sha256(f"{api_key}\0{base_url}".encode()).hexdigest()
        cache_key = (connection.id, purpose, fingerprint)
        key_id = rate_key_id(api_key)
        # Several connections may share a key: the strictest limit wins.
        self.rate_limits[key_id] = min(connection.rate_limit_per_minute, self.rate_limits.get(key_id, 10**6))
        client = self._clients.get(cache_key)
        if client is None:
            from cliniko_connector.adapters.cliniko_http import ClinikoClient

            client = ClinikoClient(
                api_key,
                user_agent=self.settings.user_agent,
                base_url=base_url,
                timeout=self.settings.cliniko_request_timeout_seconds,
                max_backoff=self.settings.cliniko_max_backoff_seconds,
                rate_budget=self.rate_budget,
                rate_key_id=key_id,
                rate_connection_id=connection.id,
                purpose=purpose,
                # A refused key is read again by the next request's client (rotated since it was cached).
                on_unauthorized=partial(self.secrets.forget, connection.secret_id),
            )
            self._clients = {k: v for k, v in self._clients.items() if k[:2] != cache_key[:2]}
            self._clients[cache_key] = client
        return client

    def api_for_key(self, api_key: str, base_url: str | None) -> ClinikoApi:
        """A client for checking a key the operator gives (`connections add`, `rotate-key`, `test`)."""
        from cliniko_connector.adapters.cliniko_http import ClinikoClient, base_url_override

        allowed = self.settings.cliniko_allow_base_url_override
        return ClinikoClient(
            api_key,
            user_agent=self.settings.user_agent,
            base_url=base_url_override(base_url, allowed=allowed),
            default_budget_seconds=30,
        )

    def _trusted_base_url(self, connection: Connection) -> str | None:
        from cliniko_connector.adapters.cliniko_http import base_url_override

        try:
            return base_url_override(connection.base_url, allowed=self.settings.cliniko_allow_base_url_override)
        except UntrustedBaseUrl:
            # A connections-table row edited to send the key elsewhere: alarmed (ConnectionBaseUrlRefusedAlarm).
            # The error goes on to where each caller reports failures (the Action Failed event, `status`).
            count("ConnectionBaseUrlRefused", labels={"connection": connection.id})
            raise


def build_runtime(settings: AwsResourceSettings) -> Runtime:
    from cliniko_connector.adapters.eventbridge import EventBridgePublisher
    from cliniko_connector.adapters.secrets import SecretsManagerStore

    connections = DynamoConnectionStore(settings.connections_table, client=boto3_client("dynamodb"))
    limits: dict[str, int] = {}

    def limit_for(key_id: str) -> int:
        return limits.get(key_id, settings.default_rate_limit_per_minute)

    ttl = settings.snapshot_ttl_days * 86400
    return Runtime(
        rate_limits=limits,
        settings=settings,
        connections=connections,
        state=DynamoStreamStateStore(settings.state_table, client=boto3_client("dynamodb"), snapshot_ttl_seconds=ttl),
        publisher=EventBridgePublisher(settings.event_bus_name, client=boto3_client("events")),
        secrets=SecretsManagerStore(
            client=boto3_client("secretsmanager"),
            prefix=settings.secrets_prefix,
            kms_key_id=settings.secrets_kms_key_id,
            owner=settings.stack_name,
        ),
        rate_budget=DynamoRateBudget(
            settings.state_table,
            client=boto3_client("dynamodb"),
            limit_per_minute=limit_for,
            reserved_for_actions=settings.rate_shares.reserved_for_actions,
            reserved_for_polls=settings.rate_shares.reserved_for_polls,
            action_share_per_connection=settings.rate_shares.action_share_per_connection,
            window_seconds=settings.rate_window_seconds,
            max_jitter_seconds=settings.rate_window_seconds / 60,
        ),
    )


def poll_worker(
    settings: PollerSettings, runtime: Runtime | None = None, continuation: JobQueue | None = None
) -> PollWorker:
    # The Cliniko client is loaded with the function (it polls Cliniko on every invocation), not by its first job.
    import cliniko_connector.adapters.cliniko_http  # noqa: F401
    from cliniko_connector.usecases.poll_worker import PollWorker

    return PollWorker(runtime or build_runtime(settings), settings, continuation=continuation)


def queued_poll_worker(settings: PollWorkerSettings, runtime: Runtime | None = None) -> QueuedPollWorker:
    from cliniko_connector.usecases.poll_worker import QueuedPollWorker

    queue = SqsJobQueue(settings.poll_queue_url, boto3_client("sqs"))
    return QueuedPollWorker(
        poll_worker(settings, runtime, continuation=queue), queue, settings.poll_retry_delay_seconds
    )


def dispatcher(settings: DispatcherSettings, runtime: Runtime | None = None) -> Dispatcher:
    from cliniko_connector.usecases.dispatch import Dispatcher

    # The dispatcher reads the connections table and queues jobs: none of the rest of a runtime.
    connections = runtime.connections if runtime else DynamoConnectionStore(settings.connections_table)
    return Dispatcher(
        connections,
        SqsJobQueue(settings.poll_queue_url, boto3_client("sqs")),
        reconcile_period_seconds=settings.reconcile_every_hours * 3600,
    )


ActionApp = Callable[["ActionRequest", Any], dict[str, Any]]


@dataclass
class _Budget:
    """A Lambda context's remaining-time clock, for running an action outside Lambda."""

    settings: ActionSettings

    def get_remaining_time_in_millis(self) -> int:
        return int(self.settings.action_time_budget_seconds * 1000)


def rejected(action_name: str, error: InputValidationError) -> dict[str, Any]:
    """An event that isn't an action request at all: a permanent failure, returned so Lambda doesn't retry it.
    There is no connection to report it against, so it is counted and logged (type only), not published."""
    count("ActionsFailed", labels={"action": action_name}, by="action")
    logger.warning("malformed action request", extra={"action": action_name, "error": error.error_type})
    return {"action": action_name, "status": "failed", "error": error.to_dict()}


class _NotKept(Exception):
    """A permanent failure leaving the idempotent function, so Powertools deletes the key's record instead
    of keeping the failure as the key's result: once the cause is fixed, the same request runs."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__("permanent failure, not kept")
        self.outcome = outcome


def idempotency_record_key(request: ActionRequest, action_name: str) -> str:
    """What the idempotency record is keyed on (Powertools hashes it): connection, action and key, so one
    clinic's key can never answer, or block, another clinic's request."""
    return f"{request.connection_id}#{request.key_for(action_name)}"


def action_app(
    settings: ActionSettings, runtime: Runtime | None = None, *, on_run: Callable[[], None] | None = None
) -> ActionApp:
    """The action use-case behind Powertools idempotency: a request's key (connection, action and
    `ActionRequest.key_for`) runs Cliniko once, and later deliveries of the same key with the same input get
    the stored result. Only successes are stored: a permanent failure is published and returned, and its
    record deleted; the same key with another input is an `IdempotencyConflict` (no call, nothing stored
    returned). `on_run` is called when the action really runs (not for a stored result), so the CLI can tell
    a repeat."""
    import cliniko_connector.adapters.cliniko_http  # noqa: F401  (as in `poll_worker`: every request calls Cliniko)
    from cliniko_connector.catalog.actions import ACTIONS
    from cliniko_connector.eventmodels import ActionRequest
    from cliniko_connector.usecases.actions import ActionRunner

    rt = runtime or build_runtime(settings)
    action = ACTIONS[settings.action_name]
    # The catalog's input models are built when first used (`STRICT_INPUT` defers it): this function's one, now.
    action.input_model.model_rebuild()
    runner = ActionRunner(
        action=action,
        connections=rt.connections,
        api_for=lambda c: rt.api_for(c, "action"),
        publisher=rt.publisher,
        event_source=settings.event_source,
        time_budget_seconds=settings.action_time_budget_seconds,
    )

    def run_unguarded(envelope: dict[str, Any]) -> dict[str, Any]:
        if on_run is not None:
            on_run()
        outcome = runner.run(ActionRequest.model_validate(envelope["request"]))
        if outcome.get("status") != "succeeded":
            raise _NotKept(outcome)
        return outcome

    @cache
    def guarded() -> tuple[Any, Callable[..., dict[str, Any]]]:
        """Powertools idempotency around `run_unguarded`, built by the first request: its persistence layer makes
        the DynamoDB client as it is built (the first request makes it anyway), and cold start need not."""
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        persistence = DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=boto3_client("dynamodb")
        )
        config = IdempotencyConfig(
            event_key_jmespath="key",
            # The record keeps a hash of the input: the same key with another input is refused, not answered.
            payload_validation_jmespath="request.input",
            hash_function="sha256",
            expires_after_seconds=settings.idempotency_ttl_seconds,
            raise_on_no_idempotency_key=True,
        )
        run_once = idempotent_function(data_keyword_argument="envelope", persistence_store=persistence, config=config)
        return config, run_once(run_unguarded)

    def run(request: ActionRequest, context: Any = None) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError

        config, run_once = guarded()
        # Outside Lambda (the CLI) the action's own time budget bounds how long a record stays "in progress".
        clock: Any = context if hasattr(context, "get_remaining_time_in_millis") else _Budget(settings)
        config.register_lambda_context(clock)
        if request.action is not None and request.action != action.name:
            wrong = InputValidationError(f"this function runs {action.name}, not {request.action}")
            return rejected(action.name, wrong)
        envelope = {"key": idempotency_record_key(request, action.name), "request": request.model_dump(mode="json")}
        try:
            return run_once(envelope=envelope)
        except _NotKept as failed:
            return failed.outcome
        except IdempotencyValidationError:
            conflict = IdempotencyConflict(
                f"idempotency key already used by {request.connection_id} for {action.name} with another input"
            )
            return runner.refuse(request, conflict)

    return run


def schedule_actions(settings: ScheduleSettings) -> ScheduleActions:
    """The scheduling function's use-case: EventBridge Scheduler in the stack's group, ledger rows in the state
    table, Moved/Dropped events on the bus."""
    from cliniko_connector.adapters.eventbridge import EventBridgePublisher
    from cliniko_connector.adapters.scheduler import DynamoScheduleLedger, EventBridgeScheduler
    from cliniko_connector.usecases.schedules import ScheduleActions

    scheduler = EventBridgeScheduler(
        boto3_client("scheduler"),
        group=settings.schedule_group,
        bus_arn=settings.event_bus_arn,
        role_arn=settings.scheduler_role_arn,
        dead_letter_arn=settings.schedule_dead_letter_arn,
        source=settings.event_source,
        kms_key_arn=settings.schedule_kms_key_arn,
    )
    ledger = DynamoScheduleLedger(boto3_client("dynamodb"), settings.state_table)
    publisher = EventBridgePublisher(settings.event_bus_name, client=boto3_client("events"))
    return ScheduleActions(scheduler, ledger, publisher, settings.event_source, {settings.event_source})


def hook_receiver(settings: HookSettings, runtime: Runtime | None = None) -> HookReceiver:
    """The inbound-hook use-case: hooks and their ledger in the state table, their secrets in Secrets Manager."""
    from cliniko_connector.adapters.dynamodb import DynamoHookLedger, DynamoHookStore
    from cliniko_connector.usecases.hooks import HookReceiver

    rt = runtime or build_runtime(settings)
    client = boto3_client("dynamodb")
    return HookReceiver(
        hooks=DynamoHookStore(settings.state_table, client=client),
        ledger=DynamoHookLedger(settings.state_table, client=client),
        secrets=rt.secrets,
        connections=rt.connections,
        publisher=rt.publisher,
        request_source=settings.action_request_source,
    )
