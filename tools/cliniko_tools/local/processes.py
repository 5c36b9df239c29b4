"""The local stack's long-running processes: `local moto`, `simulator` and `local run`.

Each writes a record (`<name>-<pid>.process.json`) next to the stack's state file while it runs and removes it
when it stops, so `local down` can stop everything the local stack started, from another shell, and check
that the ports are free again. A record names the process and its children (moto's server process) with
their start times, so a recycled pid is never signalled; and where /proc tells (Linux) only a process running
this project's CLI or moto is ever signalled, whatever a record says.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from pydantic import BaseModel, Field

from cliniko_connector.errors import ConfigurationError

HOST = "127.0.0.1"
RECORD_SUFFIX = ".process.json"
# What the command line of a process `local down` may signal contains (one of).
OUR_COMMANDS = (b"cliniko_tools", b"cliniko_connector", b"cliniko-connector", b"moto.server")
STOP_TIMEOUT_SECONDS = 10.0
START_TIMEOUT_SECONDS = 60.0


class PortInUse(ConfigurationError):
    error_type = "PortInUse"


class ProcessId(BaseModel):
    pid: int
    started: str | None = Field(default=None, description="Start time from /proc (Linux); None elsewhere.")

    @classmethod
    def of(cls, pid: int) -> ProcessId:
        return cls(pid=pid, started=_start_time(pid))

    def alive(self) -> bool:
        """Still running, and still the same process (not a recycled pid, not a zombie)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False  # someone else's process: the pid was recycled
        stat = _proc_stat(self.pid)
        if stat is None:
            return sys.platform != "linux"
        if stat[0] == "Z" or not _ours(self.pid):
            return False
        return self.started is None or stat[19] == self.started

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


class ProcessRecord(BaseModel):
    name: str = Field(description="moto, simulator or run")
    process: ProcessId
    children: list[ProcessId] = Field(default_factory=list)
    port: int | None = None
    url: str | None = None

    @property
    def everything(self) -> list[ProcessId]:
        return [self.process, *self.children]

    def describe(self) -> str:
        where = f" on {self.url}" if self.url else (f" on port {self.port}" if self.port else "")
        pids = " ".join(str(p.pid) for p in self.everything)
        return f"{self.name}{where} (pid {pids})"


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _ours(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(mark in command for mark in OUR_COMMANDS)


def _start_time(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return stat[19] if stat is not None and len(stat) > 19 else None


def record_path(directory: Path, record: ProcessRecord) -> Path:
    return directory / f"{record.name}-{record.process.pid}{RECORD_SUFFIX}"


def write_record(directory: Path, record: ProcessRecord) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = record_path(directory, record)
    partial = path.with_suffix(".tmp")
    partial.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def records(directory: Path, name: str | None = None) -> list[ProcessRecord]:
    """The records in `directory` (of `name`); records of processes that are gone are deleted."""
    found: list[ProcessRecord] = []
    for path in sorted(directory.glob(f"{name or '*'}-*{RECORD_SUFFIX}")):
        try:
            record = ProcessRecord.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if any(p.alive() for p in record.everything):
            found.append(record)
        else:
            path.unlink(missing_ok=True)
    return found


@contextlib.contextmanager
def registered(directory: Path, record: ProcessRecord) -> Iterator[ProcessRecord]:
    """`record` on disk while the block runs."""
    path = write_record(directory, record)
    try:
        yield record
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the block like Ctrl-C (KeyboardInterrupt), so `finally` clauses stop children:
    Python's default for SIGTERM exits at once and would leave moto's server process running."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def die_with_parent() -> None:
    """`preexec_fn` for a child that must not outlive this process, even if it is killed (SIGKILL): on Linux
    the kernel sends the child SIGTERM when its parent dies. Elsewhere a no-op (the signal handlers remain)."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def port_free(port: int, host: str = HOST) -> bool:
    """True when a server could listen on `port` now (binding as servers do, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def require_port_free(port: int, what: str) -> None:
    if not port_free(port):
        raise port_in_use(port, what)


def port_in_use(port: int, what: str) -> PortInUse:
    return PortInUse(
        f"port {port} on {HOST} is in use, so {what} can't listen there: choose another --port, or stop what "
        "listens there (`cliniko-connector local down` stops what this folder's local stack started)"
    )


def stop(record: ProcessRecord, timeout: float = STOP_TIMEOUT_SECONDS) -> list[str]:
    """SIGTERM the process (it stops its own children), then its children, then SIGKILL what is left; wait
    for its port to be free. What could not be stopped or freed (empty when all went well)."""
    record.process.signal(signal.SIGTERM)
    if not _wait_gone(record.everything, timeout):
        for child in record.children:
            child.signal(signal.SIGTERM)
        if not _wait_gone(record.everything, timeout / 2):
            for process in record.everything:
                process.signal(signal.SIGKILL)
            _wait_gone(record.everything, timeout / 2)
    problems = [f"{record.name}: pid {p.pid} is still running" for p in record.everything if p.alive()]
    if record.port is not None and not _wait(lambda: port_free(record.port or 0), timeout / 2):
        problems.append(f"{record.name}: port {record.port} is still in use")
    return problems


def _wait_gone(processes: Sequence[ProcessId], timeout: float) -> bool:
    return _wait(lambda: not any(p.alive() for p in processes), timeout)


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def start_in_background(name: str, argv: Sequence[str], directory: Path, stdin: str | None = None) -> ProcessRecord:
    """Run `cliniko-connector ARGV` detached from this terminal (its output in `<directory>/<name>.log`) and
    return its record once it has written one, i.e. once it is serving. `stdin` is written to its standard
    input (an API key read here from `-`)."""
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / f"{name}.log"
    command = [sys.executable, "-m", "cliniko_tools.cli.main", *argv]
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 (our own CLI)
            command,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if stdin is not None and process.stdin is not None:
        with process.stdin:
            process.stdin.write(stdin.encode())
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for record in records(directory, name):
            if record.process.pid == process.pid:
                return record
        if process.poll() is not None:
            raise ConfigurationError(f"{name} did not start: {_last_line(log_path)}")
        time.sleep(0.05)
    process.terminate()
    raise ConfigurationError(f"{name} did not start within {START_TIMEOUT_SECONDS:.0f}s; see {log_path}")


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1].removeprefix("error: ") if lines else f"no output (see {path})"
