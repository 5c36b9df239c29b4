"""`local up` run again: it updates what changed without breaking a running `local run` or `events tail`, and a
stack belongs to one folder's state file; `local status` says what to do when the stack is not the one its
state file describes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cliniko_connector.adapters.bus_operations import EventBridgeTail
from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_connector.usecases.tail import BusTail
from cliniko_tools.cli.main import main
from cliniko_tools.local.moto import reset
from cliniko_tools.local.runner import LocalRunner, RunSummary
from cliniko_tools.local.stack import ARCHIVE_RULE_NAME, StackOwnedElsewhere, up
from tests.integration.local.local_stack_support import CONTACT, REQUEST_SOURCE, Project, bus_rules

pytestmark = pytest.mark.integration

BUS = "cliniko-connector-dev"
REQUEST = {"action": "medical_alert.create", "connection_id": "demo", "input": {"patient_id": "1", "name": "x"}}


def rule_names(project: Project) -> list[str]:
    return [r["Name"] for r in bus_rules(project.client("events"), BUS)]


def test_up_from_another_folder_is_refused_while_the_first_folder_owns_the_stack(
    project: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project.up()
    other = tmp_path_factory.mktemp("other-folder")
    other_state = other / ".local" / "stack.json"
    with pytest.raises(StackOwnedElsewhere) as refused:
        up(project.root / "template.yaml", parameters=CONTACT, state_path=other_state)
    assert str(project.state_path.resolve()) in str(refused.value) and "local down" in str(refused.value)
    assert not other_state.exists()

    # The first folder's state is gone (deleted, or `local down` there): the other folder may take it over.
    project.state_path.unlink()
    taken = up(project.root / "template.yaml", parameters=CONTACT, state_path=other_state)
    assert any("took the stack over from" in note for note in taken.notes)


def test_the_cli_refuses_in_one_line(
    project: Project, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project.up()
    other_state = tmp_path_factory.mktemp("other-folder") / ".local" / "stack.json"
    code = main(["local", "up", "--template", str(project.root / "template.yaml"), "--stack-state", str(other_state)])
    err = capsys.readouterr().err
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("error: the local stack cliniko-connector-local on ") and "belongs to " in line


def test_local_status_says_what_to_do_when_moto_lost_the_stack_or_another_folder_rebuilt_it(
    project: Project, endpoint: str, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project.up()
    state = str(project.state_path)
    assert main(["local", "status", "--stack-state", state]) == 0
    capsys.readouterr()

    reset(endpoint)  # moto restarted: nothing the state file names exists any more
    assert main(["local", "status", "--stack-state", state]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no longer holds the stack" in line and "local up" in line

    other_state = tmp_path_factory.mktemp("other-folder") / ".local" / "stack.json"
    up(project.root / "template.yaml", parameters=CONTACT, state_path=other_state)  # built from elsewhere
    assert main(["local", "status", "--stack-state", state]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"was rebuilt from {other_state.resolve()}" in line


def test_up_again_keeps_a_running_tail_and_the_archive_rule(project: Project) -> None:
    up(project.root / "template.yaml", parameters=CONTACT, state_path=project.state_path, archive=True)
    with BusTail(EventBridgeTail(project.client("events"), project.client("sqs"), BUS)) as tail:
        state = up(project.root / "template.yaml", parameters=CONTACT, state_path=project.state_path, archive=True)
        assert tail.name in rule_names(project) and ARCHIVE_RULE_NAME in rule_names(project)
        project.put_event(state, REQUEST_SOURCE, ACTION_REQUESTED, REQUEST)
        (event,) = list(tail.receive(5))
        assert event["detail"] == REQUEST


def test_up_again_while_local_run_runs_updates_it_without_breaking_it(project: Project) -> None:
    state = project.up(EnableExampleAutomations="true")
    example = "ExampleNewPatientAlertRule"
    assert example in state.rules
    runner = LocalRunner(state, project.root, state_path=project.state_path)
    stop = threading.Event()
    results: list[RunSummary | BaseException] = []

    def run() -> None:
        try:
            results.append(runner.run(interval_seconds=0.05, until=stop.is_set))
        except BaseException as exc:
            results.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        # Again, without the example automations: their rule and its queue go while the runner drains queues.
        changed = project.up()
        assert example not in changed.rules
        project.put_event(changed, REQUEST_SOURCE, ACTION_REQUESTED, REQUEST)
        for _ in range(400):
            delivered = any(c["event"].get("detail") == REQUEST for c in project.calls("action"))
            if (delivered and example not in runner.state.rules) or not thread.is_alive():
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    (result,) = results
    assert isinstance(result, RunSummary), result
    assert not result.failures
    assert example not in runner.state.rules  # it follows the new state
    assert any(c["event"].get("detail") == REQUEST for c in project.calls("action"))


def test_the_state_file_is_replaced_whole(project: Project) -> None:
    project.up()
    leftovers = [p.name for p in Path(project.state_path.parent).iterdir() if p.name != "stack.json"]
    assert leftovers == []
