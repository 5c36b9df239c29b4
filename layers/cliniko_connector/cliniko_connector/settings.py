"""Typed configuration, parsed once from the environment at cold start. A missing or bad value fails
the function before it handles anything, with the variable's name in the error."""

from __future__ import annotations

import os
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.models import PayloadMode

EMAIL_PATTERN = r"^[^@\s()]+@[^@\s()]+\.[^@\s()]+$"


class RateShares(BaseModel):
    """How every window of an API key's rate budget is split between polls and actions (docs/operations.md).

    Each reserve is a floor the other purpose can never take, so neither can starve the other; what neither
    holds goes first come, first served."""

    model_config = ConfigDict(frozen=True)

    # Polls stop at 1 - this share of a window: actions triggered by rules always find room.
    reserved_for_actions: float = Field(default=0.2, ge=0, lt=1)
    # Actions stop at 1 - this share: a flood of action requests never pushes polling below it.
    reserved_for_polls: float = Field(default=0.3, ge=0, lt=1)
    # The most of a window one connection's actions take (it matters when connections share a key).
    action_share_per_connection: float = Field(default=0.7, gt=0, le=1)

    @model_validator(mode="after")
    def _reserves_fit(self) -> Self:
        if self.reserved_for_actions + self.reserved_for_polls > 1:
            raise ValueError("the reserves for actions and for polls add up to more than the whole budget")
        return self


class EnvironmentSettings(BaseModel):
    """Settings read from the environment: a field not given is taken from the variable of its name (any case,
    `CONNECTIONS_TABLE` for `connections_table`), as text for pydantic to parse. What pydantic-settings did for
    this project in a few lines: its import alone cost a Lambda more CPU than the rest of the settings."""

    # Built when first parsed: a function parses one settings class of the six.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        environ = {name.lower(): value for name, value in os.environ.items()}
        found = {name: environ[name] for name in cls.model_fields if name not in data and name in environ}
        return found | data


class ClinikoClientSettings(EnvironmentSettings):
    """How this deployment identifies itself to Cliniko and how patient it is with it."""

    cliniko_app_name: str = Field(default="cliniko-connector", min_length=1)
    cliniko_contact_email: str = Field(pattern=EMAIL_PATTERN)
    cliniko_request_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    cliniko_max_backoff_seconds: float = Field(default=20.0, gt=0)
    # A connection may name its own Cliniko URL (the simulator's) only where the stack allows it: the local
    # stack and the tests; a deployed stack sends keys only to `https://api.<shard>.cliniko.com/v1`.
    cliniko_allow_base_url_override: bool = False

    @property
    def user_agent(self) -> str:
        return f"{self.cliniko_app_name} ({self.cliniko_contact_email})"


class AwsResourceSettings(ClinikoClientSettings):
    """Names of the stack's resources, from the template's environment variables."""

    connections_table: str = Field(min_length=1)
    state_table: str = Field(min_length=1)
    event_bus_name: str = Field(min_length=1)
    event_source: str = Field(default="cliniko", min_length=1)
    secrets_prefix: str = Field(default="cliniko-connector/", min_length=1)
    # The CloudFormation stack: API-key secrets are tagged with it at creation, and a CLI pointed at this stack
    # never overwrites or deletes a secret tagged with another (None: no ownership check, e.g. unit tests).
    stack_name: str | None = Field(default=None, min_length=1)
    # The stack's KMS key for the API-key secrets the CLI creates (None: Secrets Manager's AWS-managed key).
    secrets_kms_key_id: str | None = None
    default_rate_limit_per_minute: int = Field(default=200, ge=1)
    # Budget windows a tenth of Cliniko's minute: Cliniko's window starts where it likes, and a budget window
    # as long as it would let two of ours straddle one of its (measured: 429s), ten short ones don't.
    rate_window_seconds: int = Field(default=6, ge=1, le=60)
    # How long a stream remembers a record it hasn't seen change (snapshots and their hashes).
    snapshot_ttl_days: int = Field(default=400, ge=1)
    # The rate budget's shares (`RateShares`): what each window keeps for actions, for polls, and the most one
    # connection's actions take.
    action_reserved_share: float = Field(default=RateShares().reserved_for_actions, ge=0, lt=1)
    poll_reserved_share: float = Field(default=RateShares().reserved_for_polls, ge=0, lt=1)
    action_connection_share: float = Field(default=RateShares().action_share_per_connection, gt=0, le=1)

    @model_validator(mode="after")
    def _shares_fit(self) -> Self:
        if self.action_reserved_share + self.poll_reserved_share > 1:
            raise ValueError("ACTION_RESERVED_SHARE + POLL_RESERVED_SHARE must not exceed 1")
        return self

    @property
    def rate_shares(self) -> RateShares:
        return RateShares(
            reserved_for_actions=self.action_reserved_share,
            reserved_for_polls=self.poll_reserved_share,
            action_share_per_connection=self.action_connection_share,
        )


