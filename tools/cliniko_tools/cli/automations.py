"""`cliniko-connector automations …`: write, check, try and ship automations (docs/automations.md).

The group's commands come from two modules: this one (`new`, `validate`, `test`) and, when present,
`cliniko_tools.cli.automations_deploy` (`plan`, `deploy`, `list`, `remove`), each adding its own to the
group with `register_commands(sub)`. `triggers sample` lives here too (`register_sample`), registered by the
`triggers` group.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.errors import ConfigurationError, did_you_mean
from cliniko_tools.automations.model import NAME_PATTERN, AutomationFile, Folder, load_folder
from cliniko_tools.cli.context import UsageError, add_stack_options, parse_json_object, read_text_arg, settings_from
from cliniko_tools.cli.output import emit_json, plural

# Modules that add commands to the `automations` group; each defines `register_commands(sub)`.
COMMAND_MODULES = ("cliniko_tools.cli.automations_deploy",)
DEFAULT_FOLDER = Path("automations")
EXIT_PROBLEMS = 1


# --------------------------------------------------------------------------- new


def _new(args: argparse.Namespace) -> int:
    import re

    from cliniko_tools.automations.scaffold import scaffold

    if not re.match(NAME_PATTERN, args.name):
        raise UsageError(f"NAME {args.name!r}: use lower-case letters, digits and dashes (at most 48)")
    if args.trigger not in TRIGGERS:
        raise UsageError(f"no trigger {args.trigger!r}{did_you_mean(args.trigger, TRIGGERS)} (see `triggers list`)")
    for action in args.action:
        if action not in ACTIONS:
            raise UsageError(f"no action {action!r}{did_you_mean(action, ACTIONS)} (see `actions list`)")
    text = scaffold(args.name, args.trigger, args.action)
    if args.stdout:
        sys.stdout.write(text)
        return 0
    path = Path(args.path) / f"{args.name}.yaml"
    if path.exists() and not args.force:
        raise UsageError(f"{path} exists; choose another NAME, or --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}: fill in its input, then `cliniko-connector automations validate {args.path}`")
    return 0


# --------------------------------------------------------------------------- validate


def _allowed_actions(args: argparse.Namespace) -> tuple[dict[str, tuple[str, ...]] | None, str | None]:
    """Each connection's allowed actions from the configured stack, or None and why not."""
    if args.offline:
        return None, "connections not checked (--offline)"
    from botocore.exceptions import BotoCoreError, ClientError

    from cliniko_connector.settings import PollerSettings
    from cliniko_connector.wiring import build_runtime

    try:
        settings = settings_from(args, PollerSettings)
        connections = build_runtime(settings).connections.list()
    except ConfigurationError as exc:
        return None, f"connections not checked: {str(exc).split(':', 1)[0]}"
    except (BotoCoreError, ClientError) as exc:
        return None, f"connections not checked: the stack didn't answer ({type(exc).__name__})"
    return {c.id: tuple(c.allowed_actions) for c in connections}, None


def _validate(args: argparse.Namespace) -> int:
    from cliniko_tools.automations.validate import check_folder

    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"no file or folder {path} (automations live in {DEFAULT_FOLDER}/ unless you name another)")
    folder = load_folder(path)
    allowed, why_not = _allowed_actions(args)
    report = check_folder(folder, allowed=allowed)
    if args.json:
        emit_json(
            {
                "problems": [{"file": str(p.file), "line": p.line, "message": p.message} for p in report.problems],
                "notes": [{"file": str(p.file), "line": p.line, "message": p.message} for p in report.notes]
                + ([{"file": None, "line": None, "message": why_not}] if why_not else []),
                "automations": sorted(report.rules),
            }
        )
    else:
        for problem in report.problems:
            print(problem)
        for note in report.notes:
            print(f"{note.file}:{note.line}: note: {note.message}", file=sys.stderr)
        if why_not:
            print(f"note: {why_not}", file=sys.stderr)
        if not report.problems:
            counts = f"{plural(len(folder.automations), 'automation')}, {plural(len(folder.webhooks), 'webhook')}"
            print(f"ok: {counts} in {path}")
        else:
            files = {p.file for p in report.problems}
            print(f"{plural(len(report.problems), 'problem')} in {plural(len(files), 'file')}", file=sys.stderr)
    return EXIT_PROBLEMS if report.problems else 0


# --------------------------------------------------------------------------- test


