"""The stack's interface: parameters, conditions, outputs (and the CLI's environment, one of the outputs)."""

from __future__ import annotations

from typing import Any

from cliniko_connector.settings import EMAIL_PATTERN, ActionSettings, AwsResourceSettings, ClinikoClientSettings
from cliniko_tools.devtools.template.functions import WORKER_MEMORY_CHOICES, WORKER_MEMORY_MB
from cliniko_tools.devtools.template.intrinsics import get_att, ref, sub
from cliniko_tools.devtools.template.names import KMS_KEY_ARN, SECRETS_PREFIX
from cliniko_tools.devtools.template.queues import DEAD_LETTER_QUEUES

DEFAULT_EVENT_SOURCE: str = AwsResourceSettings.model_fields["event_source"].default
# `source` of the action requests your automations put on the bus (the trigger source is accepted too).
DEFAULT_ACTION_REQUEST_SOURCE: str = ActionSettings.model_fields["action_request_source"].default
DEFAULT_APP_NAME: str = ClinikoClientSettings.model_fields["cliniko_app_name"].default

# What CloudWatch Logs accepts as a retention.
# fmt: off
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
# fmt: on


def parameters(*, with_examples: bool) -> dict[str, Any]:
    found: dict[str, Any] = {
        "Stage": {
            "Type": "String",
            "Default": "dev",
            "AllowedPattern": "^[a-z0-9-]{1,20}$",
            "Description": "Deployment stage; names the event bus, schedule, dashboard, registry and key alias "
            "cliniko-connector-<Stage>.",
        },
        "EventSource": {
            "Type": "String",
            "Default": DEFAULT_EVENT_SOURCE,
            "Description": "`source` of the trigger events the pollers publish.",
        },
        "ActionRequestSource": {
            "Type": "String",
            "Default": DEFAULT_ACTION_REQUEST_SOURCE,
            "AllowedPattern": "^(?!aws\\.)[A-Za-z0-9._-]{1,256}$",
            "Description": "`source` of the `Cliniko Action Requested` events your automations put on the bus. "
            "Action rules accept only this source and EventSource; an event from any other source runs nothing.",
        },
        "ActionRequestPrincipals": {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "IAM principal ARNs (wildcards allowed, e.g. arn:aws:iam::123456789012:role/automation-*) "
            "that may put action requests, or events under EventSource/ActionRequestSource, on the bus besides the "
            "stack's own roles: your automations' roles, and the operators who run `cliniko-connector poll`, "
            "`backfill` or `actions` against this stack. Everyone else is denied by the bus policy.",
        },
        "ClinikoAppName": {
            "Type": "String",
            "Default": DEFAULT_APP_NAME,
            "MinLength": 1,
            "Description": "Application name in the User-Agent Cliniko requires.",
        },
        "ClinikoContactEmail": {
            "Type": "String",
            "AllowedPattern": EMAIL_PATTERN,
            "ConstraintDescription": "must be an email address",
            "Description": "Contact email in the User-Agent Cliniko requires (who to tell about misbehaviour).",
        },
        "AllowBaseUrlOverride": {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["false", "true"],
            "Description": "Whether a connection may name its own Cliniko URL (https, or http to a loopback "
            "address) instead of https://api.<shard>.cliniko.com/v1. Only the local stack and the tests set it; "
            "left false, a connection row pointing elsewhere is refused before its key is sent (and alarmed).",
        },
        "PollSchedule": {
            "Type": "String",
            "Default": "rate(1 minute)",
            "Description": "How often the dispatcher runs (an EventBridge schedule expression): the poll interval.",
        },
        "ReconcileEveryHours": {
            "Type": "Number",
            "Default": 24,
            "MinValue": 0,
            "MaxValue": 720,
            "Description": "How often each stream is walked from its origin to publish what a regular poll could "
            "not see (a change that left updated_at alone, a record visible late). Spread over the period, inside "
            "the rate budget; 0 turns it off.",
        },
        "DefaultPayloadMode": {
            "Type": "String",
            "Default": "full",
            "AllowedValues": ["full", "minimal"],
            "Description": "Trigger events carry the Cliniko record (full) or only ids and changed field names "
            "(minimal), for connections that don't set their own mode. Minimal keeps patient data off the bus "
            "and out of the archive.",
        },
        "LogLevel": {
            "Type": "String",
            "Default": "INFO",
            "AllowedValues": ["DEBUG", "INFO", "WARN", "ERROR"],
            "Description": "Application log level of every function. The AWS SDK and urllib3 stay at WARNING "
            "whatever this says: at DEBUG they would log API keys and patient data (docs/security.md).",
        },
        "TracingMode": {
            "Type": "String",
            "Default": "PassThrough",
            "AllowedValues": ["PassThrough", "Active"],
            "Description": "X-Ray tracing of every function. PassThrough: only invocations a traced caller sampled "
            "(none on the poll path: an idle stack records no traces). Active: Lambda traces the first invocation "
            "each second and 5% of the rest, 5 USD per million traces; turn it on to investigate.",
        },
        "PollWorkerMemorySize": {
            "Type": "Number",
            "Default": WORKER_MEMORY_MB,
            "AllowedValues": list(WORKER_MEMORY_CHOICES),
            "Description": "MB of the poll worker. An idle poll mostly waits on Cliniko, and Lambda bills a wait by "
            "the memory, so the default is small. Below 1769 MB a function gets that share of one vCPU: a large "
            "backfill is CPU-bound here at a fraction of the key's rate limit, and 1024 or 1769 makes it several "
            "times faster for about the same CPU cost (docs/benchmarks.md).",
        },
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 30,
            "AllowedValues": list(LOG_RETENTION_DAYS),
            "Description": "Days the functions' log groups keep logs.",
        },
        "ArchiveRetentionDays": {
            "Type": "Number",
            "Default": 30,
            "MinValue": 0,
            "Description": "Days the event archive keeps events for replay (0 keeps them forever). In full payload "
            "mode the archive holds patient records for this long.",
        },
        "KmsKeyArn": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$",
            "ConstraintDescription": "must be empty or a KMS key ARN",
            "Description": "Customer-managed KMS key for every store (empty: the stack creates one with rotation). "
            "A key of your own needs the key policy statements in docs/security.md.",
        },
        "StreamLagAlarmSeconds": {
            "Type": "Number",
            "Default": 900,
            "MinValue": 120,
            "Description": "Alarm when a stream's cursor is this far behind (900 = 15 polls at the default "
            "1-minute schedule).",
        },
        "EnableExampleAutomations": {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["false", "true"],
            "Description": "Deploy the example rules that wire triggers to actions.",
        },
        "RegisterTriggerSchemas": {
            "Type": "String",
            "Default": "true",
            "AllowedValues": ["false", "true"],
            "Description": "Whether the nested stacks register the trigger events' schemas. Set false for one deploy "
            "only, when upgrading a stack deployed before nested stacks (docs/deploy.md): the root's schemas are "
            "deleted first, and the next deploy (true) registers them again under the same names.",
        },
        "AlarmTopicArn": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$",
            "ConstraintDescription": "must be empty or an SNS topic ARN",
            "Description": "SNS topic every alarm notifies (empty: alarms without notifications).",
        },
    }
    if not with_examples:  # nothing to enable: no parameter for cfn-lint to call unused
        del found["EnableExampleAutomations"]
    return found


