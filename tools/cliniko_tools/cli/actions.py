"""`cliniko-connector actions list|show|run`: the action catalog, and one action through its Lambda's code."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from cliniko_connector.catalog.actions import ACTIONS, Action
from cliniko_connector.errors import did_you_mean
from cliniko_connector.eventmodels import ActionRequest
from cliniko_connector.settings import ActionSettings
from cliniko_connector.wiring import action_app
from cliniko_tools.cli.context import UsageError, add_stack_options, parse_json_object, read_text_arg, settings_from
from cliniko_tools.cli.output import TERMINAL_WIDTH, emit_json, plural, table
from cliniko_tools.devtools.actions_doc import input_fields, result_fields
from cliniko_tools.devtools.sample_events import action_request_detail

EXIT_FAILED = 1


def _action(name: str) -> Action:
    action = ACTIONS.get(name)
    if action is None:
        raise UsageError(f"no action {name!r}{did_you_mean(name, ACTIONS)} (see `cliniko-connector actions list`)")
    return action


def _list(args: argparse.Namespace) -> int:
    if args.json:
        emit_json(
            {
                n: {"description": a.description, "input_schema": a.input_model.model_json_schema()}
                for n, a in ACTIONS.items()
            }
        )
    else:
        # One block per Cliniko resource, a blank line between (docs/coverage.md lists the call each makes); each
        # block aligned on its own names, so a long resource name doesn't cut every description short.
        groups: dict[str, list[tuple[str, str]]] = {}
        for a in sorted(ACTIONS.values(), key=lambda a: (a.resource, a.name)):
            groups.setdefault(a.resource, []).append((a.name, a.description))
        blocks = [table(rows, ["ACTION", "WHAT IT DOES"], max_width=TERMINAL_WIDTH) for rows in groups.values()]
        print("\n\n".join([blocks[0], *("\n".join(b.splitlines()[2:]) for b in blocks[1:])]))
        print("inputs, result and an example of one: cliniko-connector actions show ACTION")
    return 0


def _show(args: argparse.Namespace) -> int:
    action = _action(args.action_name)
    example = action_request_detail(action, connection_id="CONNECTION")
    if args.json:
        emit_json(
            {
                "action": action.name,
                "description": action.description,
                "calls": action.operation.calls(),
                "input_schema": action.input_model.model_json_schema(by_alias=True),
                "result": result_fields(action),
                "example_request": example,
            }
        )
        return 0
    print(textwrap.fill(f"{action.name}: {action.description}", TERMINAL_WIDTH, subsequent_indent="  "))
    print(textwrap.fill(f"  Cliniko: {action.operation.calls()}", TERMINAL_WIDTH, subsequent_indent="    "))
    print("  input (? = optional):")
    rows = [(f"{name}{'' if required else '?'}", label) for name, required, label in input_fields(action)]
    fields = table(rows, ["FIELD", "TYPE"], max_width=TERMINAL_WIDTH - 4)
    print("\n".join("    " + line for line in fields.splitlines()))
    rule = getattr(action.input_model, "rule", None)
    text = rule() if callable(rule) else None
    if text:
        print(textwrap.fill(text, TERMINAL_WIDTH, initial_indent="    ", subsequent_indent="    "))
    print(f"  result: {{{', '.join(result_fields(action))}}}")
    print("  example (paste it as it is; the input may span lines inside its quotes):")
    sample = json.dumps(example["input"], indent=2).replace("\n", "\n    ")
    print(f"    cliniko-connector actions run {action.name} --connection CONNECTION --input '{sample}'")
    return 0


def _parse_input(raw: str) -> dict[str, Any]:
    text = read_text_arg(raw[1:], "--input @FILE") if raw.startswith("@") else raw
    return parse_json_object(text, "--input", ', e.g. \'{"patient_id": "123"}\'')


def _failure_line(outcome: dict[str, Any]) -> str:
    """`InputValidationError: invalid input for X (name: field required)`: the typed error and its first
    field problem (field names and messages only, never values)."""
    error = outcome.get("error") or {}
    line = f"{error.get('type', 'error')}: {error.get('message', 'failed')}"
    problems = error.get("field_errors") or {}
    if problems:
        field, problem = next(iter(problems.items()))
        more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
        line += f" ({field}: {problem}{more})"
    if error.get("type") == "ConnectionNotFound":
        line += "; see `cliniko-connector connections list`"
    return line


def _summary(outcome: dict[str, Any]) -> str:
    """What a success did, by ids and counts only (a result can hold patient data)."""
    result = outcome.get("result") or {}
    record = result.get("record")
    if isinstance(record, dict) and record.get("id"):
        return f"record {record['id']}"
    if result.get("found") is False:
        return "nothing found"
    if isinstance(result.get("ids"), list):
        return plural(len(result["ids"]), "id") + (", more not listed" if result.get("truncated") else "")
    if result.get("id"):
        return f"record {result['id']}"
    return "done"


def _run(args: argparse.Namespace) -> int:
    action = _action(args.action_name)
    payload = _parse_input(args.input)
    settings = settings_from(
        args, ActionSettings, function=f"{action.function_suffix}ActionFunction", action_name=action.name
    )
    request = ActionRequest(connection_id=args.connection, input=payload, idempotency_key=args.idempotency_key)
    ran: list[bool] = []
    outcome = action_app(settings, on_run=lambda: ran.append(True))(request, None)
    succeeded = outcome.get("status") == "succeeded"
    repeat = not ran
    if args.json:
        emit_json(outcome)
    elif succeeded:
        print(
            f"{action.name} on {args.connection}: "
            + (
                f"already done (idempotency key {request.key_for(action.name)} was used before; "
                f"its first result, {_summary(outcome)}, is kept and Cliniko was not called)"
                if repeat
                else f"succeeded, {_summary(outcome)} (--json prints the result)"
            )
        )
    if not succeeded:
        # Failures are never kept for a key (the same request runs again): a failure is always this run's.
        print(f"error: {action.name}: {_failure_line(outcome)}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("actions", help="list actions, show one, or run one as its Lambda would")
    sub = p.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="every action, in a line")
    ls.add_argument("--json", action="store_true", help="every action with its input schema")
    ls.set_defaults(func=_list)
    show = sub.add_parser("show", help="one action: its inputs, result and an example")
    show.add_argument("action_name", metavar="ACTION")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)
    run = sub.add_parser(
        "run", help="run an action; one line says what it did (exit 1 on failure), --json prints the outcome"
    )
    run.add_argument("action_name", metavar="ACTION")
    run.add_argument("--connection", required=True)
    run.add_argument("--input", required=True, metavar="JSON|@FILE")
    run.add_argument("--idempotency-key", help="a repeat with the same key does nothing and says so")
    run.add_argument("--json", action="store_true", help="the outcome as JSON on stdout, success or failure")
    add_stack_options(run)
    run.set_defaults(func=_run)