def find_automation(name: str, path: str) -> tuple[AutomationFile, Folder]:
    """The automation called `name` in the folder `path` (or the automation file `name`), and its folder; a usage
    error when there is none or it has a problem. Shared by `automations test` and the console."""
    given = Path(name)
    if given.suffix in (".yaml", ".yml") and not given.is_file():
        raise UsageError(f"no file {given}")
    if given.is_file():
        folder = load_folder(given)
        if not folder.automations:
            problems = "; ".join(str(p) for p in folder.problems) or f"{given} holds no automation"
            raise UsageError(problems)
        item = folder.automations[0]
    else:
        if not Path(path).is_dir():
            raise UsageError(f"no folder {path}: give --path, or the automation's file")
        folder = load_folder(Path(path))
        found = folder.automation(name)
        if found is None:
            known = [a.automation.name for a in folder.automations]
            hint = did_you_mean(name, known) or f" (in {path}: {', '.join(known) or 'none'})"
            raise UsageError(f"no automation {name!r}{hint}")
        item = found
    own = [p for p in folder.problems if p.file == item.path]
    if own:
        raise UsageError(f"{own[0]} (`automations validate` lists every problem)")
    return item, folder


def _event(args: argparse.Namespace, item: AutomationFile) -> dict[str, Any]:
    trigger = item.automation.when.trigger
    if args.event:
        return parse_json_object(read_text_arg(args.event, "--event"), "--event", ": an EventBridge event")
    from cliniko_tools.automations.schema import is_trigger

    if not is_trigger(trigger):
        raise UsageError(f"no trigger {trigger!r} (`automations validate` lists every problem)")
    if args.from_connection and trigger not in TRIGGERS:
        raise UsageError(
            f"{trigger} is an action's outcome: nothing to read from a connection; give --sample or --event"
        )
    if args.from_connection:
        return _sample_from(args, args.from_connection, trigger)
    from cliniko_tools.automations.validate import sample_event

    return sample_event(trigger)


def target_body(t: Any, *, whole_event: str) -> str:
    """What one target of a trial receives, as text: its rendered input (JSON indented), or `whole_event` when it
    gets the event unchanged."""
    if t.target.transformer is None:
        return whole_event
    if t.rendered.valid and t.rendered.is_json:
        return json.dumps(t.rendered.value, indent=2, ensure_ascii=False)
    return str(t.rendered.text)


def _print_trial(trial: Any, event: dict[str, Any]) -> None:
    raw = event.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    about = f"{event.get('detail-type', '?')} of {detail.get('connection_id', '?')} ({detail.get('id', '?')})"
    if trial.matched:
        print(f"{trial.automation}: matches {about}")
    else:
        print(f"{trial.automation}: does not match {about}: `{trial.mismatch}` differs")
        print("  each target would receive:")
    for t in trial.targets:
        when = f" at {t.due_at} (it waits; a later change of the record moves or drops it)" if t.due_at else ""
        print(f"  {t.target.id} → {t.destination} receives{when}:")
        body = target_body(t, whole_event="the event as it is (--json shows it)")
        print("\n".join("    " + line for line in body.splitlines()))
        for problem in t.problems:
            print(f"    problem: {problem}")


def _run_actions(args: argparse.Namespace, trial: Any) -> bool:
    """Run each action target's request through the action's own code against the local stack."""
    from cliniko_connector.eventmodels import ActionRequest
    from cliniko_connector.settings import ActionSettings
    from cliniko_connector.wiring import action_app
    from cliniko_tools.cli.actions import _failure_line, _summary

    ok = True
    for t in trial.targets:
        if t.target.kind != "action":
            print(f"  {t.target.id}: not sent (--run runs Cliniko actions; deploy to deliver the others)")
            continue
        if t.problems:
            print(f"  {t.target.id}: not run: {t.problems[0]}", file=sys.stderr)
            ok = False
            continue
        action = ACTIONS[t.target.ref]
        settings = settings_from(
            args, ActionSettings, function=f"{action.function_suffix}ActionFunction", action_name=action.name
        )
        request = ActionRequest.model_validate(t.rendered.value)
        ran: list[bool] = []
        outcome = action_app(settings, on_run=functools.partial(ran.append, True))(request, None)
        if outcome.get("status") == "succeeded":
            done = _summary(outcome) if ran else "already done for this event (idempotency key), Cliniko not called"
            print(f"  {t.target.id}: {action.name} on {request.connection_id} succeeded: {done}")
        else:
            print(f"  {t.target.id}: {action.name} failed: {_failure_line(outcome)}", file=sys.stderr)
            ok = False
    return ok