TRIGGER_SCHEMAS_CONDITION = "TriggerSchemasRegistered"


def conditions(*, with_examples: bool) -> dict[str, Any]:
    found = {
        "CreateKmsKey": {"Fn::Equals": [ref("KmsKeyArn"), ""]},
        "ExampleAutomationsEnabled": {"Fn::Equals": [ref("EnableExampleAutomations"), "true"]},
        "HasActionRequestPrincipals": {
            "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", ref("ActionRequestPrincipals")]}, ""]}]
        },
        "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]},
        "TracingActive": {"Fn::Equals": [ref("TracingMode"), "Active"]},
        TRIGGER_SCHEMAS_CONDITION: {"Fn::Equals": [ref("RegisterTriggerSchemas"), "true"]},
    }
    if not with_examples:  # nothing to enable: no condition for cfn-lint to call unused
        del found["ExampleAutomationsEnabled"]
    return found


# What the CLI needs, as `KEY=value` words for `export $(…)` (docs/deploy.md): the names the functions get,
# the DLQs `dlq` reads, the archive `replay` replays from, and the key new API-key secrets are created under.
CLI_ENVIRONMENT = (
    ("CONNECTIONS_TABLE", "${ConnectionsTable}"),
    ("STATE_TABLE", "${StateTable}"),
    ("IDEMPOTENCY_TABLE", "${IdempotencyTable}"),
    ("EVENT_BUS_NAME", "${EventBus.Name}"),
    ("EVENT_BUS_ARN", "${EventBus.Arn}"),
    ("EVENT_ARCHIVE_ARN", "${EventArchive.Arn}"),
    ("EVENT_SOURCE", "${EventSource}"),
    ("CLINIKO_CONTACT_EMAIL", "${ClinikoContactEmail}"),
    ("CLINIKO_ALLOW_BASE_URL_OVERRIDE", "${AllowBaseUrlOverride}"),
    ("POLL_QUEUE_URL", "${PollQueue}"),
    ("POLL_DLQ_URL", "${PollDeadLetterQueue}"),
    ("ACTION_FAILURE_QUEUE_URL", "${ActionFailureQueue}"),
    ("RULE_TARGET_DLQ_URL", "${RuleTargetDeadLetterQueue}"),
    ("POLL_DISPATCHER_FAILURE_QUEUE_URL", "${PollDispatcherFailureQueue}"),
    ("EVENT_BUS_DLQ_URL", "${EventBusDeadLetterQueue}"),
    ("SCHEDULE_GROUP", "${ScheduleGroup}"),
    ("SCHEDULER_ROLE_ARN", "${SchedulerTargetRole.Arn}"),
    ("SCHEDULE_DEAD_LETTER_ARN", "${ScheduledActionDeadLetterQueue.Arn}"),
    ("SECRETS_KMS_KEY_ID", "${KeyArn}"),
    ("SECRETS_PREFIX", SECRETS_PREFIX),
    ("STACK_NAME", "${AWS::StackName}"),
    ("HOOKS_URL", "${HookFunctionUrl.FunctionUrl}"),
    ("AWS_DEFAULT_REGION", "${AWS::Region}"),
)


