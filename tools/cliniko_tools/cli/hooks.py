"""`cliniko-connector hooks …`: inbound hooks, so other apps (form and booking tools) can request actions."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import Field

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.adapters.dynamodb import DynamoHookLedger, DynamoHookStore
from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import ConfigurationError, did_you_mean
from cliniko_connector.hookmodels import PRESETS, Hook, HookAuth, SignatureScheme
from cliniko_connector.settings import PollerSettings
from cliniko_connector.wiring import build_runtime
from cliniko_tools.cli.context import UsageError, add_stack_options, confirm, read_text_arg, settings_from
from cliniko_tools.cli.output import emit_json, table
from cliniko_tools.hooks_admin import HookAdmin, hook_url, load_map


class HookCliSettings(PollerSettings):
    """The stack as `hooks` commands see it; HOOKS_URL is the CliEnvironment's (locally: the hook function's)."""

    hooks_url: str | None = Field(default=None, min_length=1)


def _settings(args: argparse.Namespace) -> HookCliSettings:
    return settings_from(args, HookCliSettings, function="HookFunction")


def _admin(settings: HookCliSettings, *, writes_secrets: bool = False) -> HookAdmin:
    if writes_secrets and settings.stack_name is None:
        raise ConfigurationError(
            "STACK_NAME is not set: export the stack's CliEnvironment output again (docs/deploy.md); it names the "
            "stack that owns the hooks' secrets"
        )
    runtime = build_runtime(settings)
    client = boto3_client("dynamodb")
    return HookAdmin(
        DynamoHookStore(settings.state_table, client=client),
        DynamoHookLedger(settings.state_table, client=client),
        runtime.secrets,
        runtime.connections,
    )


def _secret_from(args: argparse.Namespace) -> str | None:
    """The caller's own secret (some tools make it themselves), from a file or stdin: never from argv."""
    if not args.secret_file:
        return None
    value = read_text_arg(args.secret_file, "--secret-file").strip()
    if len(value) < 16 or any(c.isspace() for c in value):
        raise UsageError("--secret-file: a secret is at least 16 characters, without white space")
    return value


def _auth(args: argparse.Namespace) -> HookAuth:
    if args.auth == "bearer":
        if args.preset or args.header or args.encoding or args.prefix or args.timestamp_header:
            raise UsageError("--preset, --header, --encoding, --prefix and --timestamp-header are for --auth hmac")
        return HookAuth(type="bearer")
    base = PRESETS[args.preset or "generic"]
    changes = {
        "header": args.header,
        "encoding": args.encoding,
        "prefix": args.prefix,
        "timestamp_header": args.timestamp_header,
    }
    scheme = SignatureScheme.model_validate(base.model_dump() | {k: v for k, v in changes.items() if v is not None})
    custom = scheme != base
    return HookAuth(type="hmac", preset=None if custom else (args.preset or "generic"), signature=scheme)


def describe(hook: Hook, base_url: str | None) -> dict[str, Any]:
    """What `show` and `list --json` print: never the secret, nor its id."""
    auth = hook.auth
    described: dict[str, Any] = {
        "name": hook.name,
        "url": hook_url(base_url, hook.name),
        "connection": hook.connection_id,
        "action": hook.action,
        "auth": auth.type,
    }
    if auth.signature is not None:
        described["preset"] = auth.preset or "custom"
        described["signature"] = auth.signature.model_dump()
    else:
        described["header"] = f"{auth.header}: Bearer <token>"
    described |= {
        "map": hook.map.model_dump(exclude_none=True),
        "max_body_bytes": hook.max_body_bytes,
        "rate_limit_per_minute": hook.rate_limit_per_minute,
        "created_at": hook.created_at,
    }
    return described


