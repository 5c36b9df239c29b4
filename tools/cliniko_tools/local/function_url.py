"""Function URLs on the local stack: each function with a `FunctionUrlConfig` answers HTTP on its loopback URL
(`FunctionInfo.url`), as Lambda's function URL would: the request becomes a payload-2.0 event, the handler's
answer the response. Requests run one at a time through the runner, which swaps each function's environment in
and out of `os.environ`."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cliniko_tools.local.endpoint import require_loopback_endpoint
from cliniko_tools.local.runner import HandlerError, LocalRunner

# Lambda's own limit on a function URL request's body (6 MB, synchronous invocation payload).
MAX_REQUEST_BYTES = 6 * 1024 * 1024


def function_url_event(
    method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
) -> dict[str, Any]:
    """The event Lambda gives a function behind a function URL (payload format 2.0)."""
    parts = urlsplit(target)
    text_like = not body or headers.get("content-type", "").startswith(("application/json", "text/"))
    try:
        text = body.decode("utf-8") if text_like else None
    except UnicodeDecodeError:
        text = None
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": {
            "http": {"method": method, "path": parts.path, "protocol": "HTTP/1.1", "sourceIp": client_ip},
            "requestId": str(uuid.uuid4()),
            "timeEpoch": int(now * 1000),
        },
        "body": text if text is not None else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": text is None,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _FunctionUrlServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # no access log: paths and headers stay off the terminal

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._reply(413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}')
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        event = function_url_event(self.command, self.path, headers, body, self.client_address[0])
        try:
            result = self.server.invoke(event)
        except HandlerError:
            # Lambda answers a function error with 502 and no detail.
            self._reply(502, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
            return
        if not isinstance(result, dict) or "statusCode" not in result:
            self._reply(200, {"content-type": "application/json"}, json_bytes(result))
            return
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
        self._reply(int(result["statusCode"]), {str(k): str(v) for k, v in (result.get("headers") or {}).items()}, data)

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


class _FunctionUrlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], runner: LocalRunner, function_id: str) -> None:
        super().__init__(address, _Handler)
        self.runner = runner
        self.function_id = function_id

    def invoke(self, event: dict[str, Any]) -> Any:
        return self.runner.invoke(self.function_id, event)


@contextlib.contextmanager
def serving_function_urls(runner: LocalRunner) -> Iterator[dict[str, str]]:
    """Serve every function URL of the runner's stack while the block runs; yields function id → URL."""
    servers: list[_FunctionUrlServer] = []
    urls: dict[str, str] = {}
    try:
        for function_id, function in runner.state.functions.items():
            if not function.url:
                continue
            require_loopback_endpoint(function.url)
            parts = urlsplit(function.url)
            server = _FunctionUrlServer((parts.hostname or "127.0.0.1", parts.port or 80), runner, function_id)
            threading.Thread(target=server.serve_forever, name=f"url-{function_id}", daemon=True).start()
            servers.append(server)
            urls[function_id] = function.url
        yield urls
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
