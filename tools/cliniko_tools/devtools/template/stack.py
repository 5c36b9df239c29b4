"""What the generators add to: the template's resources and outputs, in the order they are added."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stack:
    resources: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def add(self, logical_id: str, resource: dict[str, Any]) -> None:
        if logical_id in self.resources:
            raise ValueError(f"duplicate logical id {logical_id}")
        self.resources[logical_id] = resource
