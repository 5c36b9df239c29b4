"""`python -m cliniko_tools.automation_stack.example [PATH]`: the automations template the recipes (or PATH)
make beside a connector stack, on stdout; `make check-template` lints it. The connector's outputs are stand-ins
(every action of the catalog, one account), since no stack is deployed where the linters run."""

from __future__ import annotations

import sys
from pathlib import Path

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_tools.automation_stack.cfn import build_template, render
from cliniko_tools.automation_stack.connector import ConnectorOutputs
from cliniko_tools.automation_stack.spec import from_folder

RECIPES = Path(__file__).resolve().parents[3] / "automations" / "recipes"
ACCOUNT = "123456789012"


def example_connector(stack: str = "cliniko-connector") -> ConnectorOutputs:
    arn = f"arn:aws:{{}}:us-east-1:{ACCOUNT}:{{}}"
    return ConnectorOutputs(
        stack_name=stack,
        region="us-east-1",
        account_id=ACCOUNT,
        bus_name="cliniko-connector-dev",
        bus_arn=arn.format("events", "event-bus/cliniko-connector-dev"),
        alarm_topic_arn=arn.format("sns", "cliniko-connector-alarms"),
        function_arns={name: arn.format("lambda", f"function:{stack}-{name.replace('.', '-')}") for name in ACTIONS},
        schedule_function_arn=arn.format("lambda", f"function:{stack}-schedule-actions"),
    )


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else RECIPES
    connector = example_connector()
    spec, problems = from_folder(path, source=connector.event_source)
    if problems:
        for problem in problems:
            sys.stderr.write(f"{problem}\n")
        return 1
    sys.stdout.write(render(build_template(spec, connector)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
