"""Lambda: the layer, the function defaults (Globals), the poll dispatcher and worker, one function per action."""

from __future__ import annotations

from typing import Any

from cliniko_connector.catalog.actions import Action
from cliniko_tools.devtools.template.checkov import checkov_metadata
from cliniko_tools.devtools.template.intrinsics import DISPOSABLE, get_att, if_, ref, sub
from cliniko_tools.devtools.template.names import (
    KMS_KEY_ARN,
    LOG_GROUP_PREFIX,
    SCHEDULE_RULE_NAME,
    SECRETS_PREFIX,
    SERVICE_DIMENSION,
)
from cliniko_tools.devtools.template.stack import Stack

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"

LAYER_CONTENT_URI = "layers/cliniko_connector/"
DISPATCHER_CODE_URI = "functions/poll_dispatcher/"
WORKER_CODE_URI = "functions/poll_worker/"
ACTION_CODE_URI = "functions/action/"
SCHEDULE_CODE_URI = "functions/schedule_actions/"
SCHEDULE_ASYNC_MAX_RETRIES = 2
SCHEDULE_ASYNC_MAX_EVENT_AGE_SECONDS = 3600
HOOK_CODE_URI = "functions/hook/"
HANDLER = "app.lambda_handler"

DEFAULT_TIMEOUT_SECONDS = 45
DEFAULT_MEMORY_MB = 256
DISPATCHER_TIMEOUT_SECONDS = 60
WORKER_TIMEOUT_SECONDS = 300
# The poll worker's memory (the PollWorkerMemorySize parameter's default): an idle job is mostly waits on Cliniko,
# billed by the memory, and its CPU costs the same GB-seconds at any size below 1,769 MB (one vCPU).
WORKER_MEMORY_MB = 256
WORKER_MEMORY_CHOICES = (256, 512, 1024, 1769)
# The worker stops taking new pages this long before its timeout, so a cursor is always saved.
WORKER_TIME_BUDGET_SECONDS = 240
ACTION_TIME_BUDGET_SECONDS = 35
# At most this many poll workers run at once (the SQS event source's MaximumConcurrency; 2 is AWS's minimum).
# Concurrency is not a request rate: Cliniko's 200 requests/minute per key is enforced by the shared rate
# budget in the state table, which every poller and action consults before each request. This cap keeps
# the budget's conditional writes uncontended and bounds a backfill's burst; see docs/security.md.
WORKER_MAX_CONCURRENCY = 5
# The hook function answers its caller while it waits: a few seconds for DynamoDB, Secrets Manager and PutEvents.
HOOK_TIMEOUT_SECONDS = 10
HOOK_MAX_BODY_BYTES = 1024 * 1024
ACTION_ASYNC_MAX_RETRIES = 2
ACTION_ASYNC_MAX_EVENT_AGE_SECONDS = 21_600
# A poll tick that can't be delivered within a minute is superseded by the next one.
SCHEDULE_MAX_RETRIES = 3
SCHEDULE_MAX_EVENT_AGE_SECONDS = 60

# Read by Powertools itself. X-Ray keeps traces outside the stack's KMS key and log retention: it gets no handler
# responses (action results hold patient records) and no exception objects (docs/security.md). The tracer is on
# only where Lambda traces every invocation it can (TracingMode=Active; docs/operations.md#tracing).
POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
    "POWERTOOLS_TRACE_DISABLED": if_("TracingActive", "false", "true"),
}
# Read by pydantic itself: the functions use no pydantic plugin, and looking for one reads the entry points of
# every distribution on the path when the first model is built, on every cold start.
PYDANTIC_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
# The variables every function gets whose values don't depend on the stack (the cold-start benchmark sets them).
STATIC_ENVIRONMENT = {k: v for k, v in (POWERTOOLS_ENVIRONMENT | PYDANTIC_ENVIRONMENT).items() if isinstance(v, str)}


def action_function_id(action: Action) -> str:
    return f"{action.function_suffix}ActionFunction"


def function_globals() -> dict[str, Any]:
    """SAM `Globals`: what every function shares unless it says otherwise."""
    return {
        "Function": {
            "Runtime": RUNTIME,
            "Architectures": [ARCHITECTURE],
            "Timeout": DEFAULT_TIMEOUT_SECONDS,
            "MemorySize": DEFAULT_MEMORY_MB,
            # PassThrough by default: no trace unless a traced caller sent one (docs/operations.md#tracing).
            "Tracing": ref("TracingMode"),
            "Layers": [ref("ConnectorLayer")],
            "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": ref("LogLevel"), "SystemLogLevel": "WARN"},
            "Environment": {
                "Variables": {
                    "CONNECTIONS_TABLE": ref("ConnectionsTable"),
                    "STATE_TABLE": ref("StateTable"),
                    "EVENT_BUS_NAME": get_att("EventBus", "Name"),
                    "EVENT_SOURCE": ref("EventSource"),
                    "SECRETS_PREFIX": sub(SECRETS_PREFIX),
                    "STACK_NAME": ref("AWS::StackName"),
                    "CLINIKO_APP_NAME": ref("ClinikoAppName"),
                    "CLINIKO_CONTACT_EMAIL": ref("ClinikoContactEmail"),
                    "POWERTOOLS_SERVICE_NAME": sub(SERVICE_DIMENSION),
                    **POWERTOOLS_ENVIRONMENT,
                    **PYDANTIC_ENVIRONMENT,
                    "CLINIKO_ALLOW_BASE_URL_OVERRIDE": ref("AllowBaseUrlOverride"),
                }
            },
        }
    }


