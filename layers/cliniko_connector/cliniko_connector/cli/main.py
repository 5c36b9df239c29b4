"""Entry point: `cliniko-connector GROUP COMMAND ...`. Each group lives in its own module with a `register`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from cliniko_connector.errors import ConnectorError

# Modules under cliniko_connector.cli that add sub-commands; each defines `register(subparsers)`.
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
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cliniko-connector",
        description="Self-hosted Cliniko automation on AWS: connections, polling, actions, local stack.",
    )
    parser.add_argument("--verbose", action="store_true", help="show error details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in GROUPS:
        try:
            module = importlib.import_module(f"cliniko_connector.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"cliniko_connector.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The CLI prints results on stdout: no metric blobs there, and logs (stderr) only when asked.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    parser = build_parser()
    args = parser.parse_args(argv)
    from cliniko_connector.observability import logger

    logger.setLevel("INFO" if args.verbose else "WARNING")
    try:
        result: int = args.func(args)
        return result
    except ConnectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.verbose:
            print(f"  type: {exc.error_type}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
