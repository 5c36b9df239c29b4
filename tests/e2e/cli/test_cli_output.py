"""Output people can read: one trigger in detail, the effective payload mode, poll's counts explained,
`local run` naming each event, one spelling of `--stack-state`, and shell completion that knows the names."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.eventmodels import TriggerEventDetail
from cliniko_tools.cli.completion import SCRIPTS, complete
from cliniko_tools.cli.main import GROUPS
from cliniko_tools.cli.output import TERMINAL_WIDTH, plural
from tests.e2e.cli.conftest import CONNECTION, Stack
from tests.e2e.cli.test_cli_mistakes import CLI

pytestmark = pytest.mark.e2e


def test_triggers_show_gives_the_detail_fields_and_a_sample_event_within_100_columns(stack: Stack) -> None:
    shown = stack.cli("triggers", "show", "patient.updated")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == f"patient.updated: {TRIGGERS['patient.updated'].description}"
    assert "  detail-type: Patient Updated" in lines
    fields = {line.split()[0].rstrip("?") for line in lines if line.startswith("    ") and line[4:5].isalpha()}
    assert set(TriggerEventDetail.model_fields) <= fields
    sample = json.loads(shown.out[shown.out.index("  sample event:") + len("  sample event:") :])
    assert sample["detail-type"] == "Patient Updated" and sample["detail"]["trigger"] == "patient.updated"
    assert max(len(line) for line in lines) <= TERMINAL_WIDTH
    as_json = stack.cli("triggers", "show", "patient.updated", "--json").json
    assert as_json["detail_schema"]["properties"]["trigger"]["const"] == "patient.updated"


def test_connections_show_gives_the_effective_payload_mode_and_never_the_secret(stack: Stack) -> None:
    stack.connect()
    human = stack.cli("connections", "show", CONNECTION)
    assert "payload_mode             full (stack default)" in human.out.splitlines()
    assert "secret" not in human.out
    data = stack.cli("connections", "show", CONNECTION, "--json").json
    assert data["payload_mode"] == "full" and data["payload_mode_is_stack_default"] is True
    assert "secret_id" not in data and "hash_salt" not in data
    assert stack.cli("connections", "set", CONNECTION, "--payload-mode", "minimal").code == 0
    data = stack.cli("connections", "show", CONNECTION, "--json").json
    assert data["payload_mode"] == "minimal" and data["payload_mode_is_stack_default"] is False


def test_poll_explains_that_a_re_read_is_not_an_error(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.patients("Ada")
    first = stack.cli("poll")
    again = stack.cli("poll")  # the overlap reads Ada again: a re-read, not an event
    assert first.code == again.code == 0
    header, _rule, row, legend = again.out.splitlines()
    assert header.split()[:7] == ["CONNECTION", "RESOURCE", "PAGES", "RECORDS", "EVENTS", "RE-READ", "CAUGHT"]
    assert row.split()[3:7] == ["1", "0", "1", "yes"]
    assert "RE-READ: records already published" in legend and "not an error" in legend
    assert stack.cli("triggers", "disable", CONNECTION, "patient.created").code == 0
    nothing = stack.cli("poll")
    assert nothing.out.startswith("nothing to poll: no connection has triggers on")


def test_status_counts_this_hours_events_as_the_archive_does(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.patients("Ada", "Grace", "Alan")
    assert stack.cli("poll").code == 0
    (report,) = stack.cli("status", "--json").json
    (stream,) = report["streams"]
    pattern = json.dumps({"detail-type": ["Patient Created"]})
    archived = stack.cli("replay", "--since", stream["hour_started_at"], "--pattern", pattern, "--dry-run", "--json")
    assert archived.code == 0, archived.err
    assert stream["events_this_hour"] == archived.json["would_replay"] == 3
    human = stack.cli("status").out.splitlines()
    header = next(i for i, line in enumerate(human) if "EVENTS SINCE " in line)
    column = human[header].index("EVENTS SINCE ")
    assert human[header + 2][column:].split()[0] == "3"


def test_counts_in_sentences_are_singular_for_one() -> None:
    assert [plural(n, "trigger") for n in (0, 1, 2)] == ["0 triggers", "1 trigger", "2 triggers"]


def test_local_run_names_the_event_each_invocation_handled(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.patients("Ada")
    ran = stack.cli("local", "run", "--once", "--stack-state", str(stack.state_path))
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert any(line.startswith("  PollDispatcherFunction") and line.endswith("ok [schedule tick]") for line in lines)
    assert any(line.endswith(f"ok [poll job {CONNECTION}/patients]") for line in lines)
    actions = [line for line in lines if line.startswith("  MedicalAlertCreateActionFunction ")]
    assert actions and all(f"[action request for {CONNECTION} (key {CONNECTION}:patients:" in a for a in actions)
    assert "Ada" not in ran.out


def test_the_old_state_option_of_local_commands_still_works_and_says_which_to_use(stack: Stack) -> None:
    old = stack.cli("local", "status", "--state", str(stack.state_path))
    assert old.code == 0, old.err
    assert old.err == "warning: --state is deprecated; use --stack-state\n"
    assert "--state " not in stack.cli("local", "status", "--help").out


def test_completion_knows_commands_options_and_the_names_of_connections_triggers_and_actions(stack: Stack) -> None:
    stack.connect()
    assert set(complete("", [])) == {*GROUPS, "triggers"}  # every command, never the hidden `__complete`
    assert complete("en", ["triggers"]) == ["enable"]
    assert complete("", ["triggers", "enable"]) == [CONNECTION]
    assert complete("", ["connections", "show"]) == [CONNECTION]
    assert complete("", ["poll", "--connection"]) == [CONNECTION]
    assert complete("patient.cr", ["triggers", "enable", CONNECTION]) == ["patient.created"]
    assert "all" in complete("", ["triggers", "enable", CONNECTION, "patient.created"])
    assert complete("patient.up", ["triggers", "show"]) == ["patient.updated"]
    assert complete("", ["actions", "show"]) == list(ACTIONS)
    assert complete("--st", ["status"]) == ["--stack-state"]
    assert complete("", ["dlq", "list", "--queue"])[:2] == ["actions", "rule-targets"]
    assert complete("f", ["completion"]) == ["fish"]
    assert complete("", ["connections", "show", CONNECTION]) == []  # nothing more to name


def test_the_bash_script_completes_through_the_real_cli(stack: Stack) -> None:
    stack.connect()
    script = stack.root / "completion.bash"
    done = subprocess.run([CLI, "completion", "bash"], capture_output=True, text=True, check=True)
    script.write_text(done.stdout, encoding="utf-8")
    probe = (
        f'source "{script}"; COMP_WORDS=("{CLI}" triggers enable "" ); COMP_CWORD=3; '
        '_cliniko_connector; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, "-c", probe], capture_output=True, text=True, env=stack.subprocess_env(), timeout=120, check=False
    )
    assert result.stdout.splitlines() == [CONNECTION], result.stderr


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_every_shell_script_hands_the_typed_words_to_the_hidden_complete_command(shell: str) -> None:
    done = subprocess.run([CLI, "completion", shell], capture_output=True, text=True, check=True)
    assert done.stdout == SCRIPTS[shell]
    assert "__complete" in done.stdout and "cliniko-connector" in done.stdout
    checker = shutil.which(shell)
    if checker is not None:  # a syntax check where the shell is installed (bash always is)
        flag = "--no-execute" if shell == "fish" else "-n"
        assert subprocess.run([checker, flag], input=done.stdout, text=True, check=False).returncode == 0