def _add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    action = args.action_name
    if action not in ACTIONS:
        raise UsageError(f"no action {action!r}{did_you_mean(action, ACTIONS)} (see `cliniko-connector actions list`)")
    hook_map = load_map(read_text_arg(args.map, "--map"), args.map, args.action_name)
    admin = _admin(settings, writes_secrets=True)
    hook, secret = admin.add(
        args.hook,
        args.connection,
        args.action_name,
        hook_map,
        _auth(args),
        secret=_secret_from(args),
        max_body_bytes=args.max_body,
        rate_limit_per_minute=args.rate_limit,
    )
    url = hook_url(settings.hooks_url, hook.name)
    secret_name = "token" if hook.auth.type == "bearer" else "secret"
    connection = admin.connections.get(hook.connection_id)
    if args.json:
        emit_json(describe(hook, settings.hooks_url) | {secret_name: secret})
    else:
        print(f"hook {hook.name}: POST {url or '(the stack has no HOOKS_URL)'}")
        print(f"{secret_name}: {secret}")
        print(f"  shown once: give it to the calling app now (`hooks rotate {hook.name}` makes a new one)")
        if hook.auth.signature is not None:
            scheme = hook.auth.signature
            print(f"  signature: HMAC-SHA256 in {scheme.header} ({hook.auth.preset or 'custom'} scheme)")
    if hook.action not in connection.allowed_actions:
        print(
            f"warning: {hook.connection_id} does not allow {hook.action} yet: requests get 403 until "
            f"`cliniko-connector connections allow {hook.connection_id} {hook.action}`",
            file=sys.stderr,
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    hooks = _admin(settings).hooks.list()
    if args.json:
        emit_json([describe(h, settings.hooks_url) for h in hooks])
        return 0
    rows = [
        (h.name, h.connection_id, h.action, h.auth.preset or h.auth.type, hook_url(settings.hooks_url, h.name) or "-")
        for h in hooks
    ]
    print(table(rows, ["HOOK", "CONNECTION", "ACTION", "AUTH", "URL"]))
    return 0


def _show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    described = describe(_admin(settings).hooks.get(args.hook), settings.hooks_url)
    if args.json:
        emit_json(described)
        return 0
    for key, value in described.items():
        print(f"{key:22} {value}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    admin = _admin(_settings(args), writes_secrets=True)
    hook = admin.hooks.get(args.hook)
    secret = admin.rotate(args.hook, _secret_from(args))
    name = "token" if hook.auth.type == "bearer" else "secret"
    if args.json:
        emit_json({"name": hook.name, name: secret})
    else:
        print(f"{name}: {secret}")
        from cliniko_connector.adapters.secrets import DEFAULT_CACHE_TTL_SECONDS

        minutes = int(DEFAULT_CACHE_TTL_SECONDS // 60)
        print("  shown once; switch the caller over now: the hook function reads the new secret when a request fails")
        print(f"  its check, and a warm one may accept the old secret for up to {minutes} minutes (its secret cache)")
    return 0


def _remove(args: argparse.Namespace) -> int:
    if not args.yes:
        answer = confirm(f"remove hook {args.hook} and its secret? Its callers get 401 from now on")
        if answer is None:
            raise UsageError(f"nobody to ask: pass --yes to remove {args.hook} without a prompt")
        if not answer:
            print("kept")
            return 1
    _admin(_settings(args), writes_secrets=True).remove(args.hook)
    print(f"hook {args.hook}: removed")
    return 0


def _log(args: argparse.Namespace) -> int:
    entries = _admin(_settings(args)).log(args.hook, args.limit)
    if args.json:
        emit_json([e.model_dump() for e in entries])
        return 0
    print(
        table(
            [(e.at, e.request_id, e.status, e.error or "") for e in entries], ["TIME", "REQUEST ID", "STATUS", "ERROR"]
        )
    )
    return 0


def register(subparsers: Any) -> None:
    hooks = subparsers.add_parser("hooks", help="inbound hooks: let other apps request actions over HTTPS")
    sub = hooks.add_subparsers(dest="action_command", required=True)

    def cmd(name: str, func: Any, help_: str, *, named: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_)
        if named:
            p.add_argument("hook", metavar="NAME")
        p.add_argument("--json", action="store_true")
        add_stack_options(p)
        p.set_defaults(func=func)
        return p

    add = cmd("add", _add, "create a hook: one action on one connection, its map and its secret")
    add.add_argument("--connection", required=True)
    add.add_argument("--action", dest="action_name", required=True, help="a catalog action (`actions list`)")
    add.add_argument(
        "--map", required=True, metavar="FILE", help="YAML: `input` (paths into the body), `idempotency_key`"
    )
    add.add_argument("--auth", choices=["hmac", "bearer"], default="hmac")
    add.add_argument("--preset", choices=sorted(PRESETS), help="the calling tool's signature scheme (generic)")
    add.add_argument("--header", help="header holding the signature (the preset's)")
    add.add_argument("--encoding", choices=["hex", "base64"], help="signature encoding (the preset's)")
    add.add_argument("--prefix", help="text before the signature, e.g. sha256= (the preset's)")
    add.add_argument("--timestamp-header", help="header holding the timestamp signed as `{timestamp}.{body}`")
    add.add_argument("--secret-file", metavar="FILE|-", help="use the calling tool's own secret (default: a new one)")
    add.add_argument("--max-body", type=int, metavar="BYTES", help="largest body accepted (65536)")
    add.add_argument("--rate-limit", type=int, metavar="PER_MINUTE", help="requests per minute (60)")
    cmd("list", _list, "every hook, with its URL", named=False)
    cmd("show", _show, "one hook: URL, connection, action, auth scheme, map, limits")
    rot = cmd("rotate", _rotate, "replace the hook's secret (prints the new one, once)")
    rot.add_argument("--secret-file", metavar="FILE|-", help="use the calling tool's own secret")
    rm = cmd("remove", _remove, "delete the hook and schedule its secret's deletion")
    rm.add_argument("--yes", action="store_true", help="don't ask")
    log = cmd("log", _log, "recent requests: time, request id, status, error type (never their data)")
    log.add_argument("--limit", type=int, default=20)
