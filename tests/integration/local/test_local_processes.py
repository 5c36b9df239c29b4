"""The local stack's processes, run as a person runs them (the console script in a shell's environment):
`local moto` stops its server process on any signal, `local down` stops everything the stack started and
frees its ports, and a taken port or a missing key is said in one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_tools.local.moto import free_port
from cliniko_tools.local.processes import ProcessId, ProcessRecord, port_free, records, write_record
from tests.integration.local.local_stack_support import Project

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "cliniko_tools.cli.main"]
KEY = "MS0xMjM0NTY3ODkwcHJvY2Vzc2VzdGVzdGtleQ-au1"


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A folder to run the CLI in; whatever a test leaves running there is stopped afterwards."""
    (tmp_path / "key.txt").write_text(KEY + "\n", encoding="utf-8")
    yield tmp_path
    for record in records(tmp_path / ".local"):
        for process in record.everything:
            process.signal(signal.SIGKILL)


def shell_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CLINIKO_"))}
    return {**env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", **extra}


def cli(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=folder, env=shell_env(**env), capture_output=True, text=True, timeout=120, check=False
    )


def record_of(folder: Path, name: str, timeout: float = 60) -> ProcessRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = records(folder / ".local", name)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"{name} wrote no record")


def gone(record: ProcessRecord, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while any(p.alive() for p in record.everything):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in result.stderr
    return line


def test_local_moto_stopped_by_a_signal_stops_its_server_process_and_frees_the_port(folder: Path) -> None:
    port = free_port()
    process = subprocess.Popen([*CLI, "local", "moto", "--port", str(port)], cwd=folder, env=shell_env())
    try:
        record = record_of(folder, "moto")
        assert record.port == port and len(record.children) == 1 and not port_free(port)
        process.send_signal(signal.SIGTERM)  # kill, `local down`; SIGHUP (a closed terminal) is handled alike
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert gone(record), "moto's server process outlived `local moto`"
    assert port_free(port)
    assert records(folder / ".local") == []


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's (prctl)")
def test_a_killed_local_moto_takes_its_server_process_with_it(folder: Path) -> None:
    port = free_port()
    process = subprocess.Popen([*CLI, "local", "moto", "--port", str(port)], cwd=folder, env=shell_env())
    record = record_of(folder, "moto")
    process.kill()  # SIGKILL: no handler runs
    process.wait(timeout=30)
    assert gone(record), "moto's server process outlived a killed `local moto`"
    assert port_free(port)


def test_local_down_stops_moto_the_simulator_and_local_run_and_frees_their_ports(folder: Path) -> None:
    moto_port, sim_port = free_port(), free_port()
    started = cli(folder, "local", "moto", "--port", str(moto_port), "--background")
    assert started.returncode == 0, started.stderr
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{moto_port}" in started.stdout
    endpoint = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}"}
    started = cli(folder, "simulator", "--port", str(sim_port), "--api-key-file", "key.txt", "--background")
    assert started.returncode == 0, started.stderr
    assert f"on http://127.0.0.1:{sim_port}/v1" in started.stdout and KEY not in started.stdout
    # A one-action stack with throwaway handlers: `local run` needs a stack, not the whole catalog.
    project = Project(folder, endpoint["AWS_ENDPOINT_URL"])
    project.write_template({"medical_alert.create": ACTIONS["medical_alert.create"]})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", project.endpoint)
        project.up()
    runner = subprocess.Popen(
        [*CLI, "local", "run", "--interval", "1"],
        cwd=folder,
        env=shell_env(**endpoint),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        running = {r.name: r for r in (record_of(folder, n) for n in ("moto", "simulator", "run"))}
        assert not port_free(moto_port) and not port_free(sim_port)

        down = cli(folder, "local", "down")
        assert down.returncode == 0, down.stderr
        assert runner.wait(timeout=30) == 0
    finally:
        runner.kill()
    assert [line.split()[1] for line in down.stdout.splitlines() if line.startswith("stopped ")] == [
        "run",
        "simulator",
        "moto",
    ]
    for record in running.values():
        assert gone(record, timeout=0), f"{record.describe()} is still running"
    assert port_free(moto_port) and port_free(sim_port)
    assert records(folder / ".local") == [] and not (folder / ".local" / "stack.json").exists()
    assert cli(folder, "local", "down").stdout.startswith("nothing of the local stack is running")


def test_a_port_in_use_is_one_line_for_moto_and_the_simulator(folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for command in (["local", "moto", "--port", port], ["simulator", "--port", port, "--api-key-file", "key.txt"]):
            line = one_line_error(cli(folder, *command))
            assert f"port {port} on 127.0.0.1 is in use" in line and "--port" in line


def test_the_simulator_refuses_to_start_without_a_key(folder: Path) -> None:
    line = one_line_error(cli(folder, "simulator", "--port", str(free_port())))
    assert "needs the API key" in line and "--api-key-file" in line
    assert records(folder / ".local") == []


@pytest.mark.skipif(sys.platform != "linux", reason="which command a pid runs is read from /proc")
def test_a_forged_record_cannot_make_local_down_signal_another_process(folder: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        forged = ProcessRecord(name="moto", process=ProcessId.of(bystander.pid), port=free_port())
        assert forged.process.started is not None
        write_record(folder / ".local", forged)
        down = cli(folder, "local", "down")
        assert down.returncode == 0 and down.stdout.startswith("nothing of the local stack is running")
        assert bystander.poll() is None, "local down signalled a process that is not the local stack's"
    finally:
        bystander.kill()
        bystander.wait()
