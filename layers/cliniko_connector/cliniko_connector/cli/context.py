"""How CLI commands find the stack: environment variables, else the local stack's state file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.settings import load_settings

S = TypeVar("S", bound=BaseSettings)
DEFAULT_STATE = Path(".local/stack.json")
STATE_ENV = "CLINIKO_CONNECTOR_STACK_STATE"


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack-state",
        type=Path,
        default=None,
        help=f"local stack state file (default ${STATE_ENV} or {DEFAULT_STATE}); ignored when the "
        "stack's environment variables (CONNECTIONS_TABLE, …) are set",
    )


def settings_from[S: BaseSettings](
    args: argparse.Namespace, cls: type[S], function: str = "PollWorkerFunction", **fixed: Any
) -> S:
    """Settings for `cls`. Each variable set in the environment wins; a local stack's state file (`--stack-state`,
    or when the environment names no stack, $CLINIKO_CONNECTOR_STACK_STATE or .local/stack.json) fills the gaps
    with `function`'s environment."""
    explicit = getattr(args, "stack_state", None)
    defaults: dict[str, Any] = {}
    if explicit or "CONNECTIONS_TABLE" not in os.environ:
        path = Path(explicit or os.environ.get(STATE_ENV) or DEFAULT_STATE)
        if not path.exists():
            raise ConfigurationError(
                "no stack configured: set CONNECTIONS_TABLE, STATE_TABLE, EVENT_BUS_NAME, … (see docs/deploy.md) "
                "or run `cliniko-connector local up` first"
            )
        from cliniko_connector.local.endpoint import ensure_local_aws_environment, require_loopback_endpoint
        from cliniko_connector.local.stack import StackState

        state = StackState.load(path)
        info = state.functions.get(function)
        if info is None:
            raise ConfigurationError(f"the local stack has no function {function}; run `local up` again")
        os.environ.setdefault("AWS_ENDPOINT_URL", state.endpoint_url)
        require_loopback_endpoint()  # a local state file must never lead to a real account
        ensure_local_aws_environment()
        defaults = {name.lower(): value for name, value in info.environment.items() if name not in os.environ}
    return load_settings(cls, **{**defaults, **fixed})


def read_api_key(source: str) -> str:
    """An API key from a file or `-` (standard input): never from argv, where shells and `ps` keep it."""
    if source == "-":
        if sys.stdin.isatty():
            import getpass

            key = getpass.getpass("Cliniko API key: ")
        else:
            key = sys.stdin.readline()
    else:
        try:
            key = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the API key file: {exc.strerror}") from None
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise ConfigurationError("the API key is empty or contains white space")
    return key
