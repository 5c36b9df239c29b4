"""Printing results: aligned tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


TERMINAL_WIDTH = 100  # what tables that could grow without bound (descriptions) are cut to


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], *, max_width: int | None = None) -> str:
    """Aligned columns; with `max_width`, the last column is cut (with `…`) so no line is longer."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if max_width is not None:
        room = max(10, max_width - sum(widths[:-1]) - 2 * (len(widths) - 1))
        for r in cells:
            if len(r[-1]) > room:
                r[-1] = r[-1][: room - 1] + "…"
        widths[-1] = min(widths[-1], room)
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 trigger`, `2 triggers`, `0 triggers`."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
