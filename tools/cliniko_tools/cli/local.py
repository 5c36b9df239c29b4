"""`cliniko-connector local ...`: the Docker-less local stack (moto server + in-process handlers).

Every command but `moto` needs AWS_ENDPOINT_URL pointing at a loopback moto server and refuses anything
else, so it can never touch a real AWS account.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from cliniko_connector.errors import ConfigurationError
from cliniko_tools.cli.context import STATE_ENV, DeprecatedAlias, UsageError, read_text_arg
from cliniko_tools.cli.output import plural
from cliniko_tools.local import processes
from cliniko_tools.local.endpoint import (
    ENDPOINT_VARIABLE,
    ensure_local_aws_environment,
    require_loopback_endpoint,
)
from cliniko_tools.local.moto import HOST, MotoSubprocess, is_ready
from cliniko_tools.local.processes import ProcessId, ProcessRecord, interrupted_by_signals, registered
from cliniko_tools.local.runner import NO_SUCH_QUEUE, HandlerError, Invocation, LocalRunner, RunSummary
from cliniko_tools.local.stack import DEFAULT_STACK_NAME, DEFAULT_STATE_PATH, StackState, stack_owner, up
from cliniko_tools.local.template import load_template

# Parameter values the local stack uses unless given: a stage of its own, a placeholder contact address.
LOCAL_PARAMETER_DEFAULTS = {"Stage": "local", "ClinikoContactEmail": "local-dev@example.com"}


def _parse_parameters(pairs: list[str]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--parameter {pair!r} is not KEY=VALUE")
        parameters[key] = value
    return parameters


def _prepare() -> str:
    endpoint = require_loopback_endpoint()
    ensure_local_aws_environment()
    return endpoint


def _load_state(path: str, endpoint: str) -> StackState:
    state = StackState.load(path)
    if state.endpoint_url != endpoint:
        raise ConfigurationError(
            f"{path} was created against {state.endpoint_url}, not {ENDPOINT_VARIABLE}={endpoint}; "
            "run `cliniko-connector local up` again"
        )
    return state


def _up(args: argparse.Namespace) -> int:
    if not Path(args.template).is_file():
        raise UsageError(
            f"no template at {args.template}: run this in the project's folder, or name it with --template PATH"
        )
    _prepare()
    declared = load_template(args.template).get("Parameters", {})
    parameters = {k: v for k, v in LOCAL_PARAMETER_DEFAULTS.items() if k in declared}
    parameters.update(_parse_parameters(args.parameter))
    state = up(args.template, parameters=parameters, state_path=args.state, stack_name=args.stack_name, archive=True)
    print(f"local stack on {state.endpoint_url} (state: {args.state})")
    print(f"  parameters: {', '.join(f'{k}={v}' for k, v in state.parameters.items())}")
    print(f"  tables:     {', '.join(t.name for t in state.tables.values())}")
    print(f"  event bus:  {', '.join(state.event_buses.values())}")
    print(f"  rules:      {len(state.rules)}; queues: {len(state.queues)}; functions: {len(state.functions)}")
    for note in state.notes:
        print(f"  note: {note}")
    return 0


def _print_invocation(invocation: Invocation) -> None:
    status = "ok" if invocation.ok else f"FAILED {invocation.error}"
    handled = f" [{invocation.handled}]" if invocation.handled else ""
    print(f"  {invocation.function:<44} <- {invocation.source:<40} {status}{handled}", flush=True)


def _print_summary(summary: RunSummary) -> None:
    print(f"{plural(summary.total, 'invocation')}, {plural(len(summary.failures), 'failure')}")
    for function, count in sorted(summary.invocations.items()):
        print(f"  {function}: {count}")


def _run(args: argparse.Namespace) -> int:
    endpoint = _prepare()
    state = _load_state(args.state, endpoint)
    runner = LocalRunner(
        state,
        args.project_root or state.project_root,
        retry_delay_seconds=args.retry_delay,
        on_invocation=_print_invocation,
        state_path=args.state,
    )
    if args.once:
        summary = runner.run_once(max_messages=args.max_messages)
    else:
        from cliniko_tools.local.function_url import serving_function_urls

        record = ProcessRecord(name="run", process=ProcessId.of(os.getpid()), url=endpoint)
        with (
            interrupted_by_signals(),
            registered(Path(args.state).parent, record),
            serving_function_urls(runner) as urls,
        ):
            for function_id, url in urls.items():
                print(f"{function_id} answers on {url}", flush=True)
            print(f"running every {args.interval:g}s against {endpoint}; Ctrl-C stops (or `local down`)", flush=True)
            summary = runner.run(interval_seconds=args.interval)
    _print_summary(summary)
    return 1 if args.once and summary.failures else 0


def _invoke(args: argparse.Namespace) -> int:
    endpoint = _prepare()
    state = _load_state(args.state, endpoint)
    if args.function not in state.functions:
        raise ConfigurationError(f"no function {args.function}; one of: {', '.join(state.functions)}")
    text = read_text_arg(args.event, "--event")
    try:
        event = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise UsageError(f"--event {args.event} is not JSON (line {exc.lineno}, column {exc.colno})") from None
    runner = LocalRunner(state, args.project_root or state.project_root)
    try:
        result = runner.invoke(args.function, event)
    except HandlerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


def _status(args: argparse.Namespace) -> int:
    endpoint = _prepare()
    state = _load_state(args.state, endpoint)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=state.region)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=state.region)
    _require_same_stack(state, args.state)
    consumers = state.queue_consumers()
    print(f"local stack {state.stack_name} on {endpoint}")
    print("queues (visible / in flight -> consumer):")
    for key, queue in state.queues.items():
        try:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue.url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in NO_SUCH_QUEUE:
                raise
            raise ConfigurationError(
                f"queue {queue.name} that {args.state} names is not on {endpoint}: the stack changed since; "
                "run `cliniko-connector local up` again"
            ) from None
        consumer = consumers.get(key, ("-", ""))[0]
        print(
            f"  {queue.name:<60} {attributes['ApproximateNumberOfMessages']:>5} / "
            f"{attributes['ApproximateNumberOfMessagesNotVisible']:<5} -> {consumer}"
        )
    print("tables (items):")
    for table in state.tables.values():
        count = _count_items(dynamodb, table.name)
        print(f"  {table.name:<60} {count:>5}")
    print("rules:")
    for logical_id, rule in state.rules.items():
        targets = ", ".join(t.function or t.queue for t in rule.targets)
        print(f"  {logical_id:<44} on {rule.event_bus} -> {targets}")
    return 0


def _require_same_stack(state: StackState, state_path: str) -> None:
    """The moto server still holds the stack this state file describes, or a one-line what-to-do."""
    ssm = boto3.client("ssm", endpoint_url=state.endpoint_url, region_name=state.region)
    owner = stack_owner(ssm, state.stack_name)  # moto not answering is main's one line
    mine = str(Path(state_path).resolve())
    if owner is None:
        raise ConfigurationError(
            f"the moto server on {state.endpoint_url} no longer holds the stack {state_path} describes "
            "(it was restarted or reset): run `cliniko-connector local up` again"
        )
    if owner != mine:
        raise ConfigurationError(
            f"the stack {state.stack_name} on {state.endpoint_url} was rebuilt from {owner}: work from that folder, "
            f"or `local down` there and `local up` here"
        )


def _count_items(dynamodb: Any, table: str) -> int:
    total = 0
    kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
    while True:
        page = dynamodb.scan(**kwargs)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _moto(args: argparse.Namespace) -> int:
    directory = Path(args.state).parent
    if args.port:
        if is_ready(f"http://{HOST}:{args.port}"):
            raise processes.PortInUse(
                f"a moto server already answers on http://{HOST}:{args.port}: use it "
                f"(export {ENDPOINT_VARIABLE}=http://{HOST}:{args.port}) or choose another --port"
            )
        processes.require_port_free(args.port, "moto")
    if args.background:
        argv = ["local", "moto", "--port", str(args.port), "--stack-state", args.state]
        record = processes.start_in_background("moto", argv, directory)
        log = directory / "moto.log"
        print(
            f"moto server on {record.url} (pid {record.process.pid}, log {log}); "
            "`cliniko-connector local down` stops it"
        )
        print(f"  export {ENDPOINT_VARIABLE}={record.url}")
        return 0
    server = MotoSubprocess(args.port or None)
    # SIGTERM/SIGHUP (kill, `local down`, a closed terminal) stop the server process too, as Ctrl-C does.
    with interrupted_by_signals():
        try:
            endpoint = server.start()
            record = ProcessRecord(
                name="moto",
                process=ProcessId.of(os.getpid()),
                children=[ProcessId.of(server.pid)] if server.pid else [],
                port=int(endpoint.rsplit(":", 1)[1]),
                url=endpoint,
            )
            with registered(directory, record):
                print(f"moto server on {endpoint} (pid {server.pid}); Ctrl-C stops it. In another shell:", flush=True)
                print(f"  export {ENDPOINT_VARIABLE}={endpoint}", flush=True)
                return server.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            server.stop()


def _down(args: argparse.Namespace) -> int:
    directory = Path(args.state).parent
    running = processes.records(directory)
    if not running:
        print(f"nothing of the local stack is running from {directory}")
        return 0
    problems: list[str] = []
    # `local run` first (it talks to the others), moto last.
    order = {"run": 0, "simulator": 1, "moto": 2}
    stopped_endpoints: set[str] = set()
    for record in sorted(running, key=lambda r: order.get(r.name, 1)):
        left = processes.stop(record)
        problems += left
        if not left:
            print(f"stopped {record.describe()}")
            if record.name == "moto" and record.url:
                stopped_endpoints.add(record.url)
        processes.record_path(directory, record).unlink(missing_ok=True)
    state_path = Path(args.state)
    if state_path.is_file() and StackState.load(state_path).endpoint_url in stopped_endpoints:
        state_path.unlink()  # the stack lived in that moto server: nothing it names exists any more
        print(f"removed {state_path} (its stack was in that moto server); `local up` builds a new one")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local", help="the local stack: template resources on a loopback moto server, handlers run in-process"
    )
    commands = parser.add_subparsers(dest="local_command", metavar="COMMAND", required=True)

    def with_state(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        default = os.environ.get(STATE_ENV) or str(DEFAULT_STATE_PATH)
        command.add_argument(
            "--stack-state", dest="state", default=default, metavar="FILE", help="state file (default: %(default)s)"
        )
        command.add_argument("--state", dest="state", action=DeprecatedAlias, new="--stack-state")
        return command

    up_parser = with_state(commands.add_parser("up", help="create the template's tables, queues, bus and rules"))
    up_parser.add_argument("--template", default="template.yaml", help="default: %(default)s")
    up_parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter override (repeatable); local defaults: "
        + ", ".join(f"{k}={v}" for k, v in LOCAL_PARAMETER_DEFAULTS.items()),
    )
    up_parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="prefix of physical names")
    up_parser.set_defaults(func=_up)

    run_parser = with_state(commands.add_parser("run", help="fire schedules and drain queues into the handlers"))
    run_parser.add_argument("--interval", type=float, default=10.0, help="seconds between cycles (default: 10)")
    run_parser.add_argument("--once", action="store_true", help="one cycle; exit 1 if anything failed")
    run_parser.add_argument("--max-messages", type=int, default=1000, help="per drain (default: 1000)")
    run_parser.add_argument(
        "--retry-delay", type=int, default=None, help="seconds before a failed message is retried (default: queue's)"
    )
    run_parser.add_argument("--project-root", help="where CodeUri paths start (default: the template's directory)")
    run_parser.set_defaults(func=_run)

    invoke_parser = with_state(commands.add_parser("invoke", help="invoke one function with an event file"))
    invoke_parser.add_argument("function", help="logical id, e.g. MedicalAlertCreateActionFunction")
    invoke_parser.add_argument("--event", default="-", help="event JSON file, e.g. events/actions/....json (- stdin)")
    invoke_parser.add_argument("--project-root", help="where CodeUri paths start (default: the template's directory)")
    invoke_parser.set_defaults(func=_invoke)

    status_parser = with_state(commands.add_parser("status", help="queue depths, table sizes and rules"))
    status_parser.set_defaults(func=_status)

    moto_parser = with_state(commands.add_parser("moto", help=f"serve moto on {HOST} (in the foreground)"))
    moto_parser.add_argument("--port", type=int, default=0, help="default: a free port")
    moto_parser.add_argument(
        "--background", action="store_true", help="start it detached, return once it answers; `local down` stops it"
    )
    moto_parser.set_defaults(func=_moto)

    down_parser = with_state(
        commands.add_parser("down", help="stop what the local stack started from this folder (moto, simulator, run)")
    )
    down_parser.set_defaults(func=_down)
