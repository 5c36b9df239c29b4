"""Who may make the connector act, at the use-case: a connection runs only the actions it allows."""

from __future__ import annotations

import pytest

from cliniko_connector.adapters.memory import InMemoryConnectionStore, RecordingPublisher
from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import UntrustedSource
from cliniko_connector.eventmodels import ACTION_FAILED, ACTION_REQUESTED, ActionRequest, parse_action_event
from cliniko_connector.models import Connection, ConnectionStatus
from cliniko_connector.usecases.actions import ActionRunner
from tests.unit.actions.support import ForbiddenCliniko

ARCHIVE = ACTIONS["patient.archive"]
REQUEST = ActionRequest(connection_id="clinic", input={"id": "1000000000000000101"}, idempotency_key="k")


def runner_for(connection: Connection) -> tuple[ActionRunner, RecordingPublisher]:
    publisher = RecordingPublisher()
    runner = ActionRunner(
        action=ARCHIVE,
        connections=InMemoryConnectionStore([connection]),
        api_for=lambda _: ForbiddenCliniko(),
        publisher=publisher,
        event_source="cliniko",
    )
    return runner, publisher


def test_a_new_connection_allows_no_action() -> None:
    assert Connection(id="clinic", name="Clinic", secret_id="s", shard="au1").allowed_actions == ()


def test_a_request_for_an_action_the_connection_does_not_allow_fails_typed_without_calling_cliniko() -> None:
    # It allows a read, not this write: ForbiddenCliniko fails the test on any call.
    connection = Connection(id="clinic", name="Clinic", secret_id="s", shard="au1", allowed_actions=("patient.find",))
    runner, publisher = runner_for(connection)
    outcome = runner.run(REQUEST)
    assert outcome["status"] == "failed"
    assert outcome["error"]["type"] == "ActionNotAllowed"
    assert "connections allow clinic patient.archive" in outcome["error"]["message"]
    (event,) = publisher.events
    assert event.detail_type == ACTION_FAILED
    assert event.detail["error"]["type"] == "ActionNotAllowed"


def test_a_disabled_connection_refuses_even_an_allowed_action() -> None:
    connection = Connection(
        id="clinic",
        name="Clinic",
        secret_id="s",
        shard="au1",
        allowed_actions=(ARCHIVE.name,),
        status=ConnectionStatus.DISABLED,
    )
    runner, _ = runner_for(connection)
    assert runner.run(REQUEST)["error"]["type"] == "ConnectionDisabled"


def test_a_request_naming_a_connection_that_is_not_there_reaches_no_cliniko() -> None:
    runner, _ = runner_for(Connection(id="other", name="Other", secret_id="s", shard="au1"))
    assert runner.run(REQUEST)["error"]["type"] == "ConnectionNotFound"


def test_a_whole_event_is_accepted_only_from_the_declared_sources() -> None:
    detail = REQUEST.model_dump(mode="json", exclude_none=True)
    sources = ("cliniko", "cliniko-connector.automation")
    for source in sources:
        event = {"detail-type": ACTION_REQUESTED, "source": source, "detail": detail}
        assert parse_action_event(event, sources) == REQUEST
    for event in (
        {"detail-type": ACTION_REQUESTED, "source": "attacker", "detail": detail},
        {"detail-type": ACTION_REQUESTED, "detail": detail},  # EventBridge always sets a source
    ):
        with pytest.raises(UntrustedSource):
            parse_action_event(event, sources)
    assert parse_action_event(detail, sources) == REQUEST  # a rule's InputTransformer output: the stack's own rule
