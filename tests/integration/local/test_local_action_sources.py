"""The action rules' source filter, as moto's rule matching applies it to the real template: an action
request, or a trigger event, from a source the stack does not declare reaches no action's queue."""

from __future__ import annotations

import pytest

from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_tools.devtools.template import DEFAULT_ACTION_REQUEST_SOURCE, DEFAULT_EVENT_SOURCE
from cliniko_tools.local.stack import local_target_queue_name
from tests.integration.local.local_stack_support import Project

pytestmark = pytest.mark.integration

REQUEST = {"action": "patient.archive", "connection_id": "demo", "input": {"id": "1"}}
ARCHIVE_QUEUE = local_target_queue_name("PatientArchiveActionRule", "ActionFunction")
EXAMPLE_QUEUE = local_target_queue_name("ExampleNewPatientAlertRule", "ActionFunction")


@pytest.mark.parametrize("source", ["attacker", "tests", "custom.automation", "cliniko-connector", "Cliniko"])
def test_an_action_request_from_an_undeclared_source_reaches_no_action(project: Project, source: str) -> None:
    state = project.up()
    project.put_event(state, source, ACTION_REQUESTED, REQUEST)
    for key in state.queues:
        assert project.depth(state, key) == (0, 0), key


@pytest.mark.parametrize("source", [DEFAULT_EVENT_SOURCE, DEFAULT_ACTION_REQUEST_SOURCE])
def test_an_action_request_from_a_declared_source_reaches_its_action(project: Project, source: str) -> None:
    state = project.up()
    project.put_event(state, source, ACTION_REQUESTED, REQUEST)
    (body,) = project.messages(state, ARCHIVE_QUEUE)
    assert body["source"] == source and body["detail"] == REQUEST


def test_the_declared_action_request_source_is_a_parameter(project: Project) -> None:
    state = project.up(ActionRequestSource="acme.automations")
    project.put_event(state, DEFAULT_ACTION_REQUEST_SOURCE, ACTION_REQUESTED, REQUEST)
    assert project.depth(state, ARCHIVE_QUEUE) == (0, 0)
    project.put_event(state, "acme.automations", ACTION_REQUESTED, REQUEST)
    assert len(project.messages(state, ARCHIVE_QUEUE)) == 1


def test_a_forged_trigger_event_from_another_source_drives_no_example_automation(project: Project) -> None:
    state = project.up(EnableExampleAutomations="true")
    trigger = {"connection_id": "other-clinic", "id": "1", "event_key": "k", "trigger": "patient.created"}
    project.put_event(state, "attacker", "Patient Created", trigger)
    assert project.depth(state, EXAMPLE_QUEUE) == (0, 0)
    project.put_event(state, DEFAULT_EVENT_SOURCE, "Patient Created", trigger)
    assert project.depth(state, EXAMPLE_QUEUE) == (1, 0)
