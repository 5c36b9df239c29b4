"""Where the stack keeps things: its KMS key (or the operator's own) and its DynamoDB tables."""

from __future__ import annotations

from typing import Any

from cliniko_tools.devtools.template.checkov import checkov_metadata
from cliniko_tools.devtools.template.intrinsics import ARN_PREFIX, DISPOSABLE, KEEP, ref, sub
from cliniko_tools.devtools.template.names import BUS_ARN_TEXT, KMS_KEY_ARN, LOG_GROUP_PREFIX, STACK_PREFIX
from cliniko_tools.devtools.template.stack import Stack

KMS_PENDING_WINDOW_DAYS = 30

# The stack's tables, declared once: the template, and the tables tests and benchmarks create on moto.
TABLES: dict[str, dict[str, Any]] = {
    "ConnectionsTable": {
        "description": "Connections: Cliniko accounts, their shard and enabled triggers "
        "(API keys are in Secrets Manager).",
        "keys": [("connection_id", "HASH")],
        "pitr": True,
    },
    "StateTable": {
        "description": "Stream cursors, record snapshots (keyed hashes, expire via TTL), leases and the shared "
        "rate budget.",
        "keys": [("pk", "HASH"), ("sk", "RANGE")],
        "ttl": "expires_at",
        "pitr": True,
    },
    "IdempotencyTable": {
        "description": "Powertools idempotency records of the action functions (expire after a day).",
        "keys": [("id", "HASH")],
        "ttl": "expiration",
        "pitr": False,
    },
}


def add_kms_key(stack: Stack) -> None:
    """The stack's key, unless the operator brings one (KmsKeyArn): it must allow what this policy does."""
    statements = [
        {
            "Sid": "AccountAdministersTheKeyAndDelegatesUseToIam",
            "Effect": "Allow",
            "Principal": {"AWS": sub(f"{ARN_PREFIX}:iam::${{AWS::AccountId}}:root")},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptsThisStacksLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": sub("logs.${AWS::Region}.amazonaws.com")},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": sub(
                        f"{ARN_PREFIX}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{LOG_GROUP_PREFIX}*"
                    )
                }
            },
        },
        {
            "Sid": "EventBridgeEncryptsTheBusAndItsArchive",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:aws:events:event-bus:arn": sub(BUS_ARN_TEXT)}},
        },
        {
            "Sid": "EventBridgeDescribesTheKey",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
        {
            "Sid": "EventBridgeWritesToTheEncryptedDeadLetterQueues",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
        },
    ]
    stack.add(
        "KmsKey",
        {
            "Type": "AWS::KMS::Key",
            "Condition": "CreateKmsKey",
            # Retained like the tables it protects: deleting it would make them unreadable.
            **KEEP,
            "Properties": {
                "Description": sub(
                    "cliniko-connector ${Stage}: tables, queues, log groups, the event bus and its archive, "
                    "and the Cliniko API keys in Secrets Manager"
                ),
                "EnableKeyRotation": True,
                "PendingWindowInDays": KMS_PENDING_WINDOW_DAYS,
                "KeyPolicy": {"Version": "2012-10-17", "Statement": statements},
            },
        },
    )
    stack.add(
        "KmsKeyAlias",
        {
            "Type": "AWS::KMS::Alias",
            "Condition": "CreateKmsKey",
            "Properties": {"AliasName": sub(f"alias/{STACK_PREFIX}"), "TargetKeyId": ref("KmsKey")},
        },
    )


def add_tables(stack: Stack) -> None:
    for logical_id, declared in TABLES.items():
        stack.add(logical_id, _table(logical_id, **declared))


def table_properties(logical_id: str) -> dict[str, Any]:
    """The `Properties` of one of the stack's tables, as the template declares them."""
    properties: dict[str, Any] = _table(logical_id, **TABLES[logical_id])["Properties"]
    return properties


def _table(
    logical_id: str,
    description: str,
    *,
    keys: list[tuple[str, str]],
    pitr: bool,
    ttl: str | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
        "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": KMS_KEY_ARN},
    }
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    if pitr:
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    # Connections and cursors outlive a `sam delete`: losing them means re-adding accounts and re-polling.
    resource: dict[str, Any] = {"Type": "AWS::DynamoDB::Table", **(KEEP if pitr else DISPOSABLE)}
    resource["Metadata"] = {"Description": description, **checkov_metadata(logical_id)}
    resource["Properties"] = properties
    return resource
