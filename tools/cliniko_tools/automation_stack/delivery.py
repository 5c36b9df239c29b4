"""The local runner's part of the automations stack: deliver each matched event to its targets for real.

For each target queue (`local.LocalTarget.queue_url`) the runner receives the matched events, checks them
again with EventBridge's matcher, renders the target's InputTransformer and delivers by kind. Failures follow
EventBridge: a webhook's 401/407/409/429/5xx answer or connection error and any AWS error are retried (the
message comes back after its visibility timeout) up to the retry budget, a webhook's other answers are not;
then the event goes to the automation's dead-letter queue with EventBridge's error attributes. An action target
is an asynchronous Lambda invoke, so its failures follow the function's own retries and failure destination, as
on AWS.

Each outcome is recorded (`automations-metrics.jsonl`, the local MatchedEvents/Invocations/FailedInvocations)
for `automations list`. Nothing recorded or printed carries the webhook's secret or the event's data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.exceptions import ClientError

from cliniko_tools.automation_stack.eventbridge import matches, render
from cliniko_tools.automation_stack.local import (
    AutomationsState,
    LocalAutomation,
    LocalTarget,
    LocalWebhook,
    metrics_path_for,
    state_path_for,
)
from cliniko_tools.local.stack import StackState

LOCAL_RETRY_ATTEMPTS = 2  # retries before the dead-letter queue; AWS's RetryPolicy (8) would take hours here
WEBHOOK_TIMEOUT_SECONDS = 5
RETRIED_STATUS = {401, 407, 409, 429}  # and 5xx: what EventBridge retries for API destinations


@dataclass
class Delivered:
    automation: str
    target: str
    kind: str
    ok: bool
    detail: str  # what happened, in a few words: never the input, never a secret


class RetryLater(Exception):
    """The target's own retries will take it again (an action's Lambda retries): not a delivery failure."""


class DeliveryFailed(Exception):
    def __init__(self, code: str, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retry = retry


def record_metric(path: Path, rule: str, metric: str, target: str | None = None) -> None:
    line = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "rule": rule, "metric": metric}
    if target:
        line["target"] = target
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def read_metrics(path: Path, hours: int = 24) -> dict[str, dict[str, int]]:
    """Rule → metric → count over the last `hours`."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    counts: dict[str, dict[str, int]] = {}
    if not path.is_file():
        return counts
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(raw)
            if datetime.fromisoformat(line["time"]) < since:
                continue
        except (ValueError, KeyError):
            continue
        rule = counts.setdefault(line["rule"], {})
        rule[line["metric"]] = rule.get(line["metric"], 0) + 1
    return counts


