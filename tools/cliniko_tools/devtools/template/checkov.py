"""Which checkov checks don't apply, and why: one table, by resource kind, read by every resource of the kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What every function shares.
_FUNCTION: dict[str, str] = {
    "CKV_AWS_117": "Cliniko is reached over the internet and the functions use no resource inside a VPC.",
    "CKV_AWS_173": "Environment variables hold resource names only (encrypted by Lambda's own key); API keys live in "
    "Secrets Manager under the stack's KMS key.",
    "CKV_AWS_115": "Reserved concurrency comes out of the account pool (10 on new accounts) and is not a request "
    "rate; Cliniko's 200/min per key is enforced by the shared rate budget, the worker by its SQS "
    "MaximumConcurrency.",
}

# Kind → check id → why it doesn't apply. A kind is a logical id, or `ActionFunction` for every action's function.
SKIPS: Mapping[str, Mapping[str, str]] = {
    "PollDispatcherFunction": {
        **_FUNCTION,
        "CKV_AWS_116": "Asynchronous failures go to the PollDispatcherFailureQueue OnFailure destination.",
    },
    "PollWorkerFunction": {
        **_FUNCTION,
        "CKV_AWS_116": "Invoked by SQS; failed jobs go to the PollQueue's redrive DLQ.",
    },
    "ActionFunction": {
        **_FUNCTION,
        "CKV_AWS_116": "Asynchronous failures go to the ActionFailureQueue OnFailure destination.",
    },
    "ScheduleActionsFunction": {
        **_FUNCTION,
        "CKV_AWS_116": "Asynchronous failures go to the ScheduleActionsFailureQueue OnFailure destination.",
    },
    "HookFunction": {
        **_FUNCTION,
        "CKV_AWS_116": "Invoked synchronously by its function URL: the caller gets the error and sends again.",
    },
    "IdempotencyTable": {"CKV_AWS_28": "Short-lived idempotency records; a restore would only replay them."},
}


def checkov_metadata(kind: str) -> dict[str, Any]:
    """`Metadata` that tells checkov which checks don't apply to a resource of `kind` (none: empty)."""
    checks = SKIPS.get(kind)
    if not checks:
        return {}
    return {"checkov": {"skip": [{"id": check, "comment": comment} for check, comment in checks.items()]}}
