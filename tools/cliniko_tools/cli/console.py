"""`cliniko-connector console [--port N]`: the console web page for the stack the CLI points at, on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cliniko_tools.cli.context import add_stack_options
from cliniko_tools.cli.status import guarded

DEFAULT_PORT = 8765


def _console(args: argparse.Namespace) -> int:
    from cliniko_tools.console.backend import StackBackend
    from cliniko_tools.console.server import ConsoleServer

    backend = StackBackend(args.stack_state, automations_path=args.path)
    try:
        server = ConsoleServer(backend, port=args.port)
    except OSError as exc:
        backend.close()
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; choose another --port", file=sys.stderr)
        return 1
    print(f"console of the {backend.where}; open {server.login_url}")
    print(f"write token (redrive, enable/disable): {server.token}")
    print("it answers on 127.0.0.1 only, to the browser that opened that address; Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
    finally:
        for thing in server.stop():
            print(f"warning: could not remove the events tail's {thing}; delete it by hand", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "console", help="a web page on 127.0.0.1: connections, streams, events, failures and automations"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"default {DEFAULT_PORT}; 0: any free")
    p.add_argument("--path", default="automations", metavar="DIR", help="automations to test (default automations/)")
    add_stack_options(p)
    p.set_defaults(func=guarded(_console))
