"""What the console reads and changes, through the CLI's own use-cases: `ConsoleBackend` is what the pages need,
`StackBackend` the stack the CLI points at (AWS with the operator's credentials, or the local stack).

Nothing here formats anything for people; the app does. Every method may raise what the use-cases raise
(`ConnectorError`, AWS SDK errors): the app shows them as one line, the way the CLI does."""

from __future__ import annotations

import argparse
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from cliniko_connector.models import ConnectionStatus
from cliniko_connector.usecases.dlq import FailedMessage
from cliniko_connector.usecases.status import ConnectionReport

# The newest events kept for the page: the archive is read to its end, keeping this many.
RECENT_EVENTS = 500


class ConsoleBackend(Protocol):
    """The stack as the console sees it."""

    where: str

    def reports(self) -> list[ConnectionReport]: ...

    def recent_events(self) -> list[dict[str, Any]]:
        """The newest events that reached the bus, oldest first (at most RECENT_EVENTS)."""
        ...

    def failures(self) -> list[FailedMessage]:
        """What is in the dead-letter queues (left there)."""
        ...

    def redrive(self, message_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Send these messages back; each one's summary with `redriven` and `result`."""
        ...

    def set_connection(self, connection_id: str, status: ConnectionStatus) -> None: ...

    def set_trigger(self, connection_id: str, trigger: str, *, on: bool) -> None: ...

    def automations(self) -> list[dict[str, Any]]:
        """Deployed automations as `automations list --json` gives them."""
        ...

    def automation_names(self) -> list[str]:
        """The automations in the local folder (what "test with a sample" can try)."""
        ...

    def try_automation(self, name: str, event: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        """`automations test NAME` with `event` (None: the trigger's sample): the trial and the event tried."""
        ...

    def close(self) -> list[str]:
        """Release what the console made (the events tail on AWS); what could not be removed."""
        ...


class BusFollower:
    """On AWS, where the archive can't be read: a tail of the bus (`events tail`'s temporary rule and queue),
    opened when the events page is first asked for, read by a thread into a ring, removed by `close`."""

    def __init__(self, tail: Any, keep: int = RECENT_EVENTS) -> None:
        self.tail = tail
        self.events: deque[dict[str, Any]] = deque(maxlen=keep)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.tail.open()
            self._thread = threading.Thread(target=self._run, name="console-bus-tail", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for event in self.tail.receive(5):
                    self.events.append(event)
            except Exception:  # a broken read: try again after a pause rather than kill the page
                self._stop.wait(5)

    def recent(self) -> list[dict[str, Any]]:
        self.start()
        return list(self.events)

    def close(self) -> list[str]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return self.tail.close() if self._thread is not None else []


class StackBackend:
    """The stack the CLI points at, found the way every command finds it (`--stack-state`, the environment)."""

    def __init__(self, stack_state: Path | None = None, automations_path: str = "automations") -> None:
        from cliniko_connector.settings import PollerSettings
        from cliniko_connector.wiring import build_runtime
        from cliniko_tools.cli.context import settings_from
        from cliniko_tools.cli.events import stack_target

        self.args = argparse.Namespace(stack_state=stack_state, connector_stack=None, template_bucket=None)
        self.settings = settings_from(self.args, PollerSettings)
        self.runtime = build_runtime(self.settings)
        self.target = stack_target(self.args)
        self.automations_path = automations_path
        self.where = (
            f"local stack ({self.target.state_path})"
            if self.target.is_local
            else f"AWS stack {self.settings.stack_name or '(STACK_NAME not set)'}, bus {self.settings.event_bus_name}"
        )
        self._follower: BusFollower | None = None

    def reports(self) -> list[ConnectionReport]:
        from cliniko_connector.usecases.status import StatusReader
        from cliniko_tools.cli.status import rate_usage_for

        reader = StatusReader(
            self.runtime.connections,
            self.runtime.state,
            rate_usage_for(self.runtime),
            default_payload_mode=self.settings.default_payload_mode,
            rate_window_seconds=self.settings.rate_window_seconds,
        )
        return reader.report()

    def recent_events(self) -> list[dict[str, Any]]:
        local = self.target.local
        if local is not None:
            if local.archive is None or local.archive.path is None:
                return []
            from cliniko_tools.local.archive import LocalArchive

            archive = LocalArchive(local.archive, self.target.client("sqs"))
            return list(deque(archive.events(), maxlen=RECENT_EVENTS))
        if self._follower is None:
            from cliniko_connector.adapters.bus_operations import EventBridgeTail
            from cliniko_connector.usecases.tail import LONG_POLL_SECONDS, BusTail

            sqs = self.target.client("sqs", long_poll_seconds=LONG_POLL_SECONDS)
            channel = EventBridgeTail(self.target.client("events"), sqs, self.settings.event_bus_name)
            self._follower = BusFollower(BusTail(channel))
        return self._follower.recent()

    def failures(self) -> list[FailedMessage]:
        from cliniko_tools.cli.dlq import dead_letters

        letters = dead_letters(self.target)
        messages = letters.receive(letters.queues, limit=100)
        letters.release(messages)
        return messages

    def redrive(self, message_ids: Sequence[str]) -> list[dict[str, Any]]:
        from cliniko_tools.cli.dlq import dead_letters, redrive_targets, send_back

        letters = dead_letters(self.target)
        messages = letters.receive(letters.queues, limit=100)
        chosen = [m for m in messages if m.message_id in message_ids]
        letters.release([m for m in messages if m not in chosen])
        return send_back(letters, chosen, redrive_targets(self.target)) if chosen else []

    def _admin(self) -> Any:
        from cliniko_connector.usecases.connections import ConnectionAdmin

        r = self.runtime
        return ConnectionAdmin(r.connections, r.secrets, r.state, r.api_for_key)

    def set_connection(self, connection_id: str, status: ConnectionStatus) -> None:
        self._admin().set_status(connection_id, status)

    def set_trigger(self, connection_id: str, trigger: str, *, on: bool) -> None:
        if on:
            self._admin().enable_triggers(connection_id, [trigger], None)
        else:
            self._admin().disable_triggers(connection_id, [trigger])

    def automations(self) -> list[dict[str, Any]]:
        from cliniko_tools.cli.automations_deploy import Target, deployed_automations

        target = Target(self.args)
        if not target.on_aws and not target.state_path.is_file():
            return []
        return deployed_automations(target)

    def automation_names(self) -> list[str]:
        from cliniko_tools.automations.model import load_folder

        folder = Path(self.automations_path)
        if not folder.is_dir():
            return []
        return sorted(a.automation.name for a in load_folder(folder).automations)

    def try_automation(self, name: str, event: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        from cliniko_tools.automations.trial import try_event
        from cliniko_tools.automations.validate import sample_event
        from cliniko_tools.cli.automations import find_automation

        item, folder = find_automation(name, self.automations_path)
        if event is None:
            event = sample_event(item.automation.when.trigger)
        trial = try_event(item, folder, event, source=str(event.get("source") or "cliniko"))
        return trial, event

    def close(self) -> list[str]:
        return self._follower.close() if self._follower is not None else []
