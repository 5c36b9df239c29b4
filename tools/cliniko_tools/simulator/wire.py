"""Requests and answers as the surfaces see them, whatever carries them (the HTTP server only moves bytes)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NOT_FOUND_HTML = (
    b"<!DOCTYPE html>\n<html>\n<head>\n  <title>The page you were looking for doesn't exist (404)</title>\n"
    b'</head>\n<body>\n  <div class="dialog">\n    <h1>The page you were looking for doesn\'t exist.</h1>\n'
    b"    <p>You may have mistyped the address or the page may have moved.</p>\n  </div>\n</body>\n</html>\n"
)


@dataclass
class Request:
    """One HTTP request as the API layer sees it."""

    method: str
    path: str  # without the query string
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes = b""
    client: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is None:
            lowered = name.lower()
            value = next((v for k, v in self.headers.items() if k.lower() == lowered), None)
        return value

    @property
    def base(self) -> str:
        return f"http://{self.header('Host') or '127.0.0.1'}/v1"

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def param(self, name: str) -> str | None:
        values = self.params(name)
        return values[-1] if values else None


@dataclass
class Response:
    """An answer; ``drop`` closes the connection without one, ``stall`` waits first (seconds)."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    stall: float = 0.0


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, headers=headers or {})


def not_found() -> Response:
    return Response(404, _NOT_FOUND_HTML, "text/html; charset=utf-8")


def no_content() -> Response:
    return Response(204, b"", None)
