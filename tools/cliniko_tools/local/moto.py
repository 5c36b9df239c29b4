"""A moto server on a free loopback port: in-process (tests) or as a subprocess (the CLI). Never a fixed port."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any, Self

from cliniko_connector.errors import ConfigurationError
from cliniko_tools.local.processes import die_with_parent

HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 30.0


class MotoNotReady(ConfigurationError):
    error_type = "MotoNotReady"


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_ready(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=1.0) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(endpoint_url: str, timeout: float = READY_TIMEOUT_SECONDS, process: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise MotoNotReady(f"moto server exited with status {process.returncode} before it was ready")
        if is_ready(endpoint_url):
            return
        time.sleep(0.05)
    raise MotoNotReady(f"moto server at {endpoint_url} was not ready after {timeout:.0f}s")


def reset(endpoint_url: str) -> None:
    """Forget every resource the server holds (moto's reset API)."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10.0):  # noqa: S310 (loopback)
        pass


def terminate(process: subprocess.Popen[bytes]) -> None:
    """Stop a child process: politely, then for sure."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class InProcessMoto:
    """`moto.server.ThreadedMotoServer` on 127.0.0.1 and an OS-chosen port, in a daemon thread."""

    def __init__(self, port: int = 0, *, log_requests: bool = False) -> None:
        from moto.server import ThreadedMotoServer

        if not log_requests:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
        self.endpoint_url = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        wait_until_ready(self.endpoint_url)
        return self.endpoint_url

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MotoSubprocess:
    """`python -m moto.server -H 127.0.0.1 -p PORT` as a child process; retries if the port was taken.
    The child gets SIGTERM when this process dies, however it dies (Linux; see `die_with_parent`)."""

    def __init__(self, port: int | None = None, *, python: str = sys.executable, attempts: int = 3) -> None:
        self._requested_port = port
        self._python = python
        self._attempts = attempts
        self._process: subprocess.Popen[bytes] | None = None
        self.endpoint_url = ""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> str:
        last_error: Exception | None = None
        for _ in range(1 if self._requested_port else self._attempts):
            port = self._requested_port or free_port()
            endpoint = f"http://{HOST}:{port}"
            command = [self._python, "-m", "moto.server", "-H", HOST, "-p", str(port)]
            self._process = subprocess.Popen(  # noqa: S603
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent
            )
            try:
                wait_until_ready(endpoint, process=self._process)
            except MotoNotReady as exc:
                last_error = exc
                self.stop()
                continue
            self.endpoint_url = endpoint
            return endpoint
        raise MotoNotReady(f"could not start a moto server: {last_error}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process)

    def wait(self) -> int:
        """Block until the server exits (Ctrl-C stops it); its exit status."""
        assert self._process is not None, "start() first"
        return self._process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
