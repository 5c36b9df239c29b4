"""Dot-notation JSON paths (`$.detail.data.items[0].id`), as automation files and hook maps write them.

The one implementation: the automations compiler and renderer (tools) and the hook Lambda (runtime) both use it.
"""

from __future__ import annotations

import re
from typing import Any, Final

_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")
PATH_RE = re.compile(r"^\$(?:\.[A-Za-z0-9_-]+|\[\d+\])+$")
# `<name>` inside text: a field of the document (automations: of the event's record).
PLACEHOLDER = re.compile(r"<([A-Za-z0-9_$][A-Za-z0-9_.$\[\]-]*)>")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What `lookup` returns where a path doesn't resolve (distinct from a JSON null)."""


def split_path(path: str) -> list[str | int] | None:
    """`$.detail.data.items[0].id` → `["detail", "data", "items", 0, "id"]`; None when not a dot-notation path."""
    if not PATH_RE.match(path):
        return None
    return [name if name else int(index) for name, index in _SEGMENT.findall(path[1:])]


def is_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$.")


def lookup(document: Any, path: str) -> Any:
    """The value at a dot-notation JSON path, or `MISSING`."""
    parts = split_path(path)
    if parts is None:
        return MISSING
    node = document
    for part in parts:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return MISSING
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return MISSING
            node = node[part]
    return node
