"""Fault injection: make the next requests fail the ways real networks and Cliniko do."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = frozenset({"server_error", "latency", "timeout", "reset", "malformed_json", "rate_limit"})
DEFAULT_TIMEOUT_DELAY = 30.0


@dataclass
class Fault:
    """One injected rule; ``remaining`` None means unlimited (subject to ``fraction``)."""

    kind: str
    remaining: int | None
    fraction: float | None
    status: int
    delay: float
    paths: tuple[str, ...] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "fraction": self.fraction,
            "status": self.status,
            "delay": self.delay,
            "paths": list(self.paths) if self.paths is not None else None,
        }


class FaultInjector:
    """Thread-safe list of fault rules; the first rule that applies to a request wins."""

    def __init__(self, seed: int = 1729) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._rng = random.Random(seed)

    def inject(
        self,
        kind: str,
        count: int | None = None,
        fraction: float | None = None,
        status: int = 500,
        delay: float = 0.0,
        paths: list[str] | tuple[str, ...] | str | None = None,
    ) -> Fault:
        """Add a rule for the next ``count`` requests, or a ``fraction`` of them, or (neither) all.

        ``paths``: substrings; the rule only applies to request paths containing one of them.
        ``delay``: seconds for "latency"; for "timeout" the stall before the connection is dropped
        (default 30 s; a stopping server cuts it short).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count is not None and count < 0:
            raise ValueError("count must be >= 0")
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within 0..1")
        if kind == "timeout" and not delay:
            delay = DEFAULT_TIMEOUT_DELAY
        if kind == "rate_limit" and status == 500:
            status = 429
        if isinstance(paths, str):
            paths = (paths,)
        rule = Fault(kind, count, fraction, int(status), float(delay), tuple(paths) if paths else None)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def pick(self, path: str) -> Fault | None:
        """The fault to apply to this request, if any (consumes one use of a counted rule)."""
        with self._lock:
            for rule in self._rules:
                if rule.paths is not None and not any(p in path for p in rule.paths):
                    continue
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                if rule.fraction is not None and self._rng.random() >= rule.fraction:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                self._rules = [r for r in self._rules if r.remaining is None or r.remaining > 0]
                return rule
            return None
