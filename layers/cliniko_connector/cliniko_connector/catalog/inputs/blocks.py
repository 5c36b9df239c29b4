"""Action input models: availability blocks, unavailable blocks (breaks) (see `catalog.actions`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cliniko_connector.catalog.inputs.base import ActionInput, EndsAfterStarts, LookupInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    AppointmentRepeatRule,
    AvailabilityBlockId,
    BlockRepeatRule,
    BusinessId,
    NonEmpty,
    PractitionerId,
    UnavailableBlockId,
    UtcTimestamp,
)

# --------------------------------------------------------------------------- availability blocks


class AvailabilityBlockCreate(EndsAfterStarts):
    starts_at: UtcTimestamp
    ends_at: UtcTimestamp
    practitioner_id: PractitionerId
    business_id: BusinessId
    repeat_rule: BlockRepeatRule | None = optional()


class AvailabilityBlockListIds(LookupInput):
    lookup_keys = ("practitioner_id", "business_id")
    practitioner_id: PractitionerId = optional()
    business_id: BusinessId = optional()
    starts_from: UtcTimestamp = optional()
    starts_before: UtcTimestamp = optional()
    limit: Annotated[int, Field(ge=1, le=5000)] = 1000


class AvailabilityBlockGet(ActionInput):
    id: AvailabilityBlockId


# --------------------------------------------------------------------------- unavailable blocks (breaks)


class _UnavailableBlockFields(EndsAfterStarts):
    starts_at: UtcTimestamp = optional()
    ends_at: UtcTimestamp = optional()
    practitioner_id: PractitionerId = optional()
    business_id: BusinessId = optional()
    notes: NonEmpty | None = optional()
    repeat_rule: AppointmentRepeatRule | None = optional()


class UnavailableBlockCreate(_UnavailableBlockFields):
    """A break: time a practitioner can't be booked (the spec's repeat rule allows up to 51 repeats here)."""

    starts_at: UtcTimestamp
    ends_at: UtcTimestamp
    practitioner_id: PractitionerId
    business_id: BusinessId


class UnavailableBlockUpdate(UpdateInput, _UnavailableBlockFields):
    id: UnavailableBlockId


class UnavailableBlockListIds(AvailabilityBlockListIds):
    pass


class UnavailableBlockRef(ActionInput):
    id: UnavailableBlockId
