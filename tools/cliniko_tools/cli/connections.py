"""`cliniko-connector connections …` and `triggers …`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cliniko_connector.catalog.triggers import STREAMS, TRIGGERS
from cliniko_connector.errors import ConfigurationError, did_you_mean
from cliniko_connector.models import Connection, ConnectionStatus, StartPoint
from cliniko_connector.settings import PollerSettings
from cliniko_connector.timeutil import parse_ts
from cliniko_connector.usecases.connections import ConnectionAdmin
from cliniko_connector.usecases.status import allowed_by_kind
from cliniko_connector.wiring import build_runtime
from cliniko_tools.cli.context import UsageError, add_stack_options, confirm, read_api_key, settings_from
from cliniko_tools.cli.output import TERMINAL_WIDTH, emit_json, plural, table
from cliniko_tools.devtools.events_doc import sample_trigger_event, trigger_schema


def admin(
    args: argparse.Namespace, settings: PollerSettings | None = None, *, writes_secrets: bool = False
) -> ConnectionAdmin:
    settings = settings or settings_from(args, PollerSettings)
    if writes_secrets and settings.stack_name is None:
        # Without it a secret would be created untagged, outside the stack's prefix: its functions couldn't read it.
        raise ConfigurationError(
            "STACK_NAME is not set: export the stack's CliEnvironment output again (docs/deploy.md); it names the "
            "stack that owns the API-key secrets (and SECRETS_PREFIX where they live)"
        )
    runtime = build_runtime(settings)
    return ConnectionAdmin(runtime.connections, runtime.secrets, runtime.state, runtime.api_for_key)


def start_point(value: str | None) -> StartPoint | None:
    if value is None:
        return None
    if value in ("now", "beginning"):
        return StartPoint(kind=value)
    return StartPoint(kind="timestamp", timestamp=parse_ts(value))


def _add(args: argparse.Namespace) -> int:
    key = read_api_key(args.api_key_file)
    connection, _user = admin(args, writes_secrets=True).add(args.name, key, base_url=args.base_url, **_options(args))
    if args.json:
        emit_json({"id": connection.id, "shard": connection.shard, "account_user": connection.account_user})
    else:
        print(
            f"connected {connection.id}: shard {connection.shard}, key of {connection.account_user or 'unknown user'}"
        )
        print(f"next: cliniko-connector triggers enable {connection.id} patient.created …")
        print(f"      cliniko-connector connections allow {connection.id} ACTION …  (no action runs until allowed)")
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "poll_interval_seconds": args.poll_interval,
        "payload_mode": args.payload_mode,
        "rate_limit_per_minute": args.rate_limit,
    }


def _set(args: argparse.Namespace) -> int:
    c = admin(args).configure(args.connection, **_options(args))
    print(
        f"{c.id}: polls every {c.poll_interval_seconds} s, payload {c.payload_mode or 'the stack default'}, "
        f"{c.rate_limit_per_minute} requests/min"
    )
    return 0


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--poll-interval", type=int, metavar="SECONDS", help="60 by default; under 60 is fast mode")
    p.add_argument("--payload-mode", choices=["full", "minimal"], help="full: events carry the record")
    p.add_argument("--rate-limit", type=int, metavar="PER_MINUTE", help="this key's Cliniko budget (200)")


def _list(args: argparse.Namespace) -> int:
    rows = admin(args).connections.list()
    if args.json:
        emit_json([c.model_dump(mode="json", exclude={"hash_salt", "secret_id"}) for c in rows])
    else:
        print(
            table(
                [(c.id, c.name, c.shard, c.status.value, len(c.triggers)) for c in rows],
                ["ID", "NAME", "SHARD", "STATUS", "TRIGGERS"],
            )
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    settings = settings_from(args, PollerSettings)
    c = admin(args, settings).connections.get(args.connection)
    data: dict[str, Any] = c.model_dump(mode="json", exclude={"hash_salt", "secret_id", "allowed_actions"})
    # The mode its events are published in: its own, else the stack's default.
    data["payload_mode"] = (c.payload_mode or settings.default_payload_mode).value
    data["payload_mode_is_stack_default"] = c.payload_mode is None
    allowed = allowed_by_kind(c)
    data["allowed_reads"], data["allowed_writes"] = allowed["reads"], allowed["writes"]
    if args.json:
        emit_json(data)
    else:
        for k, v in data.items():
            if k == "payload_mode_is_stack_default":
                continue
            if k == "payload_mode" and c.payload_mode is None:
                v = f"{v} (stack default)"
            print(f"{k:24} {(', '.join(v) or 'none') if isinstance(v, list) else v}")
    return 0


def _allow(args: argparse.Namespace) -> int:
    c = admin(args).allow_actions(args.connection, args.actions)
    _print_allowed(c)
    return 0


def _disallow(args: argparse.Namespace) -> int:
    c = admin(args).disallow_actions(args.connection, args.actions)
    _print_allowed(c)
    return 0


def _print_allowed(c: Connection) -> None:
    allowed = allowed_by_kind(c)
    print(f"{c.id} allows reads: {', '.join(allowed['reads']) or 'none'}")
    print(f"{c.id} allows writes: {', '.join(allowed['writes']) or 'none'}")


def _test(args: argparse.Namespace) -> int:
    a = admin(args)
    user = a.test(args.connection)
    print(f"ok: {args.connection} answers as {' '.join(filter(None, [user.get('first_name'), user.get('last_name')]))}")
    return 0


def _status(status: ConnectionStatus) -> Any:
    def run(args: argparse.Namespace) -> int:
        admin(args).set_status(args.connection, status)
        print(f"{args.connection}: {status.value}")
        return 0

    return run


def _rotate(args: argparse.Namespace) -> int:
    admin(args, writes_secrets=True).rotate_key(args.connection, read_api_key(args.api_key_file))
    print(f"{args.connection}: key rotated")
    return 0


def _remove(args: argparse.Namespace) -> int:
    if not args.yes:
        answer = confirm(f"remove {args.connection}, its secret and its stream state?")
        if answer is None:
            raise UsageError(f"nobody to ask: pass --yes to remove {args.connection} without a prompt")
        if not answer:
            print("kept")
            return 1
    admin(args, writes_secrets=True).remove(args.connection)
    print(f"{args.connection}: removed")
    return 0


def _triggers_list(args: argparse.Namespace) -> int:
    enabled: set[str] = set()
    if args.connection:
        enabled = set(admin(args).connections.get(args.connection).triggers)
    # Grouped by resource (one stream each), the streams in alphabetical order.
    streams = sorted(STREAMS, key=lambda s: s.resource)
    rows = [(t.name, t.detail_type, s.resource, "on" if t.name in enabled else "") for s in streams for t in s.triggers]
    if args.json:
        emit_json([{"trigger": r[0], "detail_type": r[1], "resource": r[2], "enabled": r[3] == "on"} for r in rows])
    else:
        print(table(rows, ["TRIGGER", "DETAIL-TYPE", "RESOURCE", "ENABLED"]))
    return 0


def trigger_names(names: list[str]) -> list[str]:
    """Trigger names from the command line (`all` for every one), checked against the catalog before anything
    runs: an unknown one is a usage error that suggests the name meant."""
    if names == ["all"]:
        return list(TRIGGERS)
    unknown = [n for n in names if n not in TRIGGERS]
    if unknown:
        raise UsageError(
            f"unknown triggers: {', '.join(unknown)}{did_you_mean(unknown[0], TRIGGERS)} "
            "(see `cliniko-connector triggers list`)"
        )
    return names


def _triggers_on(c: Connection) -> str:
    return f"{c.id}: {plural(len(c.triggers), 'trigger')} on"


def _triggers_enable(args: argparse.Namespace) -> int:
    c = admin(args).enable_triggers(args.connection, trigger_names(args.triggers), start_point(args.start))
    print(_triggers_on(c))
    return 0


def _triggers_disable(args: argparse.Namespace) -> int:
    c = admin(args).disable_triggers(args.connection, trigger_names(args.triggers))
    print(_triggers_on(c))
    return 0


def _kind(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    """A JSON schema type in a word: `string`, `full|minimal` for an enum, `patient.updated` for a constant."""
    if "$ref" in spec:
        spec = schema.get("$defs", {}).get(str(spec["$ref"]).rsplit("/", 1)[-1], {})
    if "const" in spec:
        return str(spec["const"])
    if "enum" in spec:
        return "|".join(str(v) for v in spec["enum"])
    return str(spec.get("type", "any"))


def _triggers_show(args: argparse.Namespace) -> int:
    trigger = TRIGGERS.get(args.trigger)
    if trigger is None:
        raise UsageError(
            f"no trigger {args.trigger!r}{did_you_mean(args.trigger, TRIGGERS)} (see `cliniko-connector triggers list`)"
        )
    sample = sample_trigger_event(trigger)
    if args.json:
        emit_json(
            {
                "trigger": trigger.name,
                "detail_type": trigger.detail_type,
                "resource": trigger.resource,
                "description": trigger.description,
                "detail_schema": trigger_schema(trigger),
                "sample_event": sample,
            }
        )
        return 0
    print(f"{trigger.name}: {trigger.description}")
    print(f"  detail-type: {trigger.detail_type}")
    print(f"  resource:    {trigger.resource}")
    print("  detail fields (? = may be null or absent):")
    schema = trigger_schema(trigger)
    required = set(schema.get("required", []))
    rows = []
    for name, spec in schema.get("properties", {}).items():
        kinds = [_kind(schema, s) for s in spec.get("anyOf", [spec])]
        kind = "/".join(k for k in kinds if k != "null")
        optional = name not in required or "null" in kinds
        about = str(spec.get("description") or "")
        rows.append((f"{name}{'?' if optional else ''}", kind, about))
    fields = table(rows, ["FIELD", "TYPE", "MEANING"], max_width=TERMINAL_WIDTH - 4)
    print("\n".join("    " + line for line in fields.splitlines()))
    print("  sample event:")
    # One space a level: realistic records nest links deep, and a line must fit 100 columns.
    print("\n".join("    " + line for line in json.dumps(sample, indent=1).splitlines()))
    return 0


def register(subparsers: Any) -> None:
    conn = subparsers.add_parser("connections", help="connect Cliniko accounts")
    conn_sub = conn.add_subparsers(dest="action", required=True)

    def cmd(name: str, func: Any, help_: str, *, connection: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = conn_sub.add_parser(name, help=help_)
        if connection:
            p.add_argument("connection")
        p.add_argument("--json", action="store_true")
        add_stack_options(p)
        p.set_defaults(func=func)
        return p

    add = cmd("add", _add, "check a key against Cliniko and store the connection", connection=False)
    add.add_argument("name")
    add.add_argument("--api-key-file", required=True, metavar="FILE|-", help="file holding the key, or - for stdin")
    add.add_argument(
        "--base-url",
        help="the simulator's URL, /v1 included, instead of the shard's (only where the stack allows it)",
    )
    _add_options(add)
    _add_options(cmd("set", _set, "change poll interval, payload mode or rate limit"))
    cmd("list", _list, "list connections", connection=False)
    cmd("show", _show, "show one connection")
    cmd("test", _test, "check the stored key still works")
    cmd("enable", _status(ConnectionStatus.ACTIVE), "resume polling and actions")
    cmd("disable", _status(ConnectionStatus.DISABLED), "pause polling and actions")
    allow = cmd("allow", _allow, "let action requests run these actions on the connection (none by default)")
    allow.add_argument("actions", nargs="+", metavar="ACTION", help="catalog action names (`actions list`)")
    disallow = cmd("disallow", _disallow, "stop action requests running these actions on the connection")
    disallow.add_argument("actions", nargs="+", metavar="ACTION")
    rot = cmd("rotate-key", _rotate, "replace the API key (checked first)")
    rot.add_argument("--api-key-file", required=True, metavar="FILE|-")
    rm = cmd("remove", _remove, "delete the connection, its secret and its stream state")
    rm.add_argument("--yes", action="store_true", help="don't ask")

    trig = subparsers.add_parser("triggers", help="switch triggers on and off per connection")
    trig_sub = trig.add_subparsers(dest="action", required=True)
    tl = trig_sub.add_parser("list", help="every trigger, and which are on for a connection")
    tl.add_argument("connection", nargs="?")
    tl.add_argument("--json", action="store_true")
    add_stack_options(tl)
    tl.set_defaults(func=_triggers_list)
    te = trig_sub.add_parser("enable", help="switch triggers on (`all` for every one)")
    te.add_argument("connection")
    te.add_argument("triggers", nargs="+")
    te.add_argument("--from", dest="start", metavar="now|TIMESTAMP|beginning", help="where a new stream starts")
    add_stack_options(te)
    te.set_defaults(func=_triggers_enable)
    td = trig_sub.add_parser("disable", help="switch triggers off (their place is kept)")
    td.add_argument("connection")
    td.add_argument("triggers", nargs="+")
    add_stack_options(td)
    td.set_defaults(func=_triggers_disable)
    ts = trig_sub.add_parser("show", help="one trigger: its detail fields and a sample event")
    ts.add_argument("trigger")
    ts.add_argument("--json", action="store_true")
    ts.set_defaults(func=_triggers_show)
    from cliniko_tools.cli.automations import register_sample

    register_sample(trig_sub)