def add_layer(stack: Stack) -> None:
    stack.add(
        "ConnectorLayer",
        {
            "Type": "AWS::Serverless::LayerVersion",
            # layers/cliniko_connector/Makefile: the lock installed with its hashes, and bytecode compiled, which
            # SAM's python builder doesn't do (a read-only /opt would have every cold start compile it again).
            "Metadata": {"BuildMethod": "makefile", "BuildArchitecture": ARCHITECTURE},
            "Properties": {
                "LayerName": sub("${AWS::StackName}-connector"),
                "Description": "cliniko_connector package and its runtime dependencies",
                "ContentUri": LAYER_CONTENT_URI,
                "CompatibleRuntimes": [RUNTIME],
                "CompatibleArchitectures": [ARCHITECTURE],
                "RetentionPolicy": "Delete",
            },
        },
    )


def add_poll_functions(stack: Stack) -> None:
    _add_function(
        stack,
        "PollDispatcherFunction",
        description="Every PollSchedule tick: enqueue one poll job per due connection stream.",
        code_uri=DISPATCHER_CODE_URI,
        role="PollDispatcherRole",
        sizing={"Timeout": DISPATCHER_TIMEOUT_SECONDS},
        variables={"POLL_QUEUE_URL": ref("PollQueue"), "RECONCILE_EVERY_HOURS": ref("ReconcileEveryHours")},
        # A failed tick is superseded by the next one: no retries, but every failure is kept.
        invoke=_on_failure(0, SCHEDULE_MAX_EVENT_AGE_SECONDS, "PollDispatcherFailureQueue"),
        events={
            "Schedule": {
                "Type": "Schedule",
                "Properties": {
                    "Name": sub(SCHEDULE_RULE_NAME),
                    "Schedule": ref("PollSchedule"),
                    "Description": "Poll tick for the Cliniko connector",
                    "Enabled": True,
                    "RetryPolicy": {
                        "MaximumRetryAttempts": SCHEDULE_MAX_RETRIES,
                        "MaximumEventAgeInSeconds": SCHEDULE_MAX_EVENT_AGE_SECONDS,
                    },
                    "DeadLetterConfig": {"Arn": get_att("RuleTargetDeadLetterQueue", "Arn")},
                },
            }
        },
    )
    _add_function(
        stack,
        "PollWorkerFunction",
        description="Poll one connection stream per SQS message and publish its changes.",
        code_uri=WORKER_CODE_URI,
        role="PollWorkerRole",
        sizing={"Timeout": WORKER_TIMEOUT_SECONDS, "MemorySize": ref("PollWorkerMemorySize")},
        variables={
            "POLL_TIME_BUDGET_SECONDS": str(WORKER_TIME_BUDGET_SECONDS),
            # Where a job that failed for a transient reason is made visible again early.
            "POLL_QUEUE_URL": ref("PollQueue"),
            "DEFAULT_PAYLOAD_MODE": ref("DefaultPayloadMode"),
        },
        events={
            "PollJobs": {
                "Type": "SQS",
                "Properties": {
                    "Queue": get_att("PollQueue", "Arn"),
                    "BatchSize": 1,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "ScalingConfig": {"MaximumConcurrency": WORKER_MAX_CONCURRENCY},
                },
            }
        },
    )


