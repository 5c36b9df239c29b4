"""YAML output for generated files: stable key order, block style, long-form intrinsics, no aliases."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key and never emits anchors/aliases for repeated objects."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _list_representer(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.SequenceNode:
    """Short lists of scalars on one line (`[arm64]`, `[DEBUG, INFO]`); anything else in block style."""
    flow = (
        all(isinstance(item, str | int | float | bool) for item in data) and sum(len(str(i)) + 2 for i in data) <= 110
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(str, _str_representer)
_Dumper.add_representer(list, _list_representer)


def dump(data: Any, *, indent: int = 0) -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)
    if indent:
        pad = " " * indent
        text = "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))
    return text
