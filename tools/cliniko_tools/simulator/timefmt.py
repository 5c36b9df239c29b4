"""Wire formats for times: UTC, second precision, ``Z`` suffix."""

from __future__ import annotations

import calendar
import re
import time
from datetime import date, datetime

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def format_datetime(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_datetime(value: str) -> int:
    """ISO-8601 (``Z``, an offset, or naive = UTC) to whole epoch seconds; ValueError if invalid."""
    text = value.strip()
    if not text or not text[0].isdigit():
        raise ValueError(value)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        return calendar.timegm(parsed.timetuple())
    return int(parsed.timestamp() // 1)


def parse_date(value: str) -> str:
    """Validate ``YYYY-MM-DD``; returns it unchanged (stored dates compare as strings)."""
    if not _DATE_RE.match(value):
        raise ValueError(value)
    date.fromisoformat(value)
    return value
