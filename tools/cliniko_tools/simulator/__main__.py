"""``python -m cliniko_tools.simulator --port 8765 --api-key KEY --seed demo``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cliniko_tools.simulator.simulator import serve


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cliniko_tools.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", action="append", dest="api_keys", default=[], help="repeatable")
    parser.add_argument("--api-key-file", help="file with one API key per line")
    parser.add_argument("--seed", default=None, help='"demo", "generate:N" or "examples"')
    parser.add_argument("--strict", action="store_true", help="every undocumented convenience off")
    args = parser.parse_args(argv)
    keys = list(args.api_keys)
    if args.api_key_file:
        with open(args.api_key_file, encoding="utf-8") as handle:
            keys += [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    if not keys:
        parser.error("give at least one --api-key or --api-key-file")
    serve(args.port, keys, args.seed, strict=args.strict)


if __name__ == "__main__":
    main()
