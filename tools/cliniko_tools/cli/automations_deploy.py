"""`automations plan | deploy | list | remove`: the automations stack, on AWS or on the local stack.

On AWS (`--connector-stack NAME`, or $STACK_NAME as the connector stack's CliEnvironment sets it, when no
$AWS_ENDPOINT_URL points at a local stack) the stack is
`<connector-stack>-automations`, changed through CloudFormation change sets; otherwise the local stack's state
file names the moto server (as for every other command). The group itself, with `new`, `validate` and
`test`, is cliniko_tools.cli.automations, which calls `register_commands` here."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from cliniko_connector.errors import ConfigurationError
from cliniko_tools.automation_stack.local import Plan
from cliniko_tools.automation_stack.spec import DeploySpec
from cliniko_tools.cli.context import DEFAULT_STATE, STATE_ENV, UsageError
from cliniko_tools.cli.output import emit_json, plural, table

DEFAULT_FOLDER = "automations"


class RefuseSecretOnCommandLine(argparse.Action):
    """`--secret VALUE`: refused before anything runs, without repeating the value."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option: str | None = None) -> None:
        parser.error(
            f"{option} is refused: a secret on the command line stays in shell history and `ps`; put it in a file "
            "and give --secret-file NAME=FILE, or --secret-file NAME=- and pipe it in"
        )


# -- where the stack is --


class Target:
    """The connector stack the automations go beside: on AWS, or the local stack."""

    def __init__(self, args: argparse.Namespace) -> None:
        # $STACK_NAME (the connector's CliEnvironment) means AWS, unless a local endpoint or state file is named:
        # the local stack's CliEnvironment sets it too.
        local = args.stack_state is not None or bool(os.environ.get("AWS_ENDPOINT_URL"))
        self.connector_stack: str | None = args.connector_stack or (None if local else os.environ.get("STACK_NAME"))
        self.state_path = Path(args.stack_state or os.environ.get(STATE_ENV) or DEFAULT_STATE)
        self.s3_bucket: str | None = getattr(args, "template_bucket", None)

    @property
    def on_aws(self) -> bool:
        return self.connector_stack is not None

    def aws(self) -> Any:
        import boto3

        from cliniko_tools.automation_stack.aws import AwsAutomationsStack

        assert self.connector_stack is not None
        return AwsAutomationsStack(boto3.session.Session(), self.connector_stack, s3_bucket=self.s3_bucket)

    def local(self) -> Any:
        from cliniko_tools.automation_stack.local import LocalAutomationsStack
        from cliniko_tools.local.stack import StackState

        if not self.state_path.is_file():
            raise ConfigurationError(
                f"no local stack at {self.state_path}: run `cliniko-connector local up` first, or name the "
                "connector's stack on AWS with --connector-stack"
            )
        state = StackState.load(self.state_path)
        return LocalAutomationsStack(state, self.state_path)

    def event_source(self, stack: Any) -> str:
        return str(stack.connector().event_source if self.on_aws else stack.connector.event_source)

    def describe(self) -> str:
        if self.on_aws:
            from cliniko_tools.automation_stack.connector import automations_stack_name

            return f"stack {automations_stack_name(str(self.connector_stack))} (AWS)"
        return f"local stack ({self.state_path.parent / 'automations.json'})"


def _load(path: str, source: str) -> DeploySpec:
    from cliniko_tools.automation_stack.spec import from_folder

    spec, problems = from_folder(path, source=source)
    if problems:
        for problem in problems:
            print(problem)
        raise ConfigurationError(
            f"{plural(len(problems), 'problem')} in {path}; nothing was deployed (`automations validate` says more)"
        )
    return spec


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise UsageError(f"{option} takes NAME=VALUE")
        pairs[name] = rest
    return pairs


