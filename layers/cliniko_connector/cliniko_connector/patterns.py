"""EventBridge event patterns: validate one, and tell whether an event matches it, by AWS's documented rules.

The rules, as EventBridge's user guide states them (event patterns, comparison operators, arrays, null values):

- A pattern is a JSON object. Each field names an event field; fields are ANDed. A nested object matches a
  nested object of the event. A leaf is a list of values and operators, ORed.
- Values match exactly and by type (`"5"` is not `5`, `null` is not `""`).
- An event field holding an array matches when any of its elements matches. Arrays of objects are
  flattened: each field of the pattern below the array is matched against that field of every element,
  independently of the others.
- A field the event lacks matches nothing but `{"exists": false}`. `exists` looks at leaves only: a field
  holding an object does not exist as a leaf.
- Operators: `prefix`, `suffix` (each with an optional `equals-ignore-case`), `equals-ignore-case`, `wildcard`
  (`*` any run of characters, `\\*` a star), `anything-but` (values; or `prefix`, `suffix`, `equals-ignore-case`,
  `wildcard`), `numeric` (`=`, or at most one lower and one upper bound among `>`, `>=`, `<`, `<=`), `exists`,
  `cidr` (IPv4 or IPv6), and `$or` (a list of at least two patterns, any of which may match, beside the other
  fields). String operators match strings only; `numeric` matches numbers only.

No third-party code: the Lambda layer ships it.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cliniko_connector.errors import ConfigurationError

NUMERIC_LIMIT = 5.0e9  # EventBridge accepts numeric bounds within ±5.0e9
_LOWER = frozenset({">", ">="})
_UPPER = frozenset({"<", "<="})
_STRING_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
OPERATORS = frozenset({*_STRING_OPERATORS, "anything-but", "numeric", "exists", "cidr"})


class InvalidEventPattern(ConfigurationError):
    """A pattern EventBridge would refuse; `path` is where in the pattern (`detail.state[0]`)."""

    error_type = "InvalidEventPattern"

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


# --------------------------------------------------------------------------- validation


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def validate(pattern: Any) -> None:
    """Raise `InvalidEventPattern` (with where and why) unless `pattern` is a pattern EventBridge accepts."""
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("an event pattern is a JSON object")
    if not pattern:
        raise InvalidEventPattern("an event pattern names at least one field")
    _validate_object(pattern, "")


def _validate_object(node: dict[str, Any], path: str) -> None:
    for key, value in node.items():
        where = _join(path, key)
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidEventPattern("`$or` takes a list of at least two patterns", where)
            for i, branch in enumerate(value):
                if not isinstance(branch, dict) or not branch:
                    raise InvalidEventPattern("each `$or` branch is a non-empty object", f"{where}[{i}]")
                _validate_object(branch, f"{where}[{i}]")
        elif isinstance(value, dict):
            if not value:
                raise InvalidEventPattern("an empty object matches nothing; give fields or remove it", where)
            _validate_object(value, where)
        elif isinstance(value, list):
            if not value:
                raise InvalidEventPattern("an empty list matches nothing; give at least one value", where)
            for i, item in enumerate(value):
                _validate_matcher(item, f"{where}[{i}]")
        else:
            raise InvalidEventPattern(
                f"a field's values go in a list (`[{json.dumps(value)}]`), or it holds an object", where
            )


def _validate_matcher(item: Any, where: str) -> None:
    if item is None or isinstance(item, str | bool):
        return
    if isinstance(item, int | float):
        if not math.isfinite(item):
            raise InvalidEventPattern("numbers must be finite", where)
        return
    if not isinstance(item, dict):
        raise InvalidEventPattern("a value is a string, number, boolean, null or an operator object", where)
    if len(item) != 1:
        raise InvalidEventPattern("an operator object has exactly one operator", where)
    [(op, arg)] = item.items()
    if op not in OPERATORS:
        raise InvalidEventPattern(f"unknown operator `{op}` (one of {', '.join(sorted(OPERATORS))})", where)
    where = f"{where}.{op}"
    if op in ("prefix", "suffix"):
        if isinstance(arg, dict):
            if set(arg) != {"equals-ignore-case"} or not isinstance(arg["equals-ignore-case"], str):
                raise InvalidEventPattern(f"`{op}` takes a string or {{`equals-ignore-case`: string}}", where)
        elif not isinstance(arg, str):
            raise InvalidEventPattern(f"`{op}` takes a string", where)
    elif op == "equals-ignore-case":
        if not isinstance(arg, str):
            raise InvalidEventPattern("`equals-ignore-case` takes a string", where)
    elif op == "wildcard":
        _validate_wildcard(arg, where)
    elif op == "exists":
        if not isinstance(arg, bool):
            raise InvalidEventPattern("`exists` takes true or false", where)
    elif op == "cidr":
        if not isinstance(arg, str):
            raise InvalidEventPattern("`cidr` takes a string such as 10.0.0.0/24", where)
        try:
            ipaddress.ip_network(arg, strict=False)
        except ValueError:
            raise InvalidEventPattern("`cidr` is not an IPv4 or IPv6 network", where) from None
    elif op == "numeric":
        _bounds(arg, where)
    else:
        _validate_anything_but(arg, where)


def _validate_wildcard(arg: Any, where: str) -> None:
    if not isinstance(arg, str):
        raise InvalidEventPattern("`wildcard` takes a string", where)
    if "**" in arg.replace("\\*", ""):
        raise InvalidEventPattern("`wildcard` may not have two `*` in a row", where)
    if re.search(r"\\[^*\\]|\\$", arg):
        raise InvalidEventPattern("in `wildcard`, `\\` escapes only `*` or `\\`", where)


def _validate_anything_but(arg: Any, where: str) -> None:
    if isinstance(arg, dict):
        if len(arg) != 1:
            raise InvalidEventPattern("`anything-but` takes one operator", where)
        [(op, inner)] = arg.items()
        if op not in _STRING_OPERATORS:
            raise InvalidEventPattern(
                "`anything-but` takes values, or one of prefix, suffix, equals-ignore-case, wildcard", where
            )
        items = inner if isinstance(inner, list) else [inner]
        if not items or not all(isinstance(s, str) for s in items):
            raise InvalidEventPattern(f"`anything-but` `{op}` takes a string or a list of strings", f"{where}.{op}")
        if op == "wildcard":
            for s in items:
                _validate_wildcard(s, f"{where}.{op}")
        return
    items = arg if isinstance(arg, list) else [arg]
    if not items:
        raise InvalidEventPattern("`anything-but` needs at least one value", where)
    strings = all(isinstance(v, str) for v in items)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in items)
    if not (strings or numbers):
        raise InvalidEventPattern("`anything-but` takes strings only, or numbers only", where)


def _bounds(arg: Any, where: str) -> list[tuple[str, float]]:
    if not isinstance(arg, list) or not arg or len(arg) % 2:
        raise InvalidEventPattern('`numeric` takes operator and number pairs, e.g. [">", 0, "<=", 5]', where)
    pairs: list[tuple[str, float]] = []
    for i in range(0, len(arg), 2):
        op, value = arg[i], arg[i + 1]
        if op not in ("=", *_LOWER, *_UPPER):
            raise InvalidEventPattern(f"`{op}` is not a numeric operator (=, <, <=, >, >=)", where)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise InvalidEventPattern(f"`{op}` needs a number", where)
        if abs(value) > NUMERIC_LIMIT:
            raise InvalidEventPattern("numeric bounds must be within ±5.0e9", where)
        pairs.append((op, float(value)))
    ops = [op for op, _ in pairs]
    if "=" in ops and len(ops) > 1:
        raise InvalidEventPattern("`=` stands alone in `numeric`", where)
    if sum(op in _LOWER for op in ops) > 1 or sum(op in _UPPER for op in ops) > 1:
        raise InvalidEventPattern("`numeric` takes at most one lower and one upper bound", where)
    lower = next((v for op, v in pairs if op in _LOWER), None)
    upper = next((v for op, v in pairs if op in _UPPER), None)
    if lower is not None and upper is not None and lower >= upper:
        raise InvalidEventPattern("the lower bound must be below the upper bound", where)
    return pairs


# --------------------------------------------------------------------------- matching


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether `event` matches `pattern` (call `validate` first: invalid patterns aren't diagnosed here)."""
    return mismatch(pattern, event) is None


