"""Entry point: `cliniko-connector GROUP COMMAND ...`. Each group lives in its own module with a `register`.

Every way a command can end is decided here, once: a result on stdout and exit 0, or one line on stderr saying
what went wrong and what to do next, with the exit status docs/cli.md documents. No traceback reaches a person
unless they asked for details with `--verbose`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from cliniko_connector.errors import ConnectorError

# Modules under cliniko_tools.cli that add sub-commands; each defines `register(subparsers)`.
GROUPS = (
    "connections",
    "poll",
    "status",
    "backfill",
    "replay",
    "dlq",
    "events",
    "local",
    "simulator",
    "dev",
    "actions",
    "automations",
    "hooks",
    "completion",
    "console",
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE, what `yes | head -1` gives


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (its default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="cliniko-connector",
        description="Self-hosted Cliniko automation on AWS: connections, polling, actions, local stack.",
    )
    parser.add_argument("--verbose", action="store_true", help="show error details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in GROUPS:
        try:
            module = importlib.import_module(f"cliniko_tools.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"cliniko_tools.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def _quiet_stdout() -> None:
    """The reader of stdout went away (`| head`): send what is still buffered nowhere, so Python's own flush at
    exit doesn't fail again with a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _say(line: str, args: argparse.Namespace | None, detail: BaseException | None = None) -> None:
    print(f"error: {line}", file=sys.stderr)
    if detail is not None and getattr(args, "verbose", False):
        import traceback

        print(f"  type: {type(detail).__name__}", file=sys.stderr)
        traceback.print_exception(detail, file=sys.stderr)


def _first_problem(exc: Exception) -> str:
    """A ValueError as one line; for pydantic's, its first field problem (never the value given)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "value"
            return f"invalid {where}: {first.get('msg', 'not valid')}"
        except (IndexError, TypeError, AttributeError):
            pass
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _known_cause(exc: BaseException) -> Exception | None:
    """The ConnectorError or AWS SDK error a library wrapped (Powertools' idempotency wraps DynamoDB's)."""
    from botocore.exceptions import BotoCoreError, ClientError

    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectorError | BotoCoreError | ClientError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def run(args: argparse.Namespace) -> int:
    """Run the chosen command; every failure a person can cause ends here as one line and its exit status."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cliniko_tools.cli.context import UsageError
    from cliniko_tools.cli.status import report_aws_error, report_error

    try:
        result: int = args.func(args)
        sys.stdout.flush()
        return result
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_CLOSED_PIPE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        _say(str(exc), args)
        return EXIT_USAGE
    except ConnectorError as exc:
        return report_error(exc, args, getattr(args, "connection", None))
    except (BotoCoreError, ClientError) as exc:
        return report_aws_error(exc, args)
    except EOFError as exc:
        _say("standard input ended before an answer was read; give it on the command line (see --help)", args, exc)
        return EXIT_USAGE
    except OSError as exc:
        if type(exc).__module__.startswith("requests"):  # a URL requests can't even try (file://, no host)
            _say(f"could not send the request ({type(exc).__name__}): {_first_problem(exc)}; check the URL", args, exc)
        else:
            where = f" {exc.filename}" if exc.filename else ""
            _say(f"cannot use{where}: {exc.strerror or type(exc).__name__}", args, exc)
        return EXIT_ERROR
    except ValueError as exc:
        _say(_first_problem(exc), args, exc)
        return EXIT_ERROR
    except Exception as exc:  # a bug, or a library's wrapper around one of the errors above
        cause = _known_cause(exc)
        if isinstance(cause, ConnectorError):
            return report_error(cause, args, getattr(args, "connection", None))
        if cause is not None:
            return report_aws_error(cause, args)
        _say(
            f"unexpected {type(exc).__name__}; run again with `cliniko-connector --verbose …` for the details "
            "and report it",
            args,
            exc,
        )
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    # The CLI prints results on stdout: no metric blobs there, and logs (stderr) only when asked.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["__complete"]:  # the shell completion scripts' hidden helper (cli/completion.py)
        from cliniko_tools.cli.completion import run_complete

        return run_complete(words[1:])
    try:
        parser = build_parser()
        args = parser.parse_args(words)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `--help | head`
        _quiet_stdout()
        return EXIT_CLOSED_PIPE
    from cliniko_connector.observability import logger

    # A failure's one line on stderr says what the log would; its details are for --verbose.
    logger.setLevel("INFO" if args.verbose else "ERROR")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
