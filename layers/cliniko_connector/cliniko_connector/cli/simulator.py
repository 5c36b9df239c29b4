"""`cliniko-connector simulator`: serve the Cliniko simulator on loopback."""

from __future__ import annotations

import argparse
from typing import Any

from cliniko_connector.cli.context import read_api_key


def _serve(args: argparse.Namespace) -> int:
    from cliniko_connector.simulator.server import serve

    keys = [read_api_key(args.api_key_file)] if args.api_key_file else []
    serve(port=args.port, api_keys=keys, seed=args.seed, strict=args.strict)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("simulator", help="serve the Cliniko simulator on 127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--api-key-file", metavar="FILE|-", help="the key it accepts")
    p.add_argument("--seed", help="demo | generate:N | examples")
    p.add_argument(
        "--strict",
        action="store_true",
        help="only what the official spec promises: no parent updated_at bumps, sort ignored, exact `=`",
    )
    p.set_defaults(func=_serve)