def mismatch(pattern: dict[str, Any], event: Any) -> str | None:
    """The first field of `pattern` (dotted, `detail.state`) the event doesn't satisfy; None when it matches."""
    return _mismatch(pattern, [event], "")


def _objects(nodes: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """The objects among `nodes`, arrays flattened (an array of objects is each of its objects)."""
    for node in nodes:
        if isinstance(node, dict):
            yield node
        elif isinstance(node, list):
            yield from _objects(node)


def _leaves(nodes: Iterable[Any]) -> list[Any]:
    """The leaf values among `nodes`, arrays flattened; objects are not leaves."""
    out: list[Any] = []
    for node in nodes:
        if isinstance(node, list):
            out.extend(_leaves(node))
        elif not isinstance(node, dict):
            out.append(node)
    return out


def _mismatch(pattern: dict[str, Any], nodes: list[Any], path: str) -> str | None:
    objects = list(_objects(nodes))
    for key, sub in pattern.items():
        where = _join(path, key)
        if key == "$or":
            if all(_mismatch(branch, nodes, path) is not None for branch in sub):
                return where
            continue
        children = [obj[key] for obj in objects if key in obj]
        if isinstance(sub, dict):
            inner = _mismatch(sub, children, where)
            if inner is not None:
                return inner
        elif not _match_leaf(sub, _leaves(children)):
            return where
    return None


def _match_leaf(matchers: list[Any], values: list[Any]) -> bool:
    for matcher in matchers:
        if isinstance(matcher, dict) and "exists" in matcher:
            if bool(values) == matcher["exists"]:
                return True
        elif any(_match_value(matcher, value) for value in values):
            return True
    return False


def _same(a: Any, b: Any) -> bool:
    """JSON equality by type: booleans aren't numbers, numbers compare by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _match_value(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _same(matcher, value)
    [(op, arg)] = matcher.items()
    if op == "numeric":
        return _is_number(value) and _in_bounds(float(value), _bounds(arg, ""))
    if op == "cidr":
        return isinstance(value, str) and _in_network(value, arg)
    if op == "anything-but":
        return _anything_but(arg, value)
    return isinstance(value, str) and _string_op(op, arg, value)


def _string_op(op: str, arg: Any, value: str) -> bool:
    if op in ("prefix", "suffix"):
        ignore_case = isinstance(arg, dict)
        text = arg["equals-ignore-case"] if ignore_case else arg
        subject, wanted = (value.casefold(), text.casefold()) if ignore_case else (value, text)
        return subject.startswith(wanted) if op == "prefix" else subject.endswith(wanted)
    if op == "equals-ignore-case":
        return bool(value.casefold() == arg.casefold())
    if op == "wildcard":
        return _wildcard(arg).fullmatch(value) is not None
    return False


def _anything_but(arg: Any, value: Any) -> bool:
    if isinstance(arg, dict):
        [(op, inner)] = arg.items()
        if not isinstance(value, str):
            return True  # not a string: it can't begin, end or be like the given strings
        if op == "equals-ignore-case":
            items = inner if isinstance(inner, list) else [inner]
            return all(value.casefold() != s.casefold() for s in items)
        items = inner if isinstance(inner, list) else [inner]
        return not any(_string_op(op, s, value) for s in items)
    items = arg if isinstance(arg, list) else [arg]
    return not any(_same(item, value) for item in items)


def _in_bounds(value: float, pairs: list[tuple[str, float]]) -> bool:
    for op, bound in pairs:
        ok = {
            "=": value == bound,
            ">": value > bound,
            ">=": value >= bound,
            "<": value < bound,
            "<=": value <= bound,
        }[op]
        if not ok:
            return False
    return True


def _in_network(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except (ValueError, TypeError):
        return False


def _wildcard(text: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            parts.append(re.escape(text[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def matcher(pattern: Any) -> Callable[[Any], bool]:
    """`validate` then a one-argument predicate (what `replay` and the local stack's rules use)."""
    validate(pattern)

    def test(event: Any) -> bool:
        return matches(pattern, event)

    return test
