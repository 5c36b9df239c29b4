"""Webhook secrets as a deploy takes them: `--secret-file NAME=FILE` (FILE `-`: standard input), never argv.

Nothing here repeats what it was given: a mistake names the webhook and the problem, never the text, since a
person who typed a secret where a path belongs would otherwise see it printed (and logged by their CI)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from cliniko_tools.cli.context import UsageError

MAX_SECRET_LENGTH = 4096


def read_secrets(specs: Iterable[str], webhooks: Iterable[str]) -> dict[str, str]:
    """`NAME=FILE` pairs → {webhook: secret}. A bare `FILE` is allowed when the folder has one webhook."""
    known = sorted(set(webhooks))
    secrets: dict[str, str] = {}
    stdin_used = False
    for spec in specs:
        name, sep, source = spec.partition("=")
        if not sep:
            if len(known) != 1:
                raise UsageError("--secret-file takes NAME=FILE (the webhook's name, then the file holding its secret)")
            name, source = known[0], spec
        if name not in known:
            raise UsageError(
                f"--secret-file: no webhook {name!r} in the automations"
                if len(name) <= 48 and name.replace("-", "").isalnum()
                else "--secret-file: the text before `=` is not a webhook's name (not shown)"
            )
        if name in secrets:
            raise UsageError(f"--secret-file: the webhook {name} is given twice")
        if source == "-":
            if stdin_used:
                raise UsageError("--secret-file: only one secret can come from standard input")
            stdin_used = True
            if sys.stdin is None or sys.stdin.isatty():
                import getpass

                text = getpass.getpass(f"secret of the webhook {name}: ")
            else:
                text = sys.stdin.read()
        else:
            path = Path(source)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                raise UsageError(
                    f"--secret-file {name}=…: no readable file there (the text is not shown, in case it is the "
                    "secret itself: a secret goes in a file or on standard input, never on the command line)"
                ) from None
        secret = text.strip()
        if not secret or len(secret) > MAX_SECRET_LENGTH or "\n" in secret:
            raise UsageError(f"--secret-file: the secret of {name} is empty, longer than 4096 or more than one line")
        secrets[name] = secret
    return secrets
