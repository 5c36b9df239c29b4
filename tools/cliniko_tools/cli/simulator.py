"""`cliniko-connector simulator`: serve the Cliniko simulator on loopback; and, from another shell, change
what it holds as clinic staff would (`create`, `update`) and which API keys it accepts (`keys`), through its
`/__sim` control surface."""

from __future__ import annotations

import argparse
import errno
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cliniko_connector.errors import ConfigurationError, ConnectorError
from cliniko_connector.loopback import is_loopback_url
from cliniko_tools.cli.context import DEFAULT_STATE, STATE_ENV, read_api_key
from cliniko_tools.local import processes
from cliniko_tools.local.processes import ProcessId, ProcessRecord

if TYPE_CHECKING:
    from cliniko_tools.simulator.simulator import Simulator

DEFAULT_PORT = 8080


class SimulatorUnavailable(ConnectorError):
    error_type = "SimulatorUnavailable"


def _directory() -> Path:
    """Where the running simulator's process record goes: beside the local stack's state file."""
    return Path(os.environ.get(STATE_ENV) or DEFAULT_STATE).parent


def _serve(args: argparse.Namespace) -> int:
    if not args.api_key_file:
        raise ConfigurationError(
            "the simulator needs the API key it will accept: --api-key-file FILE (or - to paste it); "
            "give the connector the same key (`connections add … --api-key-file FILE`)"
        )
    key = read_api_key(args.api_key_file)
    processes.require_port_free(args.port, "the simulator")
    directory = _directory()
    if args.background:
        # The key goes to the detached simulator on its standard input, never on its command line.
        argv = ["simulator", "--port", str(args.port), "--api-key-file", "-"]
        argv += ["--seed", args.seed] if args.seed else []
        argv += ["--strict"] if args.strict else []
        record = processes.start_in_background("simulator", argv, directory, stdin=key + "\n")
        log = directory / "simulator.log"
        print(
            f"Cliniko simulator on {record.url} (pid {record.process.pid}, log {log}); "
            "`cliniko-connector local down` stops it"
        )
        return 0
    from cliniko_tools.simulator.simulator import serve

    written: list[Path] = []

    def ready(sim: Simulator) -> None:
        record = ProcessRecord(name="simulator", process=ProcessId.of(os.getpid()), port=sim.port, url=sim.base_url)
        written.append(processes.write_record(directory, record))

    try:
        serve(port=args.port, api_keys=[key], seed=args.seed, strict=args.strict, on_ready=ready)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise processes.port_in_use(args.port, "the simulator") from None
    finally:
        for path in written:
            path.unlink(missing_ok=True)
    return 0


def _control_url(args: argparse.Namespace) -> str:
    """The simulator's root URL: --url, else the one this folder's local stack started."""
    url: str | None = args.url
    if url is None:
        running = processes.records(_directory(), "simulator")
        if len(running) != 1:
            found = "no simulator" if not running else f"{len(running)} simulators"
            raise SimulatorUnavailable(
                f"{found} running from {_directory()}: give its address, e.g. --url http://127.0.0.1:{DEFAULT_PORT}"
            )
        url = running[0].url or ""
    url = url.rstrip("/").removesuffix("/v1")
    if not is_loopback_url(url):
        raise ConfigurationError(f"--url {url} is not a loopback address; the simulator only serves 127.0.0.1")
    return url


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    url = _control_url(args)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (loopback, checked above)
        f"{url}/__sim/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SimulatorUnavailable(
            f"no simulator answers at {url} ({reason}); start one with `cliniko-connector simulator`"
        ) from None
    answer = json.loads(raw) if raw.strip() else {}
    if status >= 400:
        message = answer.get("message", f"status {status}") if isinstance(answer, dict) else f"status {status}"
        fields = sorted(answer.get("errors") or {}) if isinstance(answer, dict) else []
        detail = f" (fields: {', '.join(fields)})" if fields else ""
        raise ConfigurationError(f"the simulator refused it: {message}{detail}")
    return status, answer


