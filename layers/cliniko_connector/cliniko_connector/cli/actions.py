"""`cliniko-connector actions list|run`: the action catalog, and one action through its Lambda's code."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.cli.context import add_stack_options, settings_from
from cliniko_connector.cli.output import emit_json, table
from cliniko_connector.errors import ConfigurationError, InputValidationError
from cliniko_connector.eventmodels import ActionRequest
from cliniko_connector.settings import ActionSettings
from cliniko_connector.wiring import action_app


def _fields(name: str) -> list[str]:
    model = ACTIONS[name].input_model
    return [f"{info.alias or f}{'' if info.is_required() else '?'}" for f, info in model.model_fields.items()]


def _list(args: argparse.Namespace) -> int:
    if args.json:
        emit_json(
            {
                n: {"description": a.description, "input_schema": a.input_model.model_json_schema()}
                for n, a in ACTIONS.items()
            }
        )
    else:
        print(
            table(
                [(n, ", ".join(_fields(n)), a.description) for n, a in ACTIONS.items()],
                ["ACTION", "INPUT (? = optional)", "WHAT IT DOES"],
            )
        )
    return 0


def _parse_input(raw: str) -> dict[str, Any]:
    text = Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputValidationError(f"--input is not JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise InputValidationError("--input must be a JSON object")
    return value


def _run(args: argparse.Namespace) -> int:
    action = ACTIONS.get(args.action_name)
    if action is None:
        raise ConfigurationError(f"no action {args.action_name!r} (see `actions list`)")
    settings = settings_from(
        args, ActionSettings, function=f"{action.function_suffix}ActionFunction", action_name=action.name
    )
    request = ActionRequest(
        connection_id=args.connection, input=_parse_input(args.input), idempotency_key=args.idempotency_key
    )
    outcome = action_app(settings)(request, None)
    emit_json(outcome)
    return 0 if outcome.get("status") == "succeeded" else 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("actions", help="list actions, or run one as its Lambda would")
    sub = p.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="every action with its input fields")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    run = sub.add_parser("run", help="run an action; prints the outcome as JSON, exit 1 on failure")
    run.add_argument("action_name", metavar="ACTION")
    run.add_argument("--connection", required=True)
    run.add_argument("--input", required=True, metavar="JSON|@FILE")
    run.add_argument("--idempotency-key")
    add_stack_options(run)
    run.set_defaults(func=_run)
