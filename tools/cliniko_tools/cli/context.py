"""How CLI commands find the stack: environment variables, else the local stack's state file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.settings import EnvironmentSettings, load_settings

DEFAULT_STATE = Path(".local/stack.json")
STATE_ENV = "CLINIKO_CONNECTOR_STACK_STATE"


class UsageError(ConfigurationError):
    """The command line asks for something that can't be done as written; nothing ran (exit status 2)."""

    error_type = "UsageError"


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option, kept working (hidden from --help) with a warning naming the new one."""

    def __init__(self, *args: Any, new: str, **kwargs: Any) -> None:
        self.new = new
        kwargs["help"] = argparse.SUPPRESS
        super().__init__(*args, **kwargs)

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option: str | None = None) -> None:
        print(f"warning: {option} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack-state",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"local stack state file (default ${STATE_ENV} or {DEFAULT_STATE}); ignored when the "
        "stack's environment variables (CONNECTIONS_TABLE, …) are set",
    )


def read_text_arg(source: str, option: str) -> str:
    """The text of a file a person named on the command line (`-`: standard input), or a one-line usage error."""
    if source == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError(f"{option} - reads standard input, but nothing was piped in")
        return sys.stdin.read()
    path = Path(source)
    if path.is_dir():
        raise UsageError(f"{option}: {source} is a folder; give a file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{option}: no file {source}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"{option}: cannot read {source}: {reason}") from None


def parse_json_object(text: str, option: str, hint: str) -> dict[str, Any]:
    """The JSON object a person gave for `option`, or a one-line usage error (where the JSON breaks; `hint`
    follows "must be a JSON object")."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} is not JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object{hint}")
    return value


def confirm(question: str) -> bool | None:
    """Ask on the terminal; True/False from the person, None when nobody can be asked (no terminal on stdin).
    End of input (Ctrl-D) is a no."""
    if sys.stdin is None or not sys.stdin.isatty():
        return None
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if not answer:
        print(file=sys.stderr)
    return answer.strip().lower() in ("y", "yes")


def settings_from[S: EnvironmentSettings](
    args: argparse.Namespace, cls: type[S], function: str = "PollWorkerFunction", **fixed: Any
) -> S:
    """Settings for `cls`. Each variable set in the environment wins; a local stack's state file (`--stack-state`,
    or when the environment names no stack, $CLINIKO_CONNECTOR_STACK_STATE or .local/stack.json) fills the gaps
    with `function`'s environment."""
    explicit = getattr(args, "stack_state", None)
    defaults: dict[str, Any] = {}
    if explicit or "CONNECTIONS_TABLE" not in os.environ:
        path = Path(explicit or os.environ.get(STATE_ENV) or DEFAULT_STATE)
        if explicit and not path.is_file():
            raise ConfigurationError(
                f"no local stack state at {path}: run `cliniko-connector local up` first, or check --stack-state"
            )
        if not path.exists():
            raise ConfigurationError(
                "no stack configured: set CONNECTIONS_TABLE, STATE_TABLE, EVENT_BUS_NAME, … (see docs/deploy.md) "
                "or run `cliniko-connector local up` first"
            )
        from cliniko_tools.local.endpoint import ensure_local_aws_environment, require_loopback_endpoint
        from cliniko_tools.local.stack import StackState

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
        key = read_text_arg(source, "--api-key-file")
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise ConfigurationError("the API key is empty or contains white space")
    return key