class AutomationDelivery:
    """Delivers the automations recorded next to `stack_state_path`; `invoke_action(function, payload)` runs an
    action's handler the way the runner runs Lambda targets and returns whether it succeeded."""

    def __init__(
        self,
        stack: StackState,
        stack_state_path: Path,
        invoke_action: Callable[[str, Any, str, int], bool],
        *,
        retry_delay_seconds: int | None = None,
    ) -> None:
        self.stack = stack
        self.path = state_path_for(stack_state_path)
        self.metrics = metrics_path_for(stack_state_path)
        self.invoke_action = invoke_action
        self.retry_delay_seconds = retry_delay_seconds
        self._stamp: tuple[int, int] | None = None
        self._state: AutomationsState | None = None
        self._clients: dict[str, Any] = {}
        self.delivered: list[Delivered] = []

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.stack.endpoint_url, region_name=self.stack.region
            )
        return self._clients[service]

    def state(self) -> AutomationsState | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            self._state = AutomationsState.load(self.path, self.stack)
        return self._state

    def drain(self, limit: int) -> int:
        """Deliver what is waiting (at most `limit` messages); how many messages were handled."""
        state = self.state()
        if state is None:
            return 0
        handled = 0
        for automation in state.automations.values():
            for index, target in enumerate(automation.targets):
                if handled >= limit:
                    return handled
                handled += self._drain_target(state, automation, index, target, limit - handled)
        return handled

    def _receive(self, url: str, limit: int) -> list[dict[str, Any]]:
        try:
            response = self.client("sqs").receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=max(1, min(10, limit)),
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                WaitTimeSeconds=0,
            )
        except ClientError:
            return []  # removed by a deploy since this cycle began
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _drain_target(
        self, state: AutomationsState, automation: LocalAutomation, index: int, target: LocalTarget, limit: int
    ) -> int:
        sqs = self.client("sqs")
        messages = self._receive(target.queue_url, limit)
        for message in messages:
            event = _as_delivered(json.loads(message["Body"]), self.stack.account_id)
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if not matches(automation.pattern, event):
                sqs.delete_message(QueueUrl=target.queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue  # moto's rule filters on source and detail-type only: the rest of the pattern is here
            if index == 0 and attempts == 1:
                record_metric(self.metrics, automation.rule, "MatchedEvents")
            try:
                detail = self._deliver(state, automation, target, event, message["MessageId"], attempts)
            except RetryLater:
                self._retry_later(target, message)
                continue
            except DeliveryFailed as failure:
                exhausted = not failure.retry or attempts > LOCAL_RETRY_ATTEMPTS
                self._note(automation, target, False, f"{failure.code}: {failure}")
                if exhausted:
                    record_metric(self.metrics, automation.rule, "FailedInvocations", target.target_id)
                    self._dead_letter(automation, target, event, failure)
                    sqs.delete_message(QueueUrl=target.queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    self._retry_later(target, message)
                continue
            record_metric(self.metrics, automation.rule, "Invocations", target.target_id)
            self._note(automation, target, True, detail)
            sqs.delete_message(QueueUrl=target.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _retry_later(self, target: LocalTarget, message: dict[str, Any]) -> None:
        if self.retry_delay_seconds is not None:
            self.client("sqs").change_message_visibility(
                QueueUrl=target.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=self.retry_delay_seconds,
            )

    def _note(self, automation: LocalAutomation, target: LocalTarget, ok: bool, detail: str) -> None:
        self.delivered.append(Delivered(automation.name, target.target_id, target.kind, ok, detail))

    def _deliver(
        self,
        state: AutomationsState,
        automation: LocalAutomation,
        target: LocalTarget,
        event: dict[str, Any],
        message_id: str,
        attempts: int,
    ) -> str:
        rule_arn = (
            f"arn:aws:events:{self.stack.region}:{self.stack.account_id}:rule/{automation.event_bus}/{automation.rule}"
        )
        body = render(target.transformer, event, rule_name=automation.rule, rule_arn=rule_arn)
        try:
            if target.kind in ("action", "schedule"):
                assert target.function is not None
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = body
                ok = self.invoke_action(target.function, payload, f"{automation.rule}/{target.target_id}", attempts)
                return f"{target.ref} {'ok' if ok else 'failed (the function retries it)'}"
            if target.kind == "webhook":
                return self._webhook(state.webhooks[target.ref], body)
            if target.kind in ("email", "sms"):
                self.client("sns").publish(TopicArn=target.topic_arn, Message=body)
                return f"published to {str(target.topic_arn).rsplit(':', 1)[-1]}"
            if target.kind == "queue":
                self.client("sqs").send_message(QueueUrl=target.target_queue_url, MessageBody=body)
                return f"sent to {str(target.target_queue_url).rsplit('/', 1)[-1]}"
            forwarded = json.loads(body) if target.transformer is not None else event
            entry = {
                "Source": forwarded.get("source", event["source"]),
                "DetailType": forwarded.get("detail-type", event["detail-type"]),
                "Detail": json.dumps(forwarded.get("detail", {})),
                "EventBusName": target.bus,
            }
            result = self.client("events").put_events(Entries=[entry])
            if result.get("FailedEntryCount"):
                raise DeliveryFailed("PutEventsFailed", "the other bus refused the event", retry=True)
            return f"put on {target.bus}"
        except ClientError as exc:
            raise DeliveryFailed(exc.response["Error"]["Code"], "the AWS call failed", retry=True) from None

    def _webhook(self, webhook: LocalWebhook, body: str) -> str:
        stored = self.client("secretsmanager").get_secret_value(SecretId=webhook.secret_arn)["SecretString"]
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Amazon/EventBridge/ApiDestinations",
            **self._auth_header(webhook, _secret_of(json.loads(stored))),
        }
        try:
            response = requests.request(
                webhook.method,
                webhook.endpoint,
                data=body.encode(),
                headers=headers,
                timeout=WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise DeliveryFailed(
                "SDK_CLIENT_ERROR", f"{type(exc).__name__} calling {webhook.name}", retry=True
            ) from None
        if 200 <= response.status_code < 300:
            return f"{webhook.method} {webhook.name} → {response.status_code}"
        retry = response.status_code >= 500 or response.status_code in RETRIED_STATUS
        raise DeliveryFailed(str(response.status_code), f"{webhook.name} answered {response.status_code}", retry=retry)

    def _auth_header(self, webhook: LocalWebhook, secret: str) -> dict[str, str]:
        """The header EventBridge adds for the connection's authorization type."""
        auth = webhook.auth
        if auth["auth"] == "basic":
            token = base64.b64encode(f"{auth['username']}:{secret}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if auth["auth"] == "oauth_client_credentials":
            data = {"grant_type": "client_credentials", **({"scope": auth["scope"]} if auth.get("scope") else {})}
            try:
                response = requests.request(
                    auth["token_method"],
                    auth["token_url"],
                    data=data,
                    auth=(auth["client_id"], secret),
                    timeout=WEBHOOK_TIMEOUT_SECONDS,
                )
                response.raise_for_status()
                token = response.json()["access_token"]
            except (requests.RequestException, ValueError, KeyError):
                raise DeliveryFailed("OAUTH_TOKEN_FAILED", f"no token for {webhook.name}", retry=True) from None
            return {"Authorization": f"Bearer {token}"}
        return {auth["header"]: secret}

    def _dead_letter(
        self, automation: LocalAutomation, target: LocalTarget, event: dict[str, Any], failure: DeliveryFailed
    ) -> None:
        """As EventBridge sends it: the event, with the rule, target and error as message attributes."""
        rule_arn = (
            f"arn:aws:events:{self.stack.region}:{self.stack.account_id}:rule/{automation.event_bus}/{automation.rule}"
        )
        attributes = {
            "RULE_ARN": rule_arn,
            "TARGET_ARN": target.target_id,
            "ERROR_CODE": failure.code,
            "ERROR_MESSAGE": str(failure),
        }
        self.client("sqs").send_message(
            QueueUrl=automation.dlq_url,
            MessageBody=json.dumps(event),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )


def _secret_of(stored: Any) -> str:
    """The key, password or client secret in the connection's managed secret (moto spells its keys in snake
    case: `api_key_value`, `password`, `client_secret`)."""
    if isinstance(stored, dict):
        for key, value in stored.items():
            if key.replace("_", "").lower() in ("apikeyvalue", "password", "clientsecret") and isinstance(value, str):
                return value
        for value in stored.values():
            found = _secret_of(value)
            if found:
                return found
    return ""


def _as_delivered(event: dict[str, Any], account: str) -> dict[str, Any]:
    """moto's copy of the event lacks `account` and adds `ingestion-time`; EventBridge does neither."""
    event = {key: value for key, value in event.items() if key != "ingestion-time"}
    event.setdefault("account", account)
    return event
