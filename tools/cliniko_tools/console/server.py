"""Serving the console on loopback only: `ConsoleServer` binds 127.0.0.1 (never another interface; there is no
option for one), makes a fresh login key and write token, and serves the app in the foreground or in a thread
(tests)."""

from __future__ import annotations

import logging
import secrets
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from cliniko_tools.console.app import create_app
from cliniko_tools.console.backend import ConsoleBackend

LOOPBACK = "127.0.0.1"


def _not_ready(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


class ConsoleServer:
    """The console of `backend` on http://127.0.0.1:`port` (0: a free port); `token` guards its writes."""

    def __init__(self, backend: ConsoleBackend, port: int = 0, token: str | None = None) -> None:
        self.backend = backend
        self.token = token or secrets.token_urlsafe(24)
        self.login_key = secrets.token_urlsafe(24)
        # Bound first, so the app knows the port its Host and Origin checks expect.
        self._server: BaseWSGIServer = make_server(LOOPBACK, port, _not_ready, threaded=True)
        self.port = self._server.server_port
        self.app = create_app(backend, self.token, self.port, self.login_key)
        self._server.app = self.app
        self._thread: threading.Thread | None = None
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on the terminal

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    @property
    def login_url(self) -> str:
        """The address to open: it logs the browser in (a session cookie) and shows the connections."""
        return f"{self.url}login?key={self.login_key}"

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="console", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        """Stop serving and release what the backend made; what could not be removed."""
        if self._thread is not None:  # shutdown() waits for a serve_forever loop: only when start() ran one
            self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return self.backend.close()

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
