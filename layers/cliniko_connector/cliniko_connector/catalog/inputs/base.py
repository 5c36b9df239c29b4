"""What every action input model is built on: strict, unknown fields rejected, built on first use."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, Field, model_validator

from cliniko_connector.catalog.types import STRICT_INPUT, Email


def optional() -> Any:
    """An optional field that may be left out but not sent as null (Cliniko doesn't accept null there)."""
    return Field(default=None)


class ActionInput(BaseModel):
    """Base of every action input: strict, unknown fields rejected."""

    model_config = STRICT_INPUT

    @classmethod
    def rule(cls) -> str | None:
        """A constraint across fields, for the docs."""
        return None


class UpdateInput(ActionInput):
    """`id` plus at least one field to change (null clears a field where Cliniko allows it)."""

    @classmethod
    def rule(cls) -> str | None:
        return "`id` and at least one field to change"

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_fields_set - {"id"}:
            raise ValueError("give at least one field to change besides `id`")
        return self


class LookupInput(ActionInput):
    """A find by `id` alone, or by one or more of `lookup_keys` (combined with AND)."""

    lookup_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def rule(cls) -> str | None:
        keys = ", ".join(f"`{k}`" for k in cls.lookup_keys)
        if "id" not in cls.model_fields:
            return f"at least one of {keys}"
        return f"`id` alone, or at least one of {keys}"

    @model_validator(mode="after")
    def _one_way_to_look(self) -> Self:
        given = [k for k in self.lookup_keys if k in self.model_fields_set]
        by_id = "id" in self.model_fields_set
        if by_id and given:
            raise ValueError(f"look up by `id` alone, or by {', '.join(self.lookup_keys)}; not both")
        if not by_id and not given:
            raise ValueError(f"give {self.rule()}")
        return self


class EmailLookupInput(LookupInput):
    """A find by `id`, or by `email` (compared ignoring case); searches may include archived records."""

    lookup_keys = ("email",)
    email: Email = optional()
    include_archived: bool = Field(
        default=False,
        description="Email searches only: also match archived (and deleted) records. A lookup by id always does.",
    )


class EndsAfterStarts(ActionInput):
    @model_validator(mode="after")
    def _ends_after_starts(self) -> Self:
        starts, ends = getattr(self, "starts_at", None), getattr(self, "ends_at", None)
        if starts is not None and ends is not None and ends <= starts:
            raise ValueError("`ends_at` must be after `starts_at`")
        return self
