"""Replaying what reached the bus: from the EventBridge archive on AWS, from the local archive locally.

On AWS, `StartReplay` sends every archived event of the window back to the bus (or only to chosen rules);
EventBridge can't filter a replay by pattern. Locally the archive is a file (`local.archive`): the events
of the window that match the pattern are put back on the bus, marked so the archive doesn't keep them twice.
Replayed trigger events keep their `event_key`, so idempotent actions don't act twice on the same change,
as long as the idempotency record is still there: a window older than its lifetime leaves action requests
out unless asked (`exclude_action_requests`), because the writes they ask for would run again.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cliniko_connector import patterns
from cliniko_connector.errors import ConfigurationError, ConnectorError, PublishError
from cliniko_connector.eventmodels import ACTION_REQUESTED, SCHEDULED_ACTION_DUE
from cliniko_connector.models import BusEvent
from cliniko_connector.ports import EventArchive, EventPublisher
from cliniko_connector.timeutil import to_z

TERMINAL_STATES = frozenset({"COMPLETED", "CANCELLED", "FAILED"})


def replay_name(now: datetime | None = None) -> str:
    """`cliniko-20260105T093000-1a2b3c`: unique, sortable, and within StartReplay's 64 characters."""
    now = now or datetime.now(UTC)
    return f"cliniko-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def outlives_idempotency(since: datetime, now: datetime, ttl_seconds: int) -> bool:
    """Whether a window starting at `since` reaches back past the idempotency records' lifetime: requests
    from then on are no longer recognised as done, so their writes would run again."""
    return since < now - timedelta(seconds=ttl_seconds)


def _matches_detail_type(pattern: str | None, detail_type: str) -> bool:
    try:
        parsed = json.loads(pattern or "{}")
    except ValueError:
        return False
    types = parsed.get("detail-type") if isinstance(parsed, dict) else None
    return isinstance(types, list) and detail_type in types


def is_action_request_rule(pattern: str | None) -> bool:
    """A rule whose pattern matches `Cliniko Action Requested` events (the template's action rules)."""
    return _matches_detail_type(pattern, ACTION_REQUESTED)


def is_due_rule(pattern: str | None) -> bool:
    """A waiting automation's due rule (`Scheduled Action Due`): never replayed. What it delivers (an SMS, a
    webhook call) has no idempotency record, so a replayed due event would send a reminder twice; replaying the
    trigger events instead lets the scheduling function decide again, and it keeps at most one schedule."""
    return _matches_detail_type(pattern, SCHEDULED_ACTION_DUE)


def check_window(since: datetime, until: datetime) -> None:
    if since >= until:
        raise ConfigurationError(f"--since ({to_z(since)}) must be before --until ({to_z(until)})")


@dataclass(frozen=True)
class ReplayProgress:
    name: str
    state: str
    since: datetime
    until: datetime
    last_replayed: datetime | None = None
    reason: str | None = None

    @property
    def fraction(self) -> float | None:
        if self.state == "COMPLETED":
            return 1.0
        if self.last_replayed is None:
            return None
        span = (self.until - self.since).total_seconds()
        done = (self.last_replayed - self.since).total_seconds()
        return max(0.0, min(1.0, done / span)) if span > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": "aws",
            "name": self.name,
            "state": self.state,
            "since": to_z(self.since),
            "until": to_z(self.until),
            "last_replayed": to_z(self.last_replayed) if self.last_replayed else None,
            "fraction": self.fraction,
            "reason": self.reason,
        }


