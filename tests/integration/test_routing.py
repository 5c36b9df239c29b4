"""Routing: every rule in template.yaml, fed the sample events in events/, reaches exactly its targets.

The rules are created in moto from the real template by the local stack; each Lambda target is an SQS
queue there, so moto's own pattern matching decides (its `test_event_pattern` is a stub).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_tools.devtools.template import EXAMPLE_AUTOMATIONS, action_rule_id
from cliniko_tools.local.moto import InProcessMoto
from cliniko_tools.local.stack import StackState, up

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "events" / "triggers").glob("*.json")) + sorted((ROOT / "events" / "actions").glob("*.json"))


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with InProcessMoto() as server:
        yield server.endpoint_url


def deliver_all_samples(
    endpoint: str, tmp: Path, examples: bool, monkeypatch: pytest.MonkeyPatch
) -> dict[str, set[str]]:
    """Put every sample on the bus; return sample file name → the rules whose target queue received it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    state: StackState = up(
        ROOT / "template.yaml",
        parameters={"ClinikoContactEmail": "ops@example.com", "EnableExampleAutomations": str(examples).lower()},
        state_path=tmp / "stack.json",
        stack_name=f"routing-{str(examples).lower()}",
    )
    events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    bus = state.event_buses["EventBus"]
    by_key: dict[str, str] = {}
    for path in SAMPLES:
        sample = json.loads(path.read_text())
        key = sample["detail"].get("event_key") or sample["detail"].get("idempotency_key")
        by_key[key] = path.name
        entry = {"EventBusName": bus, "Source": sample["source"], "DetailType": sample["detail-type"]}
        result = events.put_events(Entries=[{**entry, "Detail": json.dumps(sample["detail"])}])
        assert result["FailedEntryCount"] == 0
    received: dict[str, set[str]] = defaultdict(set)
    for rule_id, rule in state.rules.items():
        for target in rule.targets:
            if target.function is None:
                continue
            url = state.queues[target.queue].url
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    body: dict[str, Any] = json.loads(message["Body"])
                    detail = body.get("detail", body)
                    key = detail.get("event_key") or detail.get("idempotency_key")
                    received[by_key[key]].add(rule_id)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return received


def intended(examples: bool) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = defaultdict(set)
    for name, action in ACTIONS.items():
        routes[f"{name}.json"].add(action_rule_id(action))
    if examples:
        for example in EXAMPLE_AUTOMATIONS:
            routes[f"{example.trigger}.json"].add(example.logical_id)
    return routes


@pytest.mark.parametrize("examples", [False, True], ids=["examples-off", "examples-on"])
def test_every_sample_event_reaches_exactly_its_intended_rules(
    examples: bool, moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received = deliver_all_samples(moto, tmp_path, examples, monkeypatch)
    assert dict(received) == dict(intended(examples))


def test_the_example_automation_hands_the_action_its_transformed_input(
    moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    state = up(
        ROOT / "template.yaml",
        parameters={"ClinikoContactEmail": "ops@example.com", "EnableExampleAutomations": "true"},
        state_path=tmp_path / "stack.json",
        stack_name="routing-transform",
    )
    sample = json.loads((ROOT / "events" / "triggers" / "patient.created.json").read_text())
    boto3.client("events", endpoint_url=moto, region_name="us-east-1").put_events(
        Entries=[
            {
                "EventBusName": state.event_buses["EventBus"],
                "Source": sample["source"],
                "DetailType": sample["detail-type"],
                "Detail": json.dumps(sample["detail"]),
            }
        ]
    )
    (target,) = state.rules["ExampleNewPatientAlertRule"].targets
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1")
    (message,) = sqs.receive_message(QueueUrl=state.queues[target.queue].url)["Messages"]
    assert json.loads(message["Body"]) == {
        "connection_id": sample["detail"]["connection_id"],
        "idempotency_key": sample["detail"]["event_key"],
        "input": {"patient_id": sample["detail"]["id"], "name": "New patient: review intake form"},
    }
