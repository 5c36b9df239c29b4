"""`cliniko-connector automations …`: write, check, try and ship automations (docs/automations.md).

The group's commands come from two modules: this one (`new`, `validate`, `test`) and, when present,
`cliniko_tools.cli.automations_deploy` (`plan`, `deploy`, `list`, `remove`), each adding its own to the
group with `register_commands(sub)`.
"""

from __future__ import annotations

import importlib
from typing import Any

# Modules that add commands to the `automations` group; each defines `register_commands(sub)`.
COMMAND_MODULES = ("cliniko_tools.cli.automations_deploy",)


def register_commands(sub: Any) -> None:
    """`new`, `validate` and `test` (filled in by the authoring commands)."""


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