def _show_plan(plan: Plan, where: str, *, done: bool) -> None:
    if plan.empty:
        print(f"{where}: nothing to change")
        return
    for mark, names in (("+", plan.add), ("~", plan.change), ("-", plan.remove)):
        for name in names:
            print(f"  {mark} {name}")
            for line in plan.details.get(name, []) if mark == "~" or not done else []:
                print(f"      {line}")
    verb = "" if done else "would "
    print(
        f"{where}: {verb}add {len(plan.add)}, {verb}change {len(plan.change)}, {verb}remove {len(plan.remove)}"
        + ("" if done else "; `automations deploy` applies it")
    )


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {"add": plan.add, "change": plan.change, "remove": plan.remove, "details": plan.details}


# -- commands --


def cmd_plan(args: argparse.Namespace) -> int:
    target = Target(args)
    stack = target.aws() if target.on_aws else target.local()
    spec = _load(args.path, target.event_source(stack))
    overrides = _pairs(args.local_endpoint, "--local-endpoint")
    plan = stack.plan(spec) if target.on_aws else stack.plan(spec, overrides)
    if args.json:
        emit_json(_plan_json(plan))
    else:
        _show_plan(plan, target.describe(), done=False)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from cliniko_tools.automation_stack.secrets import read_secrets

    target = Target(args)
    stack = target.aws() if target.on_aws else target.local()
    spec = _load(args.path, target.event_source(stack))
    secrets = read_secrets(args.secret_file or [], spec.used_webhooks())
    overrides = _pairs(args.local_endpoint, "--local-endpoint")
    if target.on_aws and overrides:
        raise UsageError("--local-endpoint is for the local stack only; on AWS a webhook calls its declared endpoint")
    plan = stack.deploy(spec, secrets) if target.on_aws else stack.deploy(spec, secrets, overrides)
    if args.json:
        emit_json(_plan_json(plan))
    else:
        _show_plan(plan, target.describe(), done=True)
    return 0


def deployed_automations(target: Target) -> list[dict[str, Any]]:
    """Each deployed automation: name, trigger, rule, targets, how often it matched and failed in 24 h, and its
    pending scheduled actions (what `automations list` and the console show)."""
    from cliniko_tools.automation_stack.connector import pending_schedules
    from cliniko_tools.automation_stack.spec import rule_name

    rows: list[dict[str, Any]] = []
    pending: dict[str, list[str]] = {}
    if target.on_aws:
        stack = target.aws()
        spec = stack.deployed_spec()
        connector = stack.connector()
        counts = stack.metrics(spec, connector.bus_name) if spec.automations else {}
        if any(a.part_of for a in spec.automations):
            pending = pending_schedules(stack.session.client("scheduler"), connector.schedule_group)
        for automation in spec.automations:
            rule = rule_name(automation.name)
            rows.append(
                _row(
                    automation.name,
                    automation.trigger,
                    rule,
                    [(t.kind, t.ref) for t in automation.targets],
                    counts.get(rule, {}),
                )
            )
    else:
        from cliniko_tools.automation_stack.delivery import read_metrics
        from cliniko_tools.automation_stack.local import metrics_path_for

        stack = target.local()
        counts = read_metrics(metrics_path_for(target.state_path))
        recorded = stack.recorded().automations
        if any(a.part_of for a in recorded.values()):
            pending = pending_schedules(stack.client("scheduler"), stack.connector.schedule_group)
        for automation in recorded.values():
            rows.append(
                _row(
                    automation.name,
                    automation.trigger,
                    automation.rule,
                    [(t.kind, t.ref) for t in automation.targets],
                    counts.get(automation.rule, {}),
                )
            )
    for row in rows:
        due = pending.get(row["name"], [])
        row["pending"] = len(due)  # scheduled actions waiting to run (a waiting automation's own row)
        row["next_due"] = due[0] if due else None
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    target = Target(args)
    rows = deployed_automations(target)
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print(f"{target.describe()}: no automations deployed (`automations deploy [PATH]`)")
        return 0
    print(
        table(
            [
                (
                    r["name"],
                    r["trigger"],
                    r["rule"],
                    r["matched_24h"],
                    r["failed_24h"],
                    f"{r['pending']} (next {r['next_due']})" if r["pending"] else "",
                    ", ".join(r["targets"]),
                )
                for r in rows
            ],
            ["AUTOMATION", "TRIGGER", "RULE", "MATCHED 24H", "FAILED 24H", "PENDING", "TARGETS"],
        )
    )
    print("MATCHED: events the rule matched; FAILED: deliveries that ended in the automation's dead-letter queue")
    if any(r["pending"] for r in rows):
        print("PENDING: scheduled actions waiting for their time (`<name>.follow` and `.due-N` are its other rules)")
    return 0


