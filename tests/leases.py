"""Taking and letting go of a stream's lease the way a poller does (a conditional write of its cursor), for
tests that need another worker to hold a stream or that check the stores' lease semantics."""

from __future__ import annotations

from datetime import UTC, datetime

from cliniko_connector.errors import CursorConflict
from cliniko_connector.models import StreamCursor, StreamKey
from cliniko_connector.ports import StreamStateStore

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def take_lease(state: StreamStateStore, stream: StreamKey, owner: str, seconds: int) -> bool:
    """Lease the stream to `owner` for `seconds` (creating a cursor at the epoch if it has none); False if
    another owner holds an unexpired lease."""
    cursor = state.get_cursor(stream)
    try:
        if cursor is None:
            new = StreamCursor(position=EPOCH, origin=EPOCH)
            state.put_cursor(stream, new, expected_version=None, owner=owner, lease_seconds=seconds)
        else:
            state.put_cursor(stream, cursor, expected_version=cursor.version, owner=owner, lease_seconds=seconds)
    except CursorConflict:
        return False
    return True


def release_lease(state: StreamStateStore, stream: StreamKey, owner: str) -> None:
    """Let the lease go if `owner` holds it (anyone else's stays)."""
    cursor = state.get_cursor(stream)
    if cursor is None or state.leased_by(cursor) != owner:
        return
    state.put_cursor(stream, cursor, expected_version=cursor.version, owner=owner)
