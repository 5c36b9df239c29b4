"""The local stack's record of what reached its bus: the stand-in for the template's EventArchive.

moto's archives replay every archived event whatever the time window and skip rules' input transformers,
so the local stack keeps its own: `up(..., archive=True)` adds a catch-all rule into a queue
(`stack.ArchiveInfo`), and `LocalArchive.drain()` (called by the runner every cycle and by `replay`) moves
what the queue holds into a JSON-lines file next to the state file, one event per line as EventBridge
delivered it. Events put back by a replay carry a `…:replay/NAME` resource and are not archived again,
the way EventBridge archives leave replayed events out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cliniko_tools.local.private import open_private
from cliniko_tools.local.stack import ArchiveInfo, StackState

REPLAY_RESOURCE_MARK = ":replay/"


def replay_resource(state: StackState, name: str) -> str:
    """The resource a replayed event carries, naming its replay (EventBridge adds `replay-name` instead)."""
    return f"arn:aws:events:{state.region}:{state.account_id}:replay/{name}"


def is_replayed(event: dict[str, Any]) -> bool:
    return any(REPLAY_RESOURCE_MARK in str(r) for r in event.get("resources") or [])


def event_time(event: dict[str, Any]) -> datetime | None:
    """An archived event's `time` (an ISO string from EventBridge; moto may give epoch seconds)."""
    value = event.get("time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


class LocalArchive:
    """Drains the archive queue into the archive file and reads it back."""

    def __init__(self, info: ArchiveInfo, sqs: Any) -> None:
        if info.path is None:
            raise ValueError("this local archive has no file (the stack was brought up without a state file)")
        self.info = info
        self.path = Path(info.path)
        self._sqs = sqs

    def drain(self, max_messages: int = 100_000) -> int:
        """Append every queued event to the file (replays left out); the number of events kept."""
        kept = 0
        received = 0
        while received < max_messages:
            response = self._sqs.receive_message(
                QueueUrl=self.info.queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
            )
            messages: list[dict[str, Any]] = response.get("Messages", [])
            if not messages:
                break
            received += len(messages)
            lines = []
            for message in messages:
                try:
                    event = json.loads(message["Body"])
                except ValueError:
                    continue
                if isinstance(event, dict) and not is_replayed(event):
                    event.pop("ingestion-time", None)
                    lines.append(json.dumps(event, separators=(",", ":"), sort_keys=True))
            if lines:
                # Written before the messages are deleted: a crash in between repeats lines, which `events`
                # drops by id, rather than losing them.
                # Full-mode events hold patient records: the file is its owner's only (0600).
                with open_private(self.path) as archive:
                    archive.write("\n".join(lines) + "\n")
                kept += len(lines)
            self._sqs.delete_message_batch(
                QueueUrl=self.info.queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return kept

    def events(self) -> Iterator[dict[str, Any]]:
        """Every archived event, oldest first, each once."""
        if not self.path.exists():
            return
        seen: set[str] = set()
        with self.path.open(encoding="utf-8") as archive:
            for line in archive:
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                event_id = str(event.get("id", ""))
                if event_id and event_id in seen:
                    continue
                seen.add(event_id)
                yield event
