"""Files that hold records or keys are their owner's only (0600) from the moment they exist."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cliniko_tools.local.private import open_private, write_private


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that would leave new files world-readable (and writable): the mode must not depend on it."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_private_file_is_0600_whatever_the_umask(tmp_path: Path, permissive_umask: None) -> None:
    path = tmp_path / "new" / "archive.jsonl"
    with open_private(path) as handle:
        handle.write('{"id": "1"}\n')
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_an_existing_readable_file_is_brought_to_0600_and_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "archive.jsonl"
    path.write_text('{"id": "1"}\n', encoding="utf-8")
    path.chmod(0o644)
    with open_private(path) as handle:
        handle.write('{"id": "2"}\n')
    assert mode(path) == 0o600
    assert path.read_text(encoding="utf-8").splitlines() == ['{"id": "1"}', '{"id": "2"}']


def test_write_private_replaces_the_content(tmp_path: Path, permissive_umask: None) -> None:
    path = write_private(tmp_path / "api-key", "old-key-au1\n")
    write_private(path, "new-key-au1\n")
    assert path.read_text(encoding="utf-8") == "new-key-au1\n" and mode(path) == 0o600
