"""Validate live simulator traffic against the official Cliniko OpenAPI spec with openapi-core.

Spec adjustments (each a documented defect of the 2023 spec, see CONFORMANCE.md):
- spec validation is off: a time-zone enum repeats values, which strict validation rejects;
- the email ``pattern`` only allows upper-case letters, so it is removed;
- enums on properties marked ``nullable`` get ``null`` added (the live API sends null for unset enums).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from openapi_core import Config, OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "cliniko-openapi.json"
SPEC_HOST = "https://api.au1.cliniko.com"
UPPERCASE_EMAIL_PATTERN = "^[A-Z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Z0-9.-]+\\.[A-Z]{2,63}$"


def patched_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("pattern") == UPPERCASE_EMAIL_PATTERN:
                del node["pattern"]
            if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return spec


def load_openapi() -> OpenAPI:
    return OpenAPI.from_dict(patched_spec(), config=Config(spec_validator_cls=None))


class ContractClient:
    """Sends real HTTP requests and checks each request/response pair against the spec.

    Statuses the spec doesn't describe (401/403/404/429) aren't validated here; tests assert their
    shape directly.
    """

    def __init__(self, base_url: str, session: requests.Session, openapi: OpenAPI) -> None:
        self.base_url = base_url
        self.session = session
        self.openapi = openapi

    def call(
        self, method: str, path: str, *, json_body: Any = None, params: Any = None, validate: bool = True
    ) -> requests.Response:
        response = self.session.request(method, self.base_url + path, json=json_body, params=params)
        if validate:
            self.check(response)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, json_body=json_body, **kwargs)

    def patch(self, path: str, json_body: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, json_body=json_body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def check(self, response: requests.Response) -> None:
        if response.status_code not in (200, 201, 204, 422):
            return
        prepared = response.request
        split = urlsplit(prepared.url or "")
        args: dict[str, list[str]] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            args.setdefault(key, []).append(value)
        body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
        request = MockRequest(
            SPEC_HOST,
            prepared.method or "GET",
            split.path,
            args=args,
            data=body or None,
            headers=dict(prepared.headers),
        )
        mock_response = MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=response.headers.get("Content-Type", "application/json").split(";")[0],
        )
        if response.status_code != 422:
            self.openapi.validate_request(request)
        try:
            self.openapi.validate_response(request, mock_response)
        except ResponseNotFound:
            # Some operations (e.g. cancel) document no 422; Cliniko still answers with its usual body.
            if response.status_code != 422:
                raise
            assert_validation_error_shape(response.json())


def assert_validation_error_shape(body: Any) -> None:
    """components.responses.ValidationError: a message, optionally field -> single string."""
    assert isinstance(body, dict)
    assert isinstance(body.get("message"), str)
    assert set(body) <= {"message", "errors"}
    errors = body.get("errors", {})
    assert isinstance(errors, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in errors.items())