def _row(name: str, trigger: str, rule: str, targets: list[tuple[str, str]], counts: dict[str, int]) -> dict[str, Any]:
    return {
        "name": name,
        "trigger": trigger,
        "rule": rule,
        "targets": [f"{kind} {ref}".strip() for kind, ref in targets],
        "matched_24h": counts.get("MatchedEvents", 0),
        "invocations_24h": counts.get("Invocations", 0),
        "failed_24h": counts.get("FailedInvocations", 0),
    }


def cmd_remove(args: argparse.Namespace) -> int:
    target = Target(args)
    stack = target.aws() if target.on_aws else target.local()
    if not stack.remove(args.name):
        raise ConfigurationError(f"no automation {args.name} is deployed on the {target.describe()}")
    print(f"{args.name}: removed (its rule, targets and dead-letter queue); its file is left as it is")
    return 0


# -- registration --


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connector-stack",
        metavar="NAME",
        help="the connector's CloudFormation stack on AWS (default $STACK_NAME); without it, the local stack",
    )
    parser.add_argument(
        "--stack-state",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"local stack state file (default ${STATE_ENV} or {DEFAULT_STATE})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--template-bucket",
        metavar="BUCKET",
        help="AWS: upload the template there when it is over CloudFormation's 51,200 bytes for an inline one",
    )


def register_commands(group: Any) -> None:
    """Adds plan, deploy, list and remove to the `automations` group (cliniko_tools.cli.automations)."""
    folder_help = f"a folder of automation files, or one file (default {DEFAULT_FOLDER}/)"

    plan = group.add_parser("plan", help="what a deploy would add, change and remove")
    plan.add_argument("path", nargs="?", default=DEFAULT_FOLDER, help=folder_help)
    plan.add_argument("--local-endpoint", action="append", metavar="WEBHOOK=URL", help=argparse.SUPPRESS)
    _common(plan)
    plan.set_defaults(func=cmd_plan)

    deploy = group.add_parser("deploy", help="deploy the automation files as a stack of their own")
    deploy.add_argument("path", nargs="?", default=DEFAULT_FOLDER, help=folder_help)
    deploy.add_argument(
        "--secret-file",
        action="append",
        metavar="WEBHOOK=FILE",
        help="a webhook's secret from FILE (`-`: standard input); needed when a webhook is first deployed or rotated",
    )
    deploy.add_argument(
        "--local-endpoint",
        action="append",
        metavar="WEBHOOK=URL",
        help="local stack only: call this loopback URL instead of the webhook's declared endpoint",
    )
    for refused in ("--secret", "--webhook-secret", "--api-key"):
        deploy.add_argument(refused, action=RefuseSecretOnCommandLine, help=argparse.SUPPRESS)
    _common(deploy)
    deploy.set_defaults(func=cmd_deploy)

    listing = group.add_parser("list", help="deployed automations, their rules and targets, matched/failed in 24 h")
    _common(listing)
    listing.set_defaults(func=cmd_list)

    remove = group.add_parser("remove", help="take one deployed automation away (its file stays)")
    remove.add_argument("name")
    _common(remove)
    remove.set_defaults(func=cmd_remove)


__all__ = ["register_commands"]