def _record_data(text: str) -> dict[str, Any]:
    """argparse type: a JSON object, or @FILE holding one."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {text[1:]}: {exc.strerror}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('a record is a JSON object, e.g. \'{"first_name": "Ada"}\'')
    return value


def _print_record(args: argparse.Namespace, verb: str, record: dict[str, Any]) -> None:
    if getattr(args, "id_only", False):
        print(record.get("id"))
    elif args.json:
        print(json.dumps(record, indent=2, sort_keys=True))
    else:
        print(f"{verb} {args.resource}/{record.get('id')} at {record.get('updated_at') or record.get('created_at')}")


def _create(args: argparse.Namespace) -> int:
    _, record = _call(args, "POST", f"records/{args.resource}", args.data)
    _print_record(args, "created", record)
    return 0


def _update(args: argparse.Namespace) -> int:
    _, record = _call(args, "PATCH", f"records/{args.resource}/{args.id}", args.data)
    _print_record(args, "updated", record)
    return 0


def _keys(args: argparse.Namespace) -> int:
    if args.keys_command == "list":
        _, answer = _call(args, "GET", "keys")
        for entry in answer["keys"]:
            print(f"key sha256:{entry['key_hash']}  user {entry['user_id']}")
        return 0
    key = read_api_key(args.api_key_file)
    if args.keys_command == "add":
        status, answer = _call(args, "POST", "keys", {"key": key})
        said = "now accepts" if status == 201 else "already accepted"
        print(f"the simulator {said} key sha256:{answer['key_hash']} (user {answer['user_id']})")
    else:
        _, answer = _call(args, "DELETE", "keys", {"key": key})
        print(f"the simulator now answers 401 to key sha256:{answer['key_hash']}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulator", help="serve the Cliniko simulator on 127.0.0.1; change its records and keys from another shell"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    p.add_argument("--api-key-file", metavar="FILE|-", help="the API key it accepts (required to serve)")
    p.add_argument("--seed", help="demo | generate:N | examples")
    p.add_argument(
        "--strict",
        action="store_true",
        help="only what the official spec promises: no parent updated_at bumps, sort ignored, exact `=`",
    )
    p.add_argument(
        "--background", action="store_true", help="start it detached, return once it answers; `local down` stops it"
    )
    p.set_defaults(func=_serve)
    commands = p.add_subparsers(dest="simulator_command", metavar="COMMAND")

    def client(name: str, help: str, parent: Any = commands) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = parent.add_parser(name, help=help)
        command.add_argument(
            "--url", help="the simulator, e.g. http://127.0.0.1:8080 (default: the one started from this folder)"
        )
        return command

    create = client("create", "create a record as clinic staff would, e.g. create patients --data '{...}'")
    create.add_argument("resource", help="e.g. patients, individual_appointments, medical_alerts")
    create.add_argument("--data", type=_record_data, required=True, metavar="JSON|@FILE")
    create.add_argument("--json", action="store_true", help="print the whole record")
    create.add_argument("--id-only", action="store_true", help="print only its id, e.g. id=$(… --id-only)")
    create.set_defaults(func=_create)

    update = client("update", "change a record as clinic staff would, e.g. update patients 1 --data '{...}'")
    update.add_argument("resource")
    update.add_argument("id")
    update.add_argument("--data", type=_record_data, required=True, metavar="JSON|@FILE")
    update.add_argument("--json", action="store_true", help="print the whole record")
    update.set_defaults(func=_update)

    keys = commands.add_parser("keys", help="the API keys it accepts: list, add or revoke one while it runs")
    keys_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    client("list", "hashes of the keys it accepts", keys_commands)
    for action, what in (("add", "accept this key from now on"), ("revoke", "answer 401 to this key from now on")):
        action_parser = client(action, what, keys_commands)
        action_parser.add_argument("--api-key-file", metavar="FILE|-", required=True)
    keys.set_defaults(func=_keys)
