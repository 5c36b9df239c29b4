"""`cliniko-connector completion bash|zsh|fish`: shell completion for every command, option and name.

The scripts are thin: they hand the words typed so far to the hidden `cliniko-connector __complete CURRENT
[WORD…]`, which walks the same argparse tree the CLI parses with, so completion can't drift from the commands.
Connection names come from the stack (when one is configured and answers), trigger and action names from the
catalog.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any

SHELLS = ("bash", "zsh", "fish")
COMPLETE_COMMAND = "__complete"

_BASH = """# cliniko-connector completion for bash: eval "$(cliniko-connector completion bash)"
_cliniko_connector() {
    local IFS=$'\\n'
    COMPREPLY=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" \\
        2>/dev/null))
}
complete -o default -F _cliniko_connector cliniko-connector
"""

_ZSH = """#compdef cliniko-connector
# cliniko-connector completion for zsh: eval "$(cliniko-connector completion zsh)"
_cliniko_connector() {
    local -a candidates
    candidates=("${(@f)$(${words[1]} __complete "${words[CURRENT]}" "${(@)words[2,CURRENT-1]}" 2>/dev/null)}")
    candidates=(${candidates:#})
    (( ${#candidates} )) && compadd -Q -- "${candidates[@]}"
}
compdef _cliniko_connector cliniko-connector
"""

_FISH = """# cliniko-connector completion for fish: cliniko-connector completion fish | source
function __cliniko_connector_complete
    set -l words (commandline -opc)
    set -l current (commandline -ct)
    $words[1] __complete "$current" $words[2..-1] 2>/dev/null
end
complete -c cliniko-connector -f -a '(__cliniko_connector_complete)'
"""

SCRIPTS = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}


def _connection_ids() -> list[str]:
    """The stack's connections, when a stack is configured and answers; nothing otherwise (quietly)."""
    os.environ.setdefault("AWS_MAX_ATTEMPTS", "1")
    try:
        from cliniko_connector.settings import PollerSettings
        from cliniko_connector.wiring import build_runtime
        from cliniko_tools.cli.context import settings_from

        settings = settings_from(argparse.Namespace(stack_state=None), PollerSettings)
        return [c.id for c in build_runtime(settings).connections.list()]
    except Exception:  # completion never fails out loud: no stack, moto down, no credentials
        return []


def _hook_names() -> list[str]:
    """The stack's inbound hooks, as quietly as `_connection_ids`."""
    os.environ.setdefault("AWS_MAX_ATTEMPTS", "1")
    try:
        from cliniko_connector.adapters.aws import boto3_client
        from cliniko_connector.adapters.dynamodb import DynamoHookStore
        from cliniko_connector.settings import PollerSettings
        from cliniko_tools.cli.context import settings_from

        settings = settings_from(argparse.Namespace(stack_state=None), PollerSettings)
        return [h.name for h in DynamoHookStore(settings.state_table, client=boto3_client("dynamodb")).list()]
    except Exception:  # completion never fails out loud: no stack, moto down, no credentials
        return []


def _trigger_names(with_all: bool) -> list[str]:
    from cliniko_connector.catalog.triggers import TRIGGERS

    return [*TRIGGERS, *(["all"] if with_all else [])]


def _action_names() -> list[str]:
    from cliniko_connector.catalog.actions import ACTIONS

    return list(ACTIONS)


def _resources() -> list[str]:
    from cliniko_connector.catalog.triggers import STREAMS

    return [s.resource for s in STREAMS]


# Positional and option values completed by name (the argparse `dest`).
DYNAMIC: dict[str, Callable[[], list[str]]] = {
    "connection": _connection_ids,
    "hook": _hook_names,
    "triggers": lambda: _trigger_names(with_all=True),
    "trigger": lambda: _trigger_names(with_all=False),
    "action_name": _action_names,
    "resource": _resources,
    "shell": lambda: list(SHELLS),
}


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _option(parser: argparse.ArgumentParser, word: str) -> argparse.Action | None:
    return parser._option_string_actions.get(word.split("=", 1)[0])


def _values(action: argparse.Action) -> list[str]:
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return [str(c) for c in action.choices]
    source = DYNAMIC.get(action.dest)
    return source() if source else []


def complete(current: str, prior: Sequence[str], parser: argparse.ArgumentParser | None = None) -> list[str]:
    """Candidates for the word being typed (`current`) after `prior` (the words after the program name)."""
    if parser is None:
        from cliniko_tools.cli.main import build_parser

        parser = build_parser()
    positional = 0
    value_for: argparse.Action | None = None
    for word in prior:
        if value_for is not None:
            value_for = None
            continue
        if word.startswith("-") and word != "-":
            option = _option(parser, word)
            if option is not None and option.nargs != 0 and "=" not in word:
                value_for = option
            continue
        sub = _subcommands(parser)
        if sub is not None and word in sub.choices:
            parser = sub.choices[word]
            positional = 0
            continue
        positional += 1
    if value_for is not None:
        candidates = _values(value_for)
    elif current.startswith("-"):
        candidates = [
            s for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings if s.startswith("--")
        ]
    else:
        sub = _subcommands(parser)
        if sub is not None:
            candidates = [name for name in sub.choices if not name.startswith("_")]
        else:
            positionals = [a for a in parser._actions if not a.option_strings]
            if not positionals:
                return []
            variadic = positionals[-1].nargs in ("+", "*", argparse.REMAINDER)
            if positional >= len(positionals) and not variadic:
                return []
            candidates = _values(positionals[min(positional, len(positionals) - 1)])
    return [c for c in dict.fromkeys(candidates) if c.startswith(current)]


def run_complete(words: Sequence[str]) -> int:
    """`cliniko-connector __complete CURRENT [WORD…]`: one candidate a line; never an error."""
    current, prior = (words[0], words[1:]) if words else ("", [])
    try:
        for candidate in complete(current, prior):
            print(candidate)
    except Exception:  # a shell's completion must never print a traceback into the command line
        return 0
    return 0


def _script(args: argparse.Namespace) -> int:
    print(SCRIPTS[args.shell], end="")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "completion",
        help="print shell completion (bash, zsh, fish) for commands, options, connections, triggers and actions",
        description='bash: eval "$(cliniko-connector completion bash)" in ~/.bashrc; zsh: the same with zsh in '
        "~/.zshrc (after compinit); fish: cliniko-connector completion fish > ~/.config/fish/completions/"
        "cliniko-connector.fish",
    )
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=_script)
