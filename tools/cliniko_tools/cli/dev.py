"""`cliniko-connector dev ...`: developer commands (generated files)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cliniko_tools.devtools import render

_PACKAGE_ROOT = Path(__file__).resolve().parents[3]


def project_root(start: Path | None = None) -> Path:
    """The checkout to write into: the nearest ancestor of `start` (cwd) holding the layer, else the package's."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "layers" / "cliniko_connector").is_dir():
            return candidate
    return _PACKAGE_ROOT


def _render(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else project_root()
    if args.check:
        differences = render.check(root)
        if differences:
            print("generated files are out of date (run `make template`):", file=sys.stderr)
            for difference in differences:
                print(f"  {difference}", file=sys.stderr)
            return 1
        print("generated files are up to date")
        return 0
    changed = render.write(root)
    for difference in changed:
        print(f"{'deleted' if difference.kind == 'stale' else 'wrote'} {difference.path}")
    if not changed:
        print("generated files are up to date")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dev", help="developer tools: regenerate files derived from the catalog")
    commands = parser.add_subparsers(dest="dev_command", metavar="COMMAND", required=True)
    render_parser = commands.add_parser(
        "render", help="write template.yaml and the sample events under events/ from the catalog"
    )
    render_parser.add_argument("--check", action="store_true", help="write nothing; exit 1 listing what differs")
    render_parser.add_argument("--root", help="project root (default: found from the current directory)")
    render_parser.set_defaults(func=_render)
