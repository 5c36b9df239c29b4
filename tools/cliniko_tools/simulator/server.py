"""HTTP transport: a threaded stdlib server on loopback that hands each request to the API or control surface."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cliniko_tools.simulator.wire import Request, Response

ApiHandler = Callable[[Request], tuple[Response, str | None]]  # the response and the caller's key
ControlHandler = Callable[[Request], Response]
RequestRecorder = Callable[[Request, str | None, int], None]  # request, key, status (0: dropped)

_SERVER_ERROR = Response(500, b'{"message":"simulator error"}')


class SimHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so ``close`` can cut idle keep-alive sockets and join every thread."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, port: int, api: ApiHandler, control: ControlHandler, record: RequestRecorder) -> None:
        self.api = api
        self.control = control
        self.record = record
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._open_lock:
            self._open.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # clients hanging up mid-request are routine (timeouts, resets)
        super().handle_error(request, client_address)

    def close(self) -> None:
        self.stopping.set()
        self.shutdown()
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ClinikoSimulator/1"
    sys_version = ""
    timeout = 120  # idle keep-alive connections go away eventually
    wbufsize = 64 * 1024  # headers and body leave in one write
    server: SimHTTPServer

    def setup(self) -> None:
        super().setup()
        # Without this, small answers wait on Nagle + delayed ACK (~40 ms per request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        server = self.server
        split = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
            client=str(self.client_address[0]),
        )
        if split.path == "/__sim" or split.path.startswith("/__sim/"):
            self._send(server.control(request))
            return
        key: str | None = None
        try:
            response, key = server.api(request)
        except Exception:
            response = _SERVER_ERROR
        if response.stall > 0 and server.stopping.wait(response.stall):
            response = Response(0, drop=True)
        server.record(request, key, 0 if response.drop else response.status)
        if response.drop:
            self._drop()
            return
        self._send(response)

    def _drop(self) -> None:
        # SO_LINGER 0 makes close() send a RST: the client sees "connection reset by peer".
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)
