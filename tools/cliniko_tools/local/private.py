"""Files that hold records or keys (the local archive, the demo's API key): their owner's only, mode 0600."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def open_private(path: str | Path, *, append: bool = True) -> TextIO:
    """Open `path` for writing text; a new file is created 0600 (never readable by others, not even for an
    instant), and an existing one is brought to 0600. The directory is created 0700 if missing."""
    path = Path(path)
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        return os.fdopen(fd, "a" if append else "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | Path, text: str) -> Path:
    """Replace `path`'s content with `text`, as `open_private`."""
    with open_private(path, append=False) as handle:
        handle.write(text)
    return Path(path)