@dataclass
class ArchiveReplay:
    """A replay from the bus's archive (EventBridge `StartReplay`), followed until it ends."""

    archive: EventArchive
    sleep: Callable[[float], None] = time.sleep

    def start(
        self,
        name: str,
        since: datetime,
        until: datetime,
        rules: Iterable[str] = (),
        *,
        exclude_action_requests: bool = False,
    ) -> ReplayProgress:
        """Replay the window to `rules` (default: every rule); with `exclude_action_requests`, to every rule
        but the action-request rules (EventBridge replays can't filter events, only their rules)."""
        check_window(since, until)
        rule_arns = [rule if rule.startswith("arn:") else self.archive.rule_arn(rule) for rule in rules]
        due = {rule.arn for rule in self.archive.rules() if is_due_rule(rule.event_pattern)}
        if due:
            everyone = {rule.arn for rule in self.archive.rules() if not rule.managed}
            rule_arns = [arn for arn in rule_arns if arn not in due] if rule_arns else sorted(everyone - due)
            if not rule_arns:
                raise ConfigurationError("nothing to replay: due rules of scheduled actions are never replayed")
        if exclude_action_requests:
            keep = self._rules_without_action_requests()
            rule_arns = [arn for arn in rule_arns if arn in keep] if rule_arns else sorted(keep)
            if not rule_arns:
                raise ConfigurationError(
                    "nothing to replay: only action-request rules were chosen (--include-action-requests)"
                )
        started = self.archive.start_replay(name, since, until, rule_arns)
        return ReplayProgress(name=name, state=started.state, since=since, until=until)

    def describe(self, name: str, since: datetime, until: datetime) -> ReplayProgress:
        now = self.archive.describe_replay(name)
        return ReplayProgress(
            name=name, state=now.state, since=since, until=until, last_replayed=now.last_replayed, reason=now.reason
        )

    def follow(
        self,
        progress: ReplayProgress,
        on_progress: Callable[[ReplayProgress], None],
        *,
        interval_seconds: float = 2.0,
    ) -> ReplayProgress:
        """Describe the replay every `interval_seconds` until it ends; Ctrl-C stops following, not the replay."""
        while progress.state not in TERMINAL_STATES:
            self.sleep(interval_seconds)
            progress = self.describe(progress.name, progress.since, progress.until)
            on_progress(progress)
        return progress

    def _rules_without_action_requests(self) -> set[str]:
        return {
            rule.arn
            for rule in self.archive.rules()
            if not rule.managed and not is_action_request_rule(rule.event_pattern)
        }


# -- local --------------------------------------------------------------------------------------------


def pattern_matcher(pattern: dict[str, Any] | None) -> Callable[[dict[str, Any]], bool]:
    """EventBridge pattern matching by AWS's documented rules (`cliniko_connector.patterns`)."""
    if not pattern:
        return lambda event: True
    try:
        return patterns.matcher(pattern)
    except patterns.InvalidEventPattern as exc:
        raise ConfigurationError(f"--pattern is not a valid EventBridge event pattern: {exc}") from None


@dataclass
class LocalReplayOutcome:
    name: str
    since: datetime
    until: datetime
    replayed: int = 0
    by_detail_type: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": "local",
            "name": self.name,
            "since": to_z(self.since),
            "until": to_z(self.until),
            "replayed": self.replayed,
            "by_detail_type": dict(sorted(self.by_detail_type.items())),
        }


@dataclass
class LocalReplay:
    """Puts archived events of a window that match a pattern back on the local bus."""

    bus: EventPublisher  # the local bus
    archived: Callable[[], Iterable[dict[str, Any]]]
    event_time: Callable[[dict[str, Any]], datetime | None]
    marker: Callable[[str], str]

    def matching(
        self,
        since: datetime,
        until: datetime,
        pattern: dict[str, Any] | None = None,
        *,
        exclude_action_requests: bool = False,
    ) -> list[dict[str, Any]]:
        check_window(since, until)
        matches = pattern_matcher(pattern)
        chosen = []
        for event in self.archived():
            if exclude_action_requests and event.get("detail-type") == ACTION_REQUESTED:
                continue
            if event.get("detail-type") == SCHEDULED_ACTION_DUE:
                continue  # never replayed: see `is_due_rule`
            at = self.event_time(event)
            if at is not None and since <= at <= until and matches(event):
                chosen.append(event)
        return chosen

    def replay(
        self,
        name: str,
        since: datetime,
        until: datetime,
        pattern: dict[str, Any] | None = None,
        *,
        exclude_action_requests: bool = False,
    ) -> LocalReplayOutcome:
        outcome = LocalReplayOutcome(name=name, since=since, until=until)
        chosen = self.matching(since, until, pattern, exclude_action_requests=exclude_action_requests)
        marker = self.marker(name)
        for start in range(0, len(chosen), 10):
            batch = chosen[start : start + 10]
            try:
                self.bus.publish([self._event(event, marker) for event in batch])
            except PublishError as exc:
                raise PublishError(
                    f"the bus refused {exc.failed} replayed event(s) after {outcome.replayed} were put back",
                    failed=exc.failed,
                    error_codes=sorted(set(exc.error_codes)),
                ) from None
            outcome.replayed += len(batch)
            outcome.by_detail_type.update(str(e.get("detail-type")) for e in batch)
        return outcome

    def _event(self, event: dict[str, Any], marker: str) -> BusEvent:
        if not isinstance(event.get("detail"), dict) or not event.get("source") or not event.get("detail-type"):
            raise ConnectorError("an archived event lacks source, detail-type or detail; the archive file is damaged")
        return BusEvent(
            source=str(event["source"]),
            detail_type=str(event["detail-type"]),
            detail=event["detail"],
            resources=(*[str(r) for r in event.get("resources") or []], marker),
            time=self.event_time(event),
        )
