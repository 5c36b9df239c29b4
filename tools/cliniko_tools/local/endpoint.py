"""The local stack only ever talks to a loopback endpoint: these checks run before any AWS client exists."""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.loopback import is_loopback_url

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
DEFAULT_REGION = "us-east-1"


class NotLocalEndpoint(ConfigurationError):
    error_type = "NotLocalEndpoint"


def require_loopback_endpoint(url: str | None = None, environ: MutableMapping[str, str] | None = None) -> str:
    """The endpoint to use (`url`, else $AWS_ENDPOINT_URL); refuses anything that could reach real AWS."""
    env = os.environ if environ is None else environ
    endpoint = url if url is not None else env.get(ENDPOINT_VARIABLE)
    if not endpoint:
        raise NotLocalEndpoint(
            f"{ENDPOINT_VARIABLE} is not set. The local stack only runs against a moto server on loopback: "
            f"start one with `cliniko-connector local moto` and export {ENDPOINT_VARIABLE}=http://127.0.0.1:PORT"
        )
    if not is_loopback_url(endpoint):
        raise NotLocalEndpoint(
            f"{ENDPOINT_VARIABLE}={endpoint} is not a loopback address (127.0.0.0/8, ::1 or localhost); "
            "the local stack refuses to run anywhere else"
        )
    overrides = sorted(
        name
        for name, value in env.items()
        if name.startswith(f"{ENDPOINT_VARIABLE}_") and value and not is_loopback_url(value)
    )
    if overrides:
        raise NotLocalEndpoint(f"{', '.join(overrides)} point(s) away from loopback; unset them")
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        raise NotLocalEndpoint(f"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true would make boto3 ignore {ENDPOINT_VARIABLE}")
    return endpoint.rstrip("/")


def ensure_local_aws_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """Dummy credentials and a region when none are set, so boto3 never looks for a real profile."""
    env = os.environ if environ is None else environ
    if not env.get("AWS_ACCESS_KEY_ID"):
        env.update(DUMMY_CREDENTIALS)
    if not env.get("AWS_DEFAULT_REGION"):
        env["AWS_DEFAULT_REGION"] = env.get("AWS_REGION") or DEFAULT_REGION