def add_schedule_function(stack: Stack) -> None:
    """The scheduling function and the schedule group its one-time schedules live in."""
    from cliniko_tools.devtools.template.iam import SCHEDULE_GROUP_NAME

    stack.add(
        "ScheduleGroup",
        {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": {"Name": sub(SCHEDULE_GROUP_NAME)}},
    )
    _add_function(
        stack,
        "ScheduleActionsFunction",
        description="Automations' waiting targets: make, move or drop a record's one-time schedule.",
        code_uri=SCHEDULE_CODE_URI,
        role="ScheduleActionsRole",
        variables={
            "SCHEDULE_GROUP": ref("ScheduleGroup"),
            "SCHEDULER_ROLE_ARN": get_att("SchedulerTargetRole", "Arn"),
            "SCHEDULE_DEAD_LETTER_ARN": get_att("ScheduledActionDeadLetterQueue", "Arn"),
            "EVENT_BUS_ARN": get_att("EventBus", "Arn"),
            "SCHEDULE_KMS_KEY_ARN": KMS_KEY_ARN,
        },
        invoke=_on_failure(
            SCHEDULE_ASYNC_MAX_RETRIES, SCHEDULE_ASYNC_MAX_EVENT_AGE_SECONDS, "ScheduleActionsFailureQueue"
        ),
    )
    stack.outputs["ScheduleActionsFunctionArn"] = {
        "Description": "ARN of the scheduling function (automations' waiting targets)",
        "Value": get_att("ScheduleActionsFunction", "Arn"),
    }
    stack.outputs["ScheduleGroupName"] = {
        "Description": "The schedule group of the scheduled actions",
        "Value": ref("ScheduleGroup"),
    }


def add_action_function(stack: Stack, action: Action, log_folder: str = "") -> None:
    """The function (and its log group) that runs `action`; every action shares one role and one code URI.

    A nested stack's log groups are named under its family's folder (`log_folder`): when a stack deployed before
    nesting is upgraded, CloudFormation creates them before it deletes the root's, so they can't share names."""
    function_id = action_function_id(action)
    _add_function(
        stack,
        function_id,
        log_folder=log_folder,
        kind="ActionFunction",
        description=f"Action {action.name}: {action.description}"[:256],
        code_uri=ACTION_CODE_URI,
        role="ActionFunctionRole",
        variables={
            "ACTION_NAME": action.name,
            "IDEMPOTENCY_TABLE": ref("IdempotencyTable"),
            "ACTION_REQUEST_SOURCE": ref("ActionRequestSource"),
            "ACTION_TIME_BUDGET_SECONDS": str(ACTION_TIME_BUDGET_SECONDS),
        },
        invoke=_on_failure(ACTION_ASYNC_MAX_RETRIES, ACTION_ASYNC_MAX_EVENT_AGE_SECONDS, "ActionFailureQueue"),
    )
    stack.outputs[f"{function_id}Arn"] = {
        "Description": f"ARN of the {action.name} action function",
        "Value": get_att(function_id, "Arn"),
    }


def add_hook_function(stack: Stack) -> None:
    """The one function behind every inbound hook, with a function URL (`POST <url>hooks/NAME`). AuthType NONE:
    each hook authenticates its caller itself (HMAC signature or bearer token, docs/security.md), which IAM
    auth can't do for a form tool. Hooks are rows of the state table, so adding one deploys nothing."""
    _add_function(
        stack,
        "HookFunction",
        description="Inbound hooks: a signed request from another app becomes one action request on the bus.",
        code_uri=HOOK_CODE_URI,
        role="HookFunctionRole",
        sizing={"Timeout": HOOK_TIMEOUT_SECONDS},
        variables={
            "ACTION_REQUEST_SOURCE": ref("ActionRequestSource"),
            "HOOK_MAX_BODY_BYTES": str(HOOK_MAX_BODY_BYTES),
        },
    )
    stack.resources["HookFunction"]["Properties"]["FunctionUrlConfig"] = {"AuthType": "NONE", "InvokeMode": "BUFFERED"}
    stack.outputs["HookUrl"] = {
        "Description": "Base URL of the inbound hooks (`cliniko-connector hooks show NAME` gives a hook's own).",
        "Value": get_att("HookFunctionUrl", "FunctionUrl"),
    }


def _add_function(
    stack: Stack,
    function_id: str,
    *,
    description: str,
    code_uri: str,
    role: str,
    variables: dict[str, Any],
    kind: str | None = None,
    sizing: dict[str, Any] | None = None,  # numbers, or a `Ref` to a parameter
    invoke: dict[str, Any] | None = None,
    events: dict[str, Any] | None = None,
    log_folder: str = "",
) -> None:
    """A function with its own log group (under `log_folder`, if given); checkov's skips come from its kind (its
    logical id unless given)."""
    properties: dict[str, Any] = {
        "Description": description,
        "CodeUri": code_uri,
        "Handler": HANDLER,
        "Role": get_att(role, "Arn"),
        **(sizing or {}),
        "LoggingConfig": {"LogGroup": ref(f"{function_id}LogGroup")},
        "Environment": {"Variables": variables},
    }
    if invoke:
        properties["EventInvokeConfig"] = invoke
    if events:
        properties["Events"] = events
    stack.add(
        function_id,
        {
            "Type": "AWS::Serverless::Function",
            "Metadata": checkov_metadata(kind or function_id),
            "Properties": properties,
        },
    )
    stack.add(f"{function_id}LogGroup", _log_group(f"{log_folder}/{function_id}" if log_folder else function_id))


def _on_failure(retries: int, max_age_seconds: int, queue_id: str) -> dict[str, Any]:
    """Asynchronous invocation: retried `retries` times, then kept in `queue_id`."""
    return {
        "MaximumRetryAttempts": retries,
        "MaximumEventAgeInSeconds": max_age_seconds,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": get_att(queue_id, "Arn")}},
    }


def _log_group(name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        **DISPOSABLE,
        "Properties": {
            "LogGroupName": sub(f"{LOG_GROUP_PREFIX}{name}"),
            "RetentionInDays": ref("LogRetentionDays"),
            "KmsKeyId": KMS_KEY_ARN,
        },
    }
