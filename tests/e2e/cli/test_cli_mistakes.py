"""Every command, on every mistake a person typically makes, ends with one line on stderr that says what went
wrong and what to do next, and the exit status docs/cli.md documents; never a traceback.

The mistakes are a table: add a row when a command or a way to get it wrong is added. Rows run in-process
against moto and the simulator (`MISTAKES`); what only a real process meets (a closed pipe, no terminal on
stdin, Ctrl-D at a prompt, Ctrl-C) runs the console script itself (`PIPES`, `NO_STDIN`, `INTERRUPTS`).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.settings import PollerSettings
from cliniko_connector.wiring import build_runtime
from cliniko_tools.cli.context import STATE_ENV, settings_from
from cliniko_tools.local.moto import free_port
from tests.e2e.cli.conftest import CONNECTION, ROOT, Result, Stack

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).with_name("cliniko-connector"))
USAGE, FAILED, INTERRUPTED, CLOSED_PIPE = 2, 1, 130, 141


@dataclass(frozen=True)
class Mistake:
    kind: str  # missing file | bad JSON | unknown name | service down | no stdin
    argv: tuple[str, ...]
    code: int | tuple[int, ...]  # the documented exit status (a tuple: any of them)
    says: str  # part of the one line; `{aws}` / `{cliniko}` stand for the unreachable endpoint / host
    down: str | None = None  # "aws" (moto unreachable) or "cliniko" (the connection's host unreachable)
    stdin: str | None = None  # what is piped in; None: a terminal nobody types on

    @property
    def id(self) -> str:
        return f"{self.kind}: {' '.join(self.argv)}"


FIND = ("actions", "run", "patient.find", "--connection", CONNECTION, "--input")
HOOK_ADD = ("hooks", "add", "signup", "--connection", CONNECTION, "--action")
MISTAKES = [
    # -- a file named on the command line is missing, or is a folder
    Mistake("missing file", (*FIND, "@missing.json"), USAGE, "--input @FILE: no file missing.json"),
    Mistake("missing file", (*FIND, "@."), USAGE, "--input @FILE: . is a folder; give a file"),
    Mistake("missing file", ("local", "invoke", "PollWorkerFunction", "--event", "missing.json"), USAGE, "no file"),
    Mistake("missing file", ("local", "invoke", "PollWorkerFunction", "--event", "."), USAGE, "is a folder"),
    Mistake("missing file", ("connections", "add", "X", "--api-key-file", "missing.txt"), USAGE, "--api-key-file"),
    Mistake("missing file", ("connections", "rotate-key", CONNECTION, "--api-key-file", "."), USAGE, "is a folder"),
    Mistake("missing file", ("simulator", "--api-key-file", "missing.txt"), USAGE, "no file missing.txt"),
    Mistake("missing file", ("local", "up", "--template", "missing.yaml"), USAGE, "name it with --template PATH"),
    Mistake("missing file", ("status", "--stack-state", "missing.json"), FAILED, "run `cliniko-connector local up`"),
    Mistake("missing file", ("console", "--stack-state", "missing.json"), FAILED, "run `cliniko-connector local up`"),
    Mistake(
        "missing file", (*HOOK_ADD, "patient.create", "--map", "missing.yaml"), USAGE, "--map: no file missing.yaml"
    ),
    Mistake("bad JSON", (*HOOK_ADD, "patient.create", "--map", "bad.json"), USAGE, "--map bad.json is not YAML"),
    Mistake("unknown name", (*HOOK_ADD, "patient.creat", "--map", "x"), USAGE, "did you mean `patient.create`?"),
    Mistake("unknown name", ("hooks", "show", "nope"), FAILED, "see `cliniko-connector hooks list`"),
    Mistake("unknown name", ("hooks", "rotate", "nope"), FAILED, "see `cliniko-connector hooks list`"),
    # -- text that should be JSON (or a time) isn't
    Mistake("bad JSON", (*FIND, "{nope"), USAGE, "--input is not JSON (line 1, column 2)"),
    Mistake("bad JSON", (*FIND, "[1, 2]"), USAGE, "--input must be a JSON object"),
    Mistake("bad JSON", (*FIND, "@bad.json"), USAGE, "--input is not JSON"),
    Mistake("bad JSON", ("local", "invoke", "PollWorkerFunction", "--event", "bad.json"), USAGE, "is not JSON"),
    Mistake("bad JSON", ("events", "tail", "--pattern", "{"), USAGE, "argument --pattern: not JSON"),
    Mistake("bad JSON", ("replay", "--since", "1h", "--pattern", "[]"), USAGE, "non-empty JSON object"),
    Mistake("bad JSON", ("replay", "--since", "last tuesday"), USAGE, "is not a time"),
    Mistake("bad JSON", ("connections", "set", CONNECTION, "--rate-limit", "lots"), USAGE, "invalid int value"),
    # -- a name that doesn't exist: what there is, or the name meant
    Mistake("unknown name", ("connections", "show", "nope"), FAILED, "see `cliniko-connector connections list`"),
    Mistake("unknown name", ("connections", "test", "nope"), FAILED, "see `cliniko-connector connections list`"),
    Mistake("unknown name", ("connections", "disable", "nope"), FAILED, "see `cliniko-connector connections list`"),
    Mistake("unknown name", ("connections", "set", "nope", "--rate-limit", "100"), FAILED, "connections list"),
    Mistake("unknown name", ("connections", "remove", "nope", "--yes"), FAILED, "connections list"),
    Mistake("unknown name", ("triggers", "list", "nope"), FAILED, "see `cliniko-connector connections list`"),
    Mistake("unknown name", ("triggers", "enable", "nope", "patient.created"), FAILED, "connections list"),
    Mistake(
        "unknown name",
        ("triggers", "enable", CONNECTION, "patient.creatd"),
        USAGE,
        "did you mean `patient.created`?",
    ),
    Mistake(
        "unknown name",
        ("triggers", "disable", CONNECTION, "patient.updatd"),
        USAGE,
        "did you mean `patient.updated`?",
    ),
    Mistake("unknown name", ("triggers", "show", "patient.creatd"), USAGE, "did you mean `patient.created`?"),
    Mistake("unknown name", ("triggers", "sample", "nope", "patient.created"), FAILED, "connections list"),
    Mistake("unknown name", ("triggers", "sample", CONNECTION, "patient.creatd"), USAGE, "did you mean"),
    Mistake(
        "unknown name",
        ("automations", "new", "x", "--trigger", "patient.creatd", "--action", "patient.find", "--stdout"),
        USAGE,
        "did you mean `patient.created`?",
    ),
    Mistake("missing file", ("automations", "validate", "missing"), USAGE, "no file or folder missing"),
    Mistake("missing file", ("automations", "test", "missing.yaml"), USAGE, "no file missing.yaml"),
    Mistake("unknown name", ("actions", "show", "patient.fnd"), USAGE, "did you mean `patient.find`?"),
    Mistake(
        "unknown name",
        ("actions", "run", "medical_alert.creat", "--connection", CONNECTION, "--input", "{}"),
        USAGE,
        "did you mean `medical_alert.create`?",
    ),
    Mistake(
        "unknown name",
        ("actions", "run", "patient.find", "--connection", "nope", "--input", '{"email": "ada@example.com"}'),
        FAILED,
        "ConnectionNotFound: no connection 'nope'; see `cliniko-connector connections list`",
    ),
    Mistake("unknown name", ("status", "nope"), FAILED, "see `cliniko-connector connections list`"),
    Mistake("unknown name", ("poll", "--connection", "nope"), FAILED, "see `cliniko-connector connections list`"),
    Mistake("unknown name", ("backfill", "nope", "patient.created", "--all"), FAILED, "connections list"),
    Mistake("unknown name", ("backfill", CONNECTION, "patient.creatd", "--all"), USAGE, "did you mean"),
    Mistake("unknown name", ("local", "invoke", "NoSuchFunction", "--event", "bad.json"), FAILED, "no function"),
    Mistake("unknown name", ("dlq", "list", "--queue", "everything"), USAGE, "invalid choice"),
    Mistake("unknown name", ("completion", "tcsh"), USAGE, "invalid choice: 'tcsh'"),
    Mistake("unknown name", ("triggers", "frobnicate"), USAGE, "invalid choice: 'frobnicate'"),
    # -- AWS (moto) is not running: the endpoint is named, and how to start it
    Mistake("service down", ("status",), FAILED, "nothing answers at {aws}: start the local moto server", "aws"),
    Mistake("service down", ("connections", "list"), FAILED, "nothing answers at {aws}", "aws"),
    Mistake("service down", ("connections", "add", "X", "--api-key-file", "key.txt"), FAILED, "{aws}", "aws"),
    Mistake("service down", ("triggers", "enable", CONNECTION, "patient.created"), FAILED, "{aws}", "aws"),
    Mistake("service down", ("poll",), FAILED, "nothing answers at {aws}", "aws"),
    Mistake("service down", ("dlq", "list"), FAILED, "nothing answers at {aws}", "aws"),
    Mistake("service down", ("replay", "--since", "1h"), FAILED, "nothing answers at {aws}", "aws"),
    Mistake("service down", ("events", "tail", "--timeout", "1"), FAILED, "nothing answers at {aws}", "aws"),
    Mistake("service down", (*FIND, '{"email": "ada@example.com"}'), FAILED, "nothing answers at {aws}", "aws"),
    Mistake("service down", ("local", "up", "--template", str(ROOT / "template.yaml")), FAILED, "{aws}", "aws"),
    Mistake("service down", ("local", "status"), FAILED, "nothing answers at {aws}", "aws"),
    # -- Cliniko can't be reached: the host is named
    Mistake("service down", (*FIND, '{"email": "a@example.com"}'), FAILED, "Cliniko at {cliniko}", "cliniko"),
    Mistake("service down", ("poll",), FAILED, "Cliniko could not be reached", "cliniko"),
    Mistake(
        "service down",
        ("connections", "add", "Y", "--api-key-file", "key.txt", "--base-url", "http://{cliniko}/v1"),
        FAILED,
        "could not connect to Cliniko at {cliniko}",
        "cliniko",
    ),
    # A base URL that isn't one: refused in one line (how exactly is the base-URL check's to say).
    Mistake(
        "bad URL", ("connections", "add", "Z", "--api-key-file", "key.txt", "--base-url", "file:///etc/x"), (1, 2), ""
    ),
    # -- standard input has nothing (or nobody) to answer
    Mistake("no stdin", ("connections", "remove", CONNECTION), USAGE, "pass --yes", stdin=""),
    Mistake("no stdin", ("connections", "add", "X", "--api-key-file", "-"), FAILED, "the API key is empty", stdin=""),
    Mistake("no stdin", ("local", "invoke", "PollWorkerFunction"), USAGE, "--event - reads standard input"),
]


def assert_one_line(result: Result, code: int | tuple[int, ...], says: str) -> str | None:
    """What is wrong with how a command failed, or None: one `error:` line on stderr, the exit status."""
    codes = code if isinstance(code, tuple) else (code,)
    lines = result.err.splitlines()
    if "Traceback" in result.err:
        return f"a traceback: {result.err[-800:]}"
    if result.code not in codes:
        return f"exit {result.code}, not {code}: {result.err!r}"
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return f"not one `error:` line: {result.err!r}"
    if says not in lines[0]:
        return f"{lines[0]!r} doesn't say {says!r}"
    return None


def dead_port() -> int:
    return free_port()


def _repoint(stack: Stack, down: str | None) -> dict[str, str]:
    """Make the service a row needs unreachable; the names its line should mention."""
    names = {"aws": "", "cliniko": ""}
    stack.monkeypatch.setenv("AWS_ENDPOINT_URL", stack.endpoint)  # what an earlier row took down is back
    stack.monkeypatch.setenv(STATE_ENV, str(stack.state_path))
    boto3_client.cache_clear()
    if down == "aws":
        endpoint = f"http://127.0.0.1:{dead_port()}"
        state = json.loads(stack.state_path.read_text(encoding="utf-8"))
        state["endpoint_url"] = endpoint
        moved = stack.root / "dead" / "stack.json"
        moved.parent.mkdir(exist_ok=True)
        moved.write_text(json.dumps(state), encoding="utf-8")
        stack.monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        stack.monkeypatch.setenv(STATE_ENV, str(moved))
        stack.monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        boto3_client.cache_clear()
        names["aws"] = endpoint
    elif down == "cliniko":
        host = f"127.0.0.1:{dead_port()}"
        runtime = build_runtime(settings_from(argparse.Namespace(stack_state=None), PollerSettings))
        connection = runtime.connections.get(CONNECTION)
        runtime.connections.put(connection.model_copy(update={"base_url": f"http://{host}/v1"}))
        # Unreachable is retried until the time budget is spent (nothing is lost): keep the budgets short.
        stack.monkeypatch.setenv("POLL_TIME_BUDGET_SECONDS", "2")
        stack.monkeypatch.setenv("ACTION_TIME_BUDGET_SECONDS", "2")
        names["cliniko"] = host
    return names


def _named(text: str, names: dict[str, str]) -> str:
    for name, value in names.items():
        text = text.replace("{" + name + "}", value)
    return text


def _files(stack: Stack) -> None:
    (stack.root / "bad.json").write_text("{not json", encoding="utf-8")


@pytest.mark.parametrize("kind", sorted({m.kind for m in MISTAKES}))
def test_every_typical_mistake_ends_in_one_line_with_the_documented_exit_status(stack: Stack, kind: str) -> None:
    """One stack per kind of mistake, every row of that kind on it; the failures of all rows are listed."""
    stack.connect("patient.find")  # the `actions run` rows reach Cliniko, or fail trying
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    _files(stack)
    problems: list[str] = []
    rows = [m for m in MISTAKES if m.kind == kind]
    for down in dict.fromkeys(m.down for m in rows):
        names = _repoint(stack, down)
        for mistake in (m for m in rows if m.down == down):
            argv = [_named(a, names) for a in mistake.argv]
            if mistake.stdin is None:
                stack.monkeypatch.setattr(sys, "stdin", _Terminal())
            result = stack.cli(*argv, stdin=mistake.stdin)
            problem = assert_one_line(result, mistake.code, _named(mistake.says, names))
            if problem:
                problems.append(f"{mistake.id}: {problem}")
    assert problems == [], "\n".join(problems)


class _Terminal:
    """Standard input that is a terminal with nothing typed: `-` has nothing piped in."""

    def isatty(self) -> bool:
        return True

    def read(self) -> str:
        raise AssertionError("read a terminal nobody types on")  # it would hang: the command must not


def test_verbose_adds_the_error_type_to_the_one_line(stack: Stack) -> None:
    quiet = stack.cli("connections", "show", "nope")
    verbose = stack.cli("--verbose", "connections", "show", "nope")
    assert quiet.code == verbose.code == 1
    assert verbose.err.splitlines()[0] == quiet.err.strip()
    assert "  type: ConnectionNotFound" in verbose.err


def test_mistake_table_covers_every_kind_and_every_command_group() -> None:
    kinds = {m.kind for m in MISTAKES}
    assert {"missing file", "bad JSON", "unknown name", "service down", "no stdin"} <= kinds
    from cliniko_tools.cli.main import GROUPS

    groups = {m.argv[0] for m in MISTAKES}
    in_process_only = {"dev"}  # `dev render` takes no names, files or services a person gives
    assert set(GROUPS) - in_process_only - {"triggers"} <= groups | {"triggers"}
    assert "triggers" in groups


# -- what only a real process meets ------------------------------------------------------------------


@pytest.fixture
def shell_env(stack: Stack) -> dict[str, str]:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    return stack.subprocess_env()


PIPES = [
    ("status",),
    ("triggers", "list"),
    ("actions", "list"),
    ("connections", "list"),
    ("triggers", "show", "patient.created"),
    ("completion", "bash"),
    ("--help",),
]


def test_a_reader_that_closes_the_pipe_early_ends_the_command_quietly(stack: Stack, shell_env: dict[str, str]) -> None:
    """`status | head -1`: the reader is gone before the command writes; no BrokenPipeError, exit 141 (as
    `yes | head -1`), or 0 where the command had finished writing first."""
    problems = []
    for argv in PIPES:
        process = subprocess.Popen(
            [CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=shell_env, cwd=stack.root
        )
        assert process.stdout is not None
        process.stdout.close()  # before the command has imported anything, let alone printed
        _out, err = process.communicate(timeout=120)
        if err or process.returncode not in (0, CLOSED_PIPE):
            problems.append(f"{' '.join(argv)}: exit {process.returncode}: {err.decode()[-800:]}")
    assert problems == [], "\n".join(problems)


NO_STDIN = [
    (("connections", "remove", CONNECTION), USAGE, "pass --yes to remove northside-physio without a prompt"),
    (("connections", "add", "X", "--api-key-file", "-"), FAILED, "the API key is empty"),
    (("connections", "rotate-key", CONNECTION, "--api-key-file", "-"), FAILED, "the API key is empty"),
    (("dlq", "redrive"), 0, None),  # nothing to send back: nothing to ask
]


def test_no_stdin_where_a_command_would_ask_says_what_to_pass_instead(stack: Stack, shell_env: dict[str, str]) -> None:
    problems = []
    for argv, code, says in NO_STDIN:
        done = subprocess.run(
            [CLI, *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=shell_env,
            cwd=stack.root,
            timeout=120,
            check=False,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        if says is None:
            problem = None if done.returncode == code and not done.stderr else f"exit {done.returncode}: {done.stderr}"
        else:
            problem = assert_one_line(result, code, says)
        if problem:
            problems.append(f"{' '.join(argv)}: {problem}")
    assert problems == [], "\n".join(problems)
    assert stack.cli("connections", "show", CONNECTION).code == 0  # nothing was removed


def _read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} within {timeout}s; saw {seen[-500:]!r}")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise AssertionError(f"ended before {marker!r}; saw {seen[-500:]!r}")
        seen += chunk
    return seen


def test_ctrl_d_at_the_remove_prompt_keeps_the_connection(stack: Stack, shell_env: dict[str, str]) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [CLI, "connections", "remove", CONNECTION],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=shell_env,
        cwd=stack.root,
    )
    os.close(terminal)
    try:
        assert process.stderr is not None
        _read_until(process.stderr.fileno(), b"[y/N] ")
        os.write(controller, b"\x04")  # Ctrl-D: end of input, no answer
        out, err = process.communicate(timeout=60)
    finally:
        os.close(controller)
    assert process.returncode == 1, err
    assert out.decode() == "kept\n"
    assert b"Traceback" not in err and b"EOFError" not in err
    assert stack.cli("connections", "show", CONNECTION).code == 0


@dataclass(frozen=True)
class Interrupt:
    argv: tuple[str, ...]
    ready: bytes  # what the command prints (stdout or stderr) once it is working
    codes: tuple[int, ...]  # 130 (interrupted) or 0 where Ctrl-C is how the command is stopped


INTERRUPTS = [
    Interrupt(("events", "tail"), b"Ctrl-C stops", (0, INTERRUPTED)),
    Interrupt(("local", "run", "--interval", "30"), b"Ctrl-C stops", (0, INTERRUPTED)),
    Interrupt(("simulator", "--port", "0", "--api-key-file", "key.txt"), b"listening", (0, INTERRUPTED)),
]


def _interrupt(argv: list[str], ready: bytes, env: dict[str, str], cwd: Path) -> tuple[int, bytes]:
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd
    )
    assert process.stdout is not None
    seen = _read_until(process.stdout.fileno(), ready) if ready else b""
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=120)
    return process.returncode, seen + rest


def test_ctrl_c_stops_a_running_command_without_a_traceback(stack: Stack, shell_env: dict[str, str]) -> None:
    problems = []
    for case in INTERRUPTS:
        code, output = _interrupt([CLI, *case.argv], case.ready, shell_env, stack.root)
        if b"Traceback" in output or b"KeyboardInterrupt" in output or code not in case.codes:
            problems.append(f"{' '.join(case.argv)}: exit {code}: {output.decode()[-1200:]}")
    assert problems == [], "\n".join(problems)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_in_make_demo_stops_everything_it_started_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    code, output = _interrupt([sys.executable, str(ROOT / "scripts" / "demo.py")], b"[3/", env, ROOT)
    text = output.decode()
    assert code == INTERRUPTED, text[-2000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert text.rstrip().splitlines()[-1] == "demo interrupted: stopped everything it started"
    moto_url = _url_after(text, "[1/")
    sim_url = _url_after(text, "[2/")
    for url in (moto_url, sim_url):
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        assert not _listening(port), f"{url} still answers after the demo was interrupted"


def _url_after(text: str, step: str) -> str:
    after = text.split(step, 1)[1]
    return next(word for word in after.split() if word.startswith("http://127.0.0.1:"))
