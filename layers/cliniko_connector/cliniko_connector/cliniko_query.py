"""Cliniko query parameters (`q[]` filters, `sort`), apart from the HTTP client so the use-cases that build
queries don't import `requests` (a function that never calls Cliniko, the dispatcher, doesn't load it)."""

from __future__ import annotations

from datetime import datetime

from cliniko_connector.timeutil import to_z


def q(field: str, operator: str, value: object = "") -> tuple[str, str]:
    """One `q[]` filter, e.g. `q("updated_at", ">=", ts)`; datetimes are sent as UTC `Z` strings."""
    if isinstance(value, datetime):
        value = to_z(value)
    elif isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return ("q[]", f"{field}:{operator}{value}")


def sort(*columns: str) -> tuple[str, str]:
    return ("sort", ",".join(columns))
