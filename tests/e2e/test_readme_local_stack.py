"""The README's local stack section, pasted into a shell as it is, in a fresh copy of the project: it works,
the patient it creates and changes becomes events, and `local down` leaves no process or port behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cliniko_tools.local.moto import free_port
from cliniko_tools.local.processes import ProcessId, port_free, records

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parents[1]
# What a fresh clone doesn't have: build and run output (and the venv, linked in below).
NOT_IN_A_CLONE = (".git", ".venv", ".tools", ".local", ".aws-sam", ".bench", "*_cache", "__pycache__", "key.txt")


def readme_section(heading: str) -> str:
    """The first ```sh block after `heading` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(f"\n{heading}\n") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, f"no sh block under {heading}"
    return match.group(1)


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Path]:
    """The project as a fresh clone has it, with this test run's .venv (making one takes minutes)."""
    root = tmp_path / "cliniko-connector"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE), symlinks=True)
    (root / ".venv").symlink_to(VENV, target_is_directory=True)
    yield root
    for record in records(root / ".local"):  # only if the section failed before `local down`
        for process in record.everything:
            process.signal(signal.SIGKILL)


def test_the_readme_local_stack_section_runs_as_written_and_leaves_nothing_running(clone: Path) -> None:
    script = readme_section("## The local stack")
    commands = [line.split("#")[0].strip() for line in script.strip().splitlines()]
    assert commands[0] == "make venv" and commands[-1].endswith("local down")
    # Only what can't be the same here: free ports for 5000 and 8080, and `make venv` in question mode
    # (the venv is this test run's; building one would replace it).
    moto_port, sim_port = free_port(), free_port()
    script = re.sub(r"\b5000\b", str(moto_port), script)
    script = re.sub(r"\b8080\b", str(sim_port), script)
    script = script.replace("make venv", "make -q venv", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CLINIKO_", "POWERTOOLS_", "PYTEST"))}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Traceback" not in output and "MS0xMjM0NTY3ODkwbG9jYWxzdGFja2tleQ" not in output

    # The patient created and then changed in the simulator reached the bus as two events.
    archive = clone / ".local" / "archive.jsonl"
    events = [json.loads(line) for line in archive.read_text(encoding="utf-8").splitlines()]
    patients = [(e["detail-type"], e["detail"]["id"]) for e in events if e["detail"].get("resource") == "patients"]
    assert [kind for kind, _ in patients] == ["Patient Created", "Patient Updated"]
    assert patients[0][1] == patients[1][1]
    assert re.search(r"^\s*patients\s.*\s2\s", done.stdout, re.MULTILINE), done.stdout  # status: 2 events

    # `local down` stopped moto (and its server process) and the simulator, and freed their ports.
    pids = [int(p) for found in re.findall(r"\(pid ([\d ]+)[,)]", done.stdout) for p in found.split()]
    assert len(pids) >= 3, done.stdout  # local moto, its moto server, the simulator
    assert [pid for pid in pids if ProcessId.of(pid).alive()] == []
    assert port_free(moto_port) and port_free(sim_port)
    assert records(clone / ".local") == []
