"""Switches for what the simulator does beyond the official spec: one flag per undocumented convenience.

The connector must be right whichever way real Cliniko behaves where the spec is silent, so each such
behaviour can be turned off; `strict()` turns them all off (`simulator --strict`, `POST /__sim/behaviour`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

STRICT_PRESET = "strict"


@dataclass(frozen=True)
class SimulatorBehaviour:
    """The simulator's undocumented conveniences, on (True) or off.

    - `parent_bumps`: a change to a child moves its parent's `updated_at` (an attendee joining or leaving
      a group appointment, whose `patient_ids` change; an invoice's items, totals or payment status).
      The spec does not say Cliniko does.
    - `honour_sort`: lists are ordered by `sort`. The spec documents the parameter, not which columns each
      endpoint sorts by; off, every list comes in the default order (`created_at`, then `id`).
    - `case_insensitive_equals`: a `q[]` string filter's `=` (and `!=`) ignores case. Undocumented; off
      (the default) it compares exactly.
    - `read_only_writes`: the API accepts fields its request bodies don't list (fields Cliniko only shows,
      such as an appointment's `did_not_arrive`) and applies them as staff would. Off (the default) such a
      request is refused with a 422 naming the fields; staff-side changes go through the control surface.
    """

    parent_bumps: bool = True
    honour_sort: bool = True
    case_insensitive_equals: bool = False
    read_only_writes: bool = False

    @classmethod
    def strict(cls) -> SimulatorBehaviour:
        """Every undocumented convenience off: only what the official spec promises."""
        return cls(parent_bumps=False, honour_sort=False, case_insensitive_equals=False, read_only_writes=False)

    @property
    def is_strict(self) -> bool:
        return self == SimulatorBehaviour.strict()

    def updated(self, changes: dict[str, Any]) -> SimulatorBehaviour:
        """These flags changed (`{"strict": true}` first sets the strict preset); unknown names are refused."""
        if not isinstance(changes, dict):
            raise ValueError("expected an object of flags")
        base = SimulatorBehaviour.strict() if changes.get(STRICT_PRESET) is True else self
        if changes.get(STRICT_PRESET) is False:
            base = SimulatorBehaviour()
        names = {f.name for f in fields(self)}
        flags = {k: v for k, v in changes.items() if k != STRICT_PRESET}
        unknown = sorted(set(flags) - names)
        if unknown:
            raise ValueError(f"unknown behaviour flags: {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        if not all(isinstance(v, bool) for v in flags.values()):
            raise ValueError("behaviour flags are true or false")
        return replace(base, **flags)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), STRICT_PRESET: self.is_strict}