class DispatcherSettings(AwsResourceSettings):
    """The schedule's fan-out: where poll jobs go."""

    poll_queue_url: str = Field(min_length=1)
    # Each stream's walk from its origin, once per period (spread over it by a hash); 0: never.
    reconcile_every_hours: int = Field(default=24, ge=0, le=720)


class PollerSettings(AwsResourceSettings):
    """A poll worker: how far back each poll looks and how long one invocation may work."""

    poll_overlap_seconds: int = Field(default=120, ge=0, le=3600)
    poll_time_budget_seconds: float = Field(default=600.0, gt=0)
    poll_page_size: int = Field(default=100, ge=1, le=100)
    lease_seconds: int = Field(default=900, ge=10)
    default_payload_mode: PayloadMode = PayloadMode.FULL
    # Streams of one job polled at once (threads of one invocation): an idle job mostly waits on Cliniko, and
    # Lambda bills the wait. Every request still goes through the key's rate budget, so this changes when the
    # job's requests are sent, not how many the key may send. 1 polls the streams one after another.
    poll_stream_concurrency: int = Field(default=4, ge=1, le=16)
    # An idle poll writes its stream's cursor (when it last caught up, for `status`) only once this long has
    # passed since the last write: nothing else changed, and the write is most of an idle clinic's DynamoDB
    # bill. `status` shows an idle stream's lag to within this. 0 writes on every idle poll.
    poll_idle_heartbeat_seconds: int = Field(default=300, ge=0, le=3600)


class PollWorkerSettings(PollerSettings):
    """The SQS-triggered poll worker: the queue its jobs come from, and how soon a failed job runs again."""

    poll_queue_url: str = Field(min_length=1)
    # A job that failed for a transient reason is visible again after this long. Left to the PollQueue's
    # visibility timeout (30 minutes: six times the worker's, as AWS advises for SQS event sources) it would
    # come back half an hour later, holding its connection's FIFO group, and every later tick's job, until then.
    poll_retry_delay_seconds: int = Field(default=20, ge=0, le=60)


class ScheduleSettings(AwsResourceSettings):
    """The scheduling function: the stack's schedule group, and what each schedule's target needs."""

    schedule_group: str = Field(min_length=1)
    scheduler_role_arn: str = Field(min_length=1)
    schedule_dead_letter_arn: str = Field(min_length=1)
    event_bus_arn: str = Field(min_length=1)
    # The stack's key for the schedules' input (None: Scheduler's AWS-owned key).
    schedule_kms_key_arn: str | None = None


class ActionSettings(AwsResourceSettings):
    """An action function: which catalog action it runs and where idempotency records live."""

    action_name: str = Field(min_length=1)
    idempotency_table: str = Field(min_length=1)
    # Besides `event_source`, the one source a whole `Cliniko Action Requested` event may come from.
    action_request_source: str = Field(default="cliniko-connector.automation", min_length=1)
    action_time_budget_seconds: float = Field(default=30.0, gt=0)
    idempotency_ttl_seconds: int = Field(default=86400, ge=60)

    @property
    def accepted_sources(self) -> tuple[str, str]:
        return (self.event_source, self.action_request_source)

    @model_validator(mode="after")
    def _action_exists(self) -> Self:
        from cliniko_connector.catalog.actions import ACTIONS

        if self.action_name not in ACTIONS:
            raise ValueError(f"ACTION_NAME {self.action_name!r} is not in the action catalog")
        return self


class HookSettings(AwsResourceSettings):
    """The hook function: the trusted source its action requests carry, and the largest body it reads at all
    (each hook's own limit is in its row, at most this)."""

    action_request_source: str = Field(default="cliniko-connector.automation", min_length=1)
    hook_max_body_bytes: int = Field(default=1024 * 1024, ge=1, le=6 * 1024 * 1024)


def load_settings[S: EnvironmentSettings](cls: type[S], **values: Any) -> S:
    """Parse settings (`values`, then the environment for what they lack) or raise `ConfigurationError`
    naming the variables at fault (never their values)."""
    try:
        return cls(**values)
    except ValidationError as exc:
        problems = ", ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'environment'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
