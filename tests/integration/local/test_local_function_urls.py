"""Function URLs on the local stack: the hook function gets a loopback URL that `local up` keeps when run again,
and is served there over real HTTP as Lambda's function URL would (payload 2.0 in, statusCode/body out)."""

from __future__ import annotations

import json

import pytest
import requests

from cliniko_tools.local.endpoint import is_loopback_url
from cliniko_tools.local.function_url import serving_function_urls
from cliniko_tools.local.runner import LocalRunner
from tests.integration.local.local_stack_support import Project

pytestmark = pytest.mark.integration


def test_the_hook_function_gets_a_loopback_url_that_local_up_keeps(project: Project) -> None:
    first = project.up()
    url = first.functions["HookFunction"].url
    assert url is not None and is_loopback_url(url) and url.endswith("/")
    assert first.functions["HookFunction"].environment["HOOKS_URL"] == url  # what `hooks show` reports
    assert all(f.url is None for name, f in first.functions.items() if name != "HookFunction")
    assert project.up().functions["HookFunction"].url == url


def test_a_function_url_is_served_over_http_as_lambda_would(project: Project) -> None:
    state = project.up()
    runner = LocalRunner(state, project.root)
    with serving_function_urls(runner) as urls:
        reply = requests.post(
            urls["HookFunction"] + "hooks/signup",
            data=b'{"a": 1}',
            headers={"Content-Type": "application/json", "X-Signature": "abc"},
            timeout=10,
        )
    assert reply.status_code == 201
    assert reply.json() == {
        "rawPath": "/hooks/signup",
        "body": json.dumps({"a": 1}),
        "isBase64Encoded": False,
        "method": "POST",
        "signature": "abc",
    }