def outputs() -> dict[str, Any]:
    """The stack's own outputs; each action function adds its ARN (functions.add_action_function)."""
    queues = {f"{queue}Url": {"Value": ref(queue)} for queue in ("PollQueue", *DEAD_LETTER_QUEUES)}
    return {
        "EventBusName": {
            "Description": "Put action requests here; subscribe to trigger events here.",
            "Value": get_att("EventBus", "Name"),
        },
        "EventBusArn": {"Value": get_att("EventBus", "Arn")},
        "EventArchiveArn": {
            "Description": "What `cliniko-connector replay` replays from.",
            "Value": get_att("EventArchive", "Arn"),
        },
        "ConnectionsTableName": {"Value": ref("ConnectionsTable")},
        "StateTableName": {"Value": ref("StateTable")},
        "IdempotencyTableName": {"Value": ref("IdempotencyTable")},
        **queues,
        "KmsKeyArn": {
            "Description": "The stack's KMS key; the CLI creates API-key secrets under it (SECRETS_KMS_KEY_ID).",
            "Value": KMS_KEY_ARN,
        },
        "DashboardName": {"Value": ref("Dashboard")},
        "SchemaRegistryName": {"Value": get_att("EventSchemaRegistry", "RegistryName")},
        "CliEnvironment": {
            "Description": "Environment of the cliniko-connector CLI: export $(this value).",
            "Value": sub(" ".join(f"{k}={v}" for k, v in CLI_ENVIRONMENT), {"KeyArn": KMS_KEY_ARN}),
        },
    }
