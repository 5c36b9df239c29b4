"""Each Lambda handler fed its own sample event from events/, as `sam local invoke` would, on the local stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_tools.devtools.template import action_function_id
from cliniko_tools.local.moto import InProcessMoto
from cliniko_tools.local.runner import LocalRunner
from cliniko_tools.local.stack import up

ROOT = Path(__file__).resolve().parents[2]


def sample(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / path).read_text())
    return loaded


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    with InProcessMoto() as moto, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", moto.endpoint_url)
        state = up(
            ROOT / "template.yaml",
            parameters={"ClinikoContactEmail": "ops@example.com"},
            state_path=tmp_path_factory.mktemp("stack") / "stack.json",
        )
        yield LocalRunner(state, ROOT)


def test_the_dispatcher_handles_its_scheduled_event(runner: LocalRunner) -> None:
    assert runner.invoke("PollDispatcherFunction", sample("poll_dispatcher/scheduled.json")) == {"jobs": 0}


@pytest.mark.parametrize("job", ["job", "reconcile_job"])
def test_the_poll_worker_drops_a_job_whose_connection_was_removed(runner: LocalRunner, job: str) -> None:
    # Retrying could never succeed: the job is consumed, not failed into the dead-letter queue.
    assert runner.invoke("PollWorkerFunction", sample(f"poll_worker/{job}.json")) == {"batchItemFailures": []}


def test_a_failing_poll_job_comes_back_with_every_later_job_of_the_batch(runner: LocalRunner) -> None:
    # FIFO: a later job of the same stream must not run before the failed one, so they all come back, in order.
    event = sample("poll_worker/job.json")
    dropped = event["Records"][0]
    broken = dropped | {"messageId": "broken", "body": "not a job"}
    later = dropped | {"messageId": "later"}
    event["Records"] = [dropped, broken, later]
    outcome = runner.invoke("PollWorkerFunction", event)
    assert outcome == {"batchItemFailures": [{"itemIdentifier": "broken"}, {"itemIdentifier": "later"}]}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_handler_answers_its_sample_event_without_raising(runner: LocalRunner, name: str) -> None:
    # The sample's connection `demo` isn't connected on this stack: a permanent, typed failure, not a crash.
    outcome = runner.invoke(action_function_id(ACTIONS[name]), sample(f"actions/{name}.json"))
    assert outcome["status"] == "failed"
    assert outcome["error"]["type"] == "ConnectionNotFound"
    assert outcome["action"] == name


@pytest.mark.parametrize(
    "event",
    [
        {"detail-type": "Cliniko Action Requested", "source": "cliniko", "detail": {"action": "patient.find"}},
        {"connection_id": "demo"},
        ["not", "an", "object"],
        {
            "detail-type": "Cliniko Action Requested",
            "source": "cliniko",
            "detail": {"action": "patient.create", "connection_id": "c", "input": {}},
        },
    ],
    ids=["no-connection", "no-input", "not-an-object", "another-actions-request"],
)
def test_a_malformed_request_is_a_failed_result_not_a_retry(runner: LocalRunner, event: Any) -> None:
    outcome = runner.invoke(action_function_id(ACTIONS["patient.find"]), event)
    assert outcome["status"] == "failed"
    assert outcome["error"]["type"] == "InputValidationError"


@pytest.mark.parametrize("source", ["attacker", None])
def test_a_whole_event_from_an_undeclared_source_is_refused_before_anything_is_read(
    runner: LocalRunner, source: str | None
) -> None:
    # Delivered straight to the function (a rule of someone else's, a direct invoke): the handler checks too.
    request = {"action": "patient.find", "connection_id": "demo", "input": {"email": "ada@example.com"}}
    event = {"detail-type": "Cliniko Action Requested", "detail": request, **({"source": source} if source else {})}
    outcome = runner.invoke(action_function_id(ACTIONS["patient.find"]), event)
    assert outcome["status"] == "failed"
    assert outcome["error"]["type"] == "UntrustedSource"  # not ConnectionNotFound: the row was never looked up
