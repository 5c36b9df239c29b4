"""`usecases/` speaks to ports only: no module under it imports the AWS SDK or moto, at any depth (a function's
lazy import too); adapters do that."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import cliniko_connector.usecases

USECASES = Path(cliniko_connector.usecases.__file__).parent
FORBIDDEN = frozenset({"boto3", "botocore", "moto"})
# Known, with the reason and who removes it: `test_known_exceptions_are_still_real` fails once it is gone.
KNOWN: dict[tuple[str, str], str] = {
    ("replay.py", "moto"): "the local replay's pattern matcher, until cliniko_connector/patterns.py replaces it",
}


def _imports(source: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def forbidden_imports() -> set[tuple[str, str]]:
    found = set()
    for path in sorted(USECASES.rglob("*.py")):
        for module in _imports(path.read_text(encoding="utf-8")):
            if module.split(".")[0] in FORBIDDEN:
                found.add((path.relative_to(USECASES).as_posix(), module.split(".")[0]))
    return found


def test_no_usecase_module_imports_boto3_botocore_or_moto() -> None:
    assert USECASES.is_dir() and len(list(USECASES.glob("*.py"))) > 5
    unexpected = forbidden_imports() - KNOWN.keys()
    assert not unexpected, f"use-cases reach AWS past their ports (file, module): {sorted(unexpected)}"


def test_known_exceptions_are_still_real() -> None:
    stale = KNOWN.keys() - forbidden_imports()
    assert not stale, f"no longer imported: remove from KNOWN {sorted(stale)}"


def test_the_check_sees_lazy_and_from_imports() -> None:
    source = "import json\nfrom botocore.exceptions import ClientError\ndef f():\n    import boto3.session\n"
    assert set(_imports(source)) == {"json", "botocore.exceptions", "boto3.session"}
