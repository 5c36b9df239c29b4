"""UTC timestamps as Cliniko writes them: second precision, `Z` suffix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_ts(value: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` or an offset) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return parsed.astimezone(UTC)


def to_z(value: datetime) -> str:
    """Format as Cliniko's wire format, ``2026-11-26T14:40:27Z``."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_ts(value: str) -> str:
    return to_z(parse_ts(value))


ONE_SECOND = timedelta(seconds=1)