def _test(args: argparse.Namespace) -> int:
    from cliniko_tools.automations.trial import try_event

    item, folder = find_automation(args.name, args.path)
    event = _event(args, item)
    trial = try_event(item, folder, event, source=str(event.get("source") or "cliniko"))
    if args.json:
        emit_json({**trial.to_dict(), "event": event} if args.show_event else trial.to_dict())
    else:
        _print_trial(trial, event)
    ok = trial.ok
    if args.run:
        if not trial.matched:
            print("not run: the event doesn't match", file=sys.stderr)
            return EXIT_PROBLEMS
        ok = _run_actions(args, trial) and ok
    return 0 if ok else EXIT_PROBLEMS


# --------------------------------------------------------------------------- triggers sample


def _sample_from(args: argparse.Namespace, connection_id: str, trigger: str) -> dict[str, Any]:
    from cliniko_connector.settings import PollerSettings
    from cliniko_connector.wiring import build_runtime
    from cliniko_tools.automations.sample import newest_event

    settings = settings_from(args, PollerSettings)
    runtime = build_runtime(settings)
    connection = runtime.connections.get(connection_id)
    mode = connection.payload_mode or settings.default_payload_mode
    return newest_event(
        runtime.api_for(connection, "poll"), connection, trigger, source=settings.event_source, payload_mode=mode
    )


def _sample(args: argparse.Namespace) -> int:
    if args.trigger not in TRIGGERS:
        raise UsageError(f"no trigger {args.trigger!r}{did_you_mean(args.trigger, TRIGGERS)} (see `triggers list`)")
    event = _sample_from(args, args.connection, args.trigger)
    emit_json(event)
    return 0


def register_sample(trigger_sub: Any) -> None:
    """`triggers sample CONNECTION TRIGGER` (added to the `triggers` group)."""
    p = trigger_sub.add_parser(
        "sample",
        help="the event a trigger would publish for the connection's newest matching record (nothing is sent)",
    )
    p.add_argument("connection", metavar="CONNECTION")
    p.add_argument("trigger", metavar="TRIGGER")
    add_stack_options(p)
    p.set_defaults(func=_sample)


# --------------------------------------------------------------------------- registration


def register_commands(sub: Any) -> None:
    new = sub.add_parser("new", help="a new automation file listing the trigger's paths and the actions' inputs")
    new.add_argument("name", metavar="NAME")
    new.add_argument("--trigger", required=True, metavar="TRIGGER")
    new.add_argument("--action", required=True, action="append", metavar="ACTION", help="repeat for more targets")
    new.add_argument("--path", default=str(DEFAULT_FOLDER), metavar="DIR", help="where to write (default automations)")
    new.add_argument("--force", action="store_true", help="overwrite a file of that name")
    new.add_argument("--stdout", action="store_true", help="print the file instead of writing it")
    new.set_defaults(func=_new)

    val = sub.add_parser(
        "validate", help="check a folder (or a file) of automations: one `file:line: problem` per line, exit 1"
    )
    val.add_argument("path", nargs="?", default=str(DEFAULT_FOLDER), metavar="PATH")
    val.add_argument("--offline", action="store_true", help="don't ask the stack which actions connections allow")
    val.add_argument("--json", action="store_true")
    add_stack_options(val)
    val.set_defaults(func=_validate)

    test = sub.add_parser(
        "test",
        help="whether an event matches an automation, and the exact input each target would receive "
        "(exit 1 when it doesn't match or an input has a problem)",
    )
    test.add_argument("name", metavar="NAME", help="an automation's name (in --path) or its file")
    test.add_argument("--path", default=str(DEFAULT_FOLDER), metavar="DIR", help="the automations folder")
    source = test.add_mutually_exclusive_group()
    source.add_argument("--event", metavar="FILE|-", help="an EventBridge event (JSON)")
    source.add_argument("--sample", action="store_true", help="the trigger's catalog sample (the default)")
    source.add_argument(
        "--from", dest="from_connection", metavar="CONNECTION", help="the connection's newest matching record"
    )
    test.add_argument("--run", action="store_true", help="also run the Cliniko actions (local stack)")
    test.add_argument("--json", action="store_true")
    test.add_argument("--show-event", action="store_true", help="with --json: include the event tested")
    add_stack_options(test)
    test.set_defaults(func=_test)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("automations", help="write, validate, test and deploy automations (YAML files)")
    sub = p.add_subparsers(dest="automations_command", metavar="COMMAND", required=True)
    register_commands(sub)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register_commands(sub)
