"""Three deliveries of one request write once: `wiring.action_app` (Powertools idempotency on moto's
DynamoDB, in process) in front of the runner, a real Cliniko client and the simulator."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryRateBudget,
    InMemorySecretStore,
    InMemoryStreamStateStore,
    RecordingPublisher,
)
from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.eventmodels import (
    ACTION_FAILED,
    ACTION_REQUESTED,
    ACTION_SUCCEEDED,
    ActionRequest,
    parse_action_event,
)
from cliniko_connector.models import Connection
from cliniko_connector.settings import ActionSettings
from cliniko_connector.wiring import Runtime, action_app
from cliniko_tools.local.stack import create_declared_table
from tests.integration.actions.conftest import MISSING_ID, World
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration

TABLE = "idempotency"
REGION = "us-east-1"


class LambdaContext:
    """Just what Powertools idempotency reads from a Lambda context."""

    function_name = "MedicalAlertCreateActionFunction"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    boto3_client.cache_clear()
    with mock_aws():
        create_declared_table(boto3.client("dynamodb", region_name=REGION), "IdempotencyTable", TABLE)
        yield
    boto3_client.cache_clear()


def app_for(
    world: World, action_name: str, *, clinics: tuple[str, ...] = ("clinic",), allowed: bool = True
) -> tuple[Callable[[ActionRequest], dict[str, Any]], RecordingPublisher, InMemoryConnectionStore]:
    """`action_name`'s Lambda code on moto's DynamoDB, for connections `clinics` (all on the simulator's one
    account), which allow the action unless `allowed` is False."""
    settings = ActionSettings(
        action_name=action_name,
        idempotency_table=TABLE,
        connections_table="connections",
        state_table="state",
        event_bus_name="bus",
        cliniko_contact_email="tests@example.com",
        cliniko_request_timeout_seconds=2.0,
        cliniko_max_backoff_seconds=0.05,
        action_time_budget_seconds=1.0,
        cliniko_allow_base_url_override=True,  # the connection points at the simulator
    )
    secrets = InMemorySecretStore()
    publisher = RecordingPublisher()
    connections = InMemoryConnectionStore(
        [
            Connection(
                id=clinic,
                name=clinic,
                secret_id=secrets.put(clinic, API_KEY),
                shard="au1",
                base_url=world.sim.base_url,
                allowed_actions=(action_name,) if allowed else (),
            )
            for clinic in clinics
        ]
    )
    runtime = Runtime(
        settings=settings,
        connections=connections,
        state=InMemoryStreamStateStore(),
        publisher=publisher,
        secrets=secrets,
        rate_budget=InMemoryRateBudget(),
    )
    app = action_app(settings, runtime=runtime)
    return (lambda request: app(request, LambdaContext())), publisher, connections


def test_three_deliveries_of_one_request_write_once(world: World, dynamodb: None) -> None:
    action = ACTIONS["medical_alert.create"]
    run, publisher, _ = app_for(world, action.name)
    detail = {
        "action": action.name,
        "connection_id": "clinic",
        "idempotency_key": "clinic:patients:1:patient.created:2026-11-26T09:30:00Z",
        "input": world.materialize(action),
    }
    deliveries = [
        {"detail-type": ACTION_REQUESTED, "source": "tests", "detail": detail},  # the event itself
        {k: v for k, v in detail.items() if k != "action"},  # an InputTransformer's output
        {"detail": detail},  # a direct invoke
    ]
    results = [run(parse_action_event(event)) for event in deliveries]
    assert results[0]["status"] == "succeeded"
    assert results[0] == results[1] == results[2]
    posts = [r for r in world.sim.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].path == "/v1/medical_alerts"
    assert [e.detail_type for e in publisher.events] == [ACTION_SUCCEEDED]
    alerts = [a for a in world.sim.list("medical_alerts") if a["name"] == action.sample_input["name"]]
    assert len(alerts) == 1


def test_a_different_key_is_a_different_write(world: World, dynamodb: None) -> None:
    action = ACTIONS["communication.create"]
    run, _, _ = app_for(world, action.name)
    data = world.materialize(action)
    first = run(parse_action_event({"connection_id": "clinic", "idempotency_key": "a", "input": data}))
    second = run(parse_action_event({"connection_id": "clinic", "idempotency_key": "b", "input": data}))
    again = run(parse_action_event({"connection_id": "clinic", "idempotency_key": "a", "input": data}))
    assert first == again and first["result"] != second["result"]
    assert len([r for r in world.sim.requests if r.method == "POST"]) == 2


def test_a_failed_transient_attempt_is_not_remembered(world: World, dynamodb: None) -> None:
    action = ACTIONS["patient.archive"]
    run, _, _ = app_for(world, action.name)
    request = parse_action_event(
        {"connection_id": "clinic", "idempotency_key": "k", "input": {"id": world.ids["patients"]}}
    )
    world.sim.faults.inject("server_error", status=503)
    with pytest.raises(Exception, match="503"):
        run(request)
    world.sim.faults.clear()
    assert run(request)["result"] == {"archived": True, "id": world.ids["patients"]}


def posts(world: World) -> list[Any]:
    return [r for r in world.sim.requests if r.method == "POST"]


def test_the_same_key_from_another_clinic_writes_for_that_clinic_and_never_gets_the_first_result(
    world: World, dynamodb: None
) -> None:
    action = ACTIONS["medical_alert.create"]
    run, _, _ = app_for(world, action.name, clinics=("clinic-a", "clinic-b"))
    data = world.materialize(action)
    first = run(ActionRequest(connection_id="clinic-a", idempotency_key="shared-key", input=data))
    second = run(ActionRequest(connection_id="clinic-b", idempotency_key="shared-key", input=data))
    assert first["status"] == second["status"] == "succeeded"
    assert second["connection_id"] == "clinic-b"
    assert second["result"]["record"]["id"] != first["result"]["record"]["id"]  # B's own record, not A's
    assert len(posts(world)) == 2  # B's write was not skipped


def test_the_same_key_with_another_input_is_a_conflict_with_no_call_and_no_stored_result(
    world: World, dynamodb: None
) -> None:
    action = ACTIONS["medical_alert.create"]
    run, publisher, _ = app_for(world, action.name)
    data = world.materialize(action)
    first = run(ActionRequest(connection_id="clinic", idempotency_key="k", input=data))
    assert first["status"] == "succeeded"
    world.sim.requests_clear()
    other = run(ActionRequest(connection_id="clinic", idempotency_key="k", input={**data, "name": "Another alert"}))
    assert other["status"] == "failed"
    assert other["error"]["type"] == "IdempotencyConflict"
    assert other["result"] is None
    assert world.sim.requests == []
    assert [e.detail_type for e in publisher.events] == [ACTION_SUCCEEDED, ACTION_FAILED]
    # The first input still gets its stored result.
    assert run(ActionRequest(connection_id="clinic", idempotency_key="k", input=data)) == first


def test_a_disallowed_action_reaches_cliniko_zero_times_and_is_not_remembered(world: World, dynamodb: None) -> None:
    action = ACTIONS["patient.archive"]
    run, publisher, connections = app_for(world, action.name, allowed=False)
    request = ActionRequest(connection_id="clinic", idempotency_key="k", input={"id": world.ids["patients"]})
    refused = run(request)
    assert refused["status"] == "failed" and refused["error"]["type"] == "ActionNotAllowed"
    assert world.sim.requests == []
    assert [e.detail_type for e in publisher.events] == [ACTION_FAILED]
    # Once the connection allows it, the same request (same key) runs: the refusal was not stored as its result.
    clinic = connections.get("clinic")
    connections.put(clinic.model_copy(update={"allowed_actions": (action.name,)}))
    assert run(request)["result"] == {"archived": True, "id": world.ids["patients"]}
    assert len(posts(world)) == 1


def test_a_permanent_cliniko_failure_is_not_remembered(world: World, dynamodb: None) -> None:
    action = ACTIONS["patient.archive"]
    run, _, _ = app_for(world, action.name)
    missing = ActionRequest(connection_id="clinic", idempotency_key="k", input={"id": MISSING_ID})
    assert run(missing)["error"]["type"] == "ClinikoNotFound"
    assert run(missing)["error"]["type"] == "ClinikoNotFound"
    assert len(posts(world)) == 2  # asked again, not answered from a stored failure
