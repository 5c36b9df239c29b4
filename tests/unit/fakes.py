"""An in-memory Cliniko list endpoint, just enough of `ports.ClinikoApi` for the poller's unit tests.

It understands the filters the poller sends (`updated_at` >=/<, `id` >, `archived_at:*`, …), sorts by
the requested columns and pages by `per_page`, and lets a test change the data between two requests to
recreate races such as a record moving while the poller walks the list. Integration tests use the
simulator over HTTP instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cliniko_connector.ports import Page, Params
from cliniko_connector.timeutil import parse_ts


class FakeCliniko:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        self.before_request: Callable[[int], None] = lambda n: None

    def put(self, resource: str, record: dict[str, Any]) -> None:
        self.records.setdefault(resource, {})[str(record["id"])] = dict(record)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        json: Mapping[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        raise NotImplementedError("the poller only lists")

    def iter_records(
        self, path: str, *, params: Params = (), deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        raise NotImplementedError("the poller only lists")

    def list_page(self, path_or_url: str, *, params: Params = (), deadline: float | None = None) -> Page:
        self.before_request(len(self.requests))
        self.requests.append((path_or_url, list(params)))
        resource = path_or_url.strip("/")
        rows = list(self.records.get(resource, {}).values())
        per_page = 50
        sort_cols = ["created_at"]
        for key, value in params:
            if key == "per_page":
                per_page = int(value)
            elif key == "sort":
                sort_cols = value.split(",")
            elif key == "q[]":
                rows = [r for r in rows if _matches(r, value)]
        rows.sort(key=lambda r: tuple(_sort_value(r, c) for c in sort_cols))
        page = rows[:per_page]
        return Page(
            records=[dict(r) for r in page], total_entries=len(rows), next_url="next" if len(rows) > per_page else None
        )


def _sort_value(record: dict[str, Any], column: str) -> Any:
    value = record.get(column)
    return int(value) if column == "id" else value


def _matches(record: dict[str, Any], expression: str) -> bool:
    field, _, rest = expression.partition(":")
    if rest == "*":
        return True
    for op in (">=", "<=", ">", "<"):
        if rest.startswith(op):
            operand = rest[len(op) :]
            value = record.get(field)
            if field == "id":
                a, b = int(str(value)), int(operand)
                return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]
            left, right = parse_ts(str(value)), parse_ts(operand)
            return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[op]
    raise AssertionError(f"the fake does not understand {expression!r}")
