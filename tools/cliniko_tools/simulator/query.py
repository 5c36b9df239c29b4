"""``q[]`` filters and ``sort`` as Cliniko parses them, compiled to predicates and sort keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cliniko_tools.simulator.schema import FilterKind, Record, ValidationFailed
from cliniko_tools.simulator.timefmt import parse_date, parse_datetime

# Longest first so ">=" isn't read as ">" followed by "=...".
_OPERATORS = ("!=", "!?", ">=", "<=", "~~", "=", ">", "<", "~", "?", "*")
_ALLOWED: dict[str, frozenset[str]] = {
    "date-time": frozenset({">", ">=", "<", "<=", "?", "!?", "*"}),
    "date": frozenset({"=", ">", ">=", "<", "<=", "?", "!?"}),
    "int64": frozenset({"=", "!=", ">", ">=", "<", "<=", "?", "!?"}),
    "integer": frozenset({"=", "!=", ">", ">=", "<", "<=", "?", "!?"}),
    "string": frozenset({"=", "!=", "~", "~~", "?", "!?"}),
    "boolean": frozenset({"=", "!="}),
    "array": frozenset({"~"}),
}
_NO_VALUE = frozenset({"?", "!?", "*"})

Predicate = Callable[[Record], bool]


@dataclass(frozen=True)
class Filter:
    """One parsed ``q[]`` condition."""

    name: str
    attr: str
    kind: FilterKind
    op: str
    value: Any  # parsed: int, list[int], str, bool, regex, None

    def range_bounds(self) -> tuple[int | None, int | None, bool, bool] | None:
        """(low, high, low_inclusive, high_inclusive) when this is an index-friendly range."""
        if self.kind != "date-time" or self.op not in {">", ">=", "<", "<="}:
            return None
        if self.op in {">", ">="}:
            return self.value, None, self.op == ">=", True
        return None, self.value, True, self.op == "<="


def _invalid(raw: str, why: str) -> ValidationFailed:
    return ValidationFailed({"q": f"{why}: {raw}"}, message="Invalid filter")


def _parse_int(raw: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _invalid(raw, "not a number") from None


def parse_filter(raw: str, allowed: Mapping[str, FilterKind], attrs: Mapping[str, str]) -> Filter:
    """Parse ``field:<op><value>``; unknown fields and operators are 422s."""
    name, sep, rest = raw.partition(":")
    name = name.strip()
    if not sep:
        raise _invalid(raw, "expected field:operator value")
    kind = allowed.get(name)
    if kind is None:
        raise _invalid(raw, f"cannot filter by {name!r}")
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None or op not in _ALLOWED[kind]:
        raise _invalid(raw, f"operator not allowed for a {kind} field")
    text = rest[len(op) :]
    attr = attrs.get(name, name)
    if op in _NO_VALUE:
        if text:
            raise _invalid(raw, "operator takes no value")
        return Filter(name, attr, kind, op, None)
    value: Any
    try:
        if kind == "date-time":
            value = parse_datetime(text)
        elif kind == "date":
            value = _date_matcher(text) if "*" in text else parse_date(text)
        elif kind in {"int64", "integer"}:
            value = [_parse_int(raw, part) for part in text.split(",")] if op == "=" else _parse_int(raw, text)
        elif kind == "boolean":
            if text not in {"true", "false"}:
                raise _invalid(raw, "expected true or false")
            value = text == "true"
        elif kind == "array":
            value = _parse_int(raw, text)
        elif op == "~~":
            value = _like(text)
        elif op == "~":
            value = text.lower()
        else:
            value = text
    except ValueError:
        raise _invalid(raw, f"not a valid {kind}") from None
    return Filter(name, attr, kind, op, value)


def _like(pattern: str) -> re.Pattern[str]:
    # SQL ILIKE: % any run, _ one character; everything else literal.
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _date_matcher(pattern: str) -> re.Pattern[str]:
    if len(pattern) != 10 or not re.fullmatch(r"[\d*]{4}-[\d*]{2}-[\d*]{2}", pattern):
        raise ValueError(pattern)
    return re.compile("^" + "".join(r"\d" if ch == "*" else re.escape(ch) for ch in pattern) + "$")


def compile_filter(f: Filter) -> Predicate | None:
    """A predicate for the filter; None when it admits every record (``*``)."""
    attr, op, value = f.attr, f.op, f.value
    if op == "*":
        return None
    if op == "?":
        return lambda r: r.get(attr) not in (None, "", [])
    if op == "!?":
        return lambda r: r.get(attr) in (None, "", [])
    if f.kind == "array":
        return lambda r: value in (r.get(attr) or ())
    if f.kind in {"int64", "integer"} and op == "=":
        wanted = frozenset(value)
        return lambda r: r.get(attr) in wanted
    if f.kind == "date" and op == "=" and isinstance(value, re.Pattern):
        pattern = value
        return lambda r: (v := r.get(attr)) is not None and pattern.match(v) is not None
    if f.kind == "string":
        if op == "~":
            return lambda r: (v := r.get(attr)) is not None and value in str(v).lower()
        if op == "~~":
            return lambda r: (v := r.get(attr)) is not None and value.match(str(v)) is not None
    if op == "=":
        return lambda r: r.get(attr) == value
    if op == "!=":
        # SQL semantics: NULL != x is unknown, so null rows don't match.
        return lambda r: (v := r.get(attr)) is not None and v != value
    if op == ">":
        return lambda r: (v := r.get(attr)) is not None and v > value
    if op == ">=":
        return lambda r: (v := r.get(attr)) is not None and v >= value
    if op == "<":
        return lambda r: (v := r.get(attr)) is not None and v < value
    if op == "<=":
        return lambda r: (v := r.get(attr)) is not None and v <= value
    raise AssertionError(op)  # pragma: no cover - parse_filter only lets known operators through


def parse_sort(raw: str | None, order: str | None, sortable: Iterable[str]) -> tuple[tuple[str, bool], ...]:
    """``sort=col[:asc|:desc],...`` to ((attr, descending), ...); default created_at ascending."""
    allowed = set(sortable)
    default_desc = (order or "").lower() == "desc"
    if not raw:
        return (("created_at", default_desc),)
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):
        col, _, direction = part.strip().partition(":")
        direction = direction.lower() or ("desc" if default_desc else "asc")
        if col not in allowed or direction not in {"asc", "desc"}:
            raise ValidationFailed({"sort": f"is invalid: {part.strip()}"})
        keys.append((col, direction == "desc"))
    return tuple(keys)


def sort_records(records: list[Record], keys: tuple[tuple[str, bool], ...]) -> list[Record]:
    """Stable multi-key sort; nulls last ascending and first descending (PostgreSQL's default);
    ties broken by id ascending so pages are deterministic."""
    out = sorted(records, key=_id_key)
    for attr, desc in reversed(keys):
        if attr == "id":
            out.sort(key=_id_key, reverse=desc)
            continue
        present = [r for r in out if r.get(attr) is not None]
        missing = [r for r in out if r.get(attr) is None]
        present.sort(key=lambda r, a=attr: _sortable(r[a]), reverse=desc)  # type: ignore[misc]
        out = missing + present if desc else present + missing
    return out


def _id_key(record: Record) -> int:
    return int(record["id"])


def _sortable(value: Any) -> Any:
    if isinstance(value, list | dict):
        return str(value)
    if isinstance(value, str):
        return value.lower()
    return value
