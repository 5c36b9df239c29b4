"""The clinic's records as staff change them and as the API shows them, on top of the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliniko_tools.simulator.behaviour import SimulatorBehaviour
from cliniko_tools.simulator.clock import SimClock
from cliniko_tools.simulator.render import render
from cliniko_tools.simulator.resources import BOOKING_SOURCES, cancel_booking_or_attendee, refresh_group_patients
from cliniko_tools.simulator.schema import Record, ResourceDef, ValidationFailed
from cliniko_tools.simulator.store import NotFound, Store


class Clinic:
    """Staff-side writes (no HTTP, no rate limit) and rendering; ``base`` is the ``/v1`` URL links start with."""

    def __init__(self, store: Store, resources: Mapping[str, ResourceDef], clock: SimClock) -> None:
        self._store = store
        self._resources = resources
        self._clock = clock

    @property
    def behaviour(self) -> SimulatorBehaviour:
        """Which undocumented conveniences are on (see `SimulatorBehaviour`); settable at any time."""
        return self._store.behaviour

    @behaviour.setter
    def behaviour(self, value: SimulatorBehaviour) -> None:
        self._store.behaviour = value

    def render(self, resource: str, rec: Record, base: str) -> dict[str, Any]:
        """``rec`` as the API shows it (bookings are rendered as their own kind, linked as bookings)."""
        rdef = self._resources[resource]
        if rdef.union_of:
            owner = self._store.owner(resource, rec["id"]) or rdef.union_of[0]
            return render(self._resources[owner], rec, base, self_resource=resource)
        return render(rdef, rec, base)

    def create(self, resource: str, data: dict[str, Any], base: str) -> dict[str, Any]:
        """Create as clinic staff would; raises ValidationFailed."""
        rec = self._store.create(resource, data, staff=True)
        return self.render(resource, rec, base)

    def update(self, resource: str, record_id: str | int, data: dict[str, Any], base: str) -> dict[str, Any]:
        rec = self._store.update(resource, record_id, data, staff=True)
        return self.render(resource, rec, base)

    def get(self, resource: str, record_id: str | int, base: str) -> dict[str, Any] | None:
        """The record however hidden (archived, cancelled), or None."""
        rec = self._store.find(resource, record_id)
        return None if rec is None else self.render(resource, rec, base)

    def list(self, resource: str, include_archived: bool, base: str) -> list[dict[str, Any]]:
        """All records in created order; ``include_archived=False`` drops what default lists hide."""
        rdef = self._resources[resource]
        out = []
        for rec in self._store.all_records(resource):
            if not include_archived and any(rec.get(attr) is not None for attr in rdef.hide):
                continue
            out.append(self.render(resource, rec, base))
        return out

    def _require(self, resource: str, record_id: str | int) -> Record:
        if resource not in self._resources:
            raise KeyError(f"unknown resource {resource!r}")
        rec = self._store.find(resource, record_id)
        if rec is None:
            raise NotFound(f"{resource}/{record_id}")
        return rec

    def archive(self, resource: str, record_id: str | int) -> None:
        rec = self._require(resource, record_id)
        if "archived_at" not in self._resources[resource].field_map():
            raise ValidationFailed({"base": f"{resource} can't be archived"})
        if rec.get("archived_at") is None:
            self._store.set_fields(resource, rec["id"], {"archived_at": self._clock.now_epoch()})
            if resource == "attendees":
                refresh_group_patients(self._store, rec["booking_id"])

    def purge(self, resource: str, record_id: str | int) -> None:
        """Delete a record as staff do in Cliniko's UI where the API keeps no trace of it (availability
        blocks): gone from lists, 404 by id."""
        rec = self._require(resource, record_id)
        self._store.purge(resource, rec["id"])

    def unarchive(self, resource: str, record_id: str | int) -> None:
        rec = self._require(resource, record_id)
        if rec.get("archived_at") is not None:
            self._store.set_fields(resource, rec["id"], {"archived_at": None})
            if resource == "attendees":
                refresh_group_patients(self._store, rec["booking_id"])

    def cancel(self, resource: str, record_id: str | int, reason: int | str = 50, note: str | None = None) -> None:
        """Cancel an individual appointment or attendee (as from Cliniko's UI)."""
        if resource not in {"individual_appointments", "attendees"}:
            raise ValidationFailed({"base": f"{resource} can't be cancelled"})
        rec = self._require(resource, record_id)
        cancel_booking_or_attendee(self._store, resource, rec["id"], reason, note, staff=True)

    def pay_invoice(self, invoice_id: str | int, base: str) -> dict[str, Any]:
        """Open (10) -> Paid (20)."""
        rec = self._require("invoices", invoice_id)
        if rec.get("status") not in (10, 40):
            raise ValidationFailed({"status": "only open invoices can be paid"})
        # Paying adds a payment: the invoice's own updated_at moves only if Cliniko bumps parents.
        self._store.set_fields(
            "invoices", rec["id"], {"status": 20, "status_description": "Paid"}, touch=self.behaviour.parent_bumps
        )
        return self.get("invoices", invoice_id, base) or {}

    def close_invoice(self, invoice_id: str | int, base: str) -> dict[str, Any]:
        """Paid/Open -> Closed (30), stamping ``closed_at``."""
        rec = self._require("invoices", invoice_id)
        if rec.get("status") == 30:
            return self.get("invoices", invoice_id, base) or {}
        self._store.set_fields(
            "invoices", rec["id"], {"status": 30, "status_description": "Closed", "closed_at": self._clock.now_epoch()}
        )
        return self.get("invoices", invoice_id, base) or {}

    def has_conflicts(self, rec: Record) -> bool:
        """Another live booking of the same practitioner overlapping ``rec``."""
        practitioner, starts, ends = rec.get("practitioner_id"), rec.get("starts_at"), rec.get("ends_at")
        if practitioner is None or starts is None or ends is None:
            return False
        with self._store.lock:
            for source in BOOKING_SOURCES:
                for other in self._store.table(source).rows.values():
                    if (
                        other["id"] != rec["id"]
                        and other.get("practitioner_id") == practitioner
                        and other.get("cancelled_at") is None
                        and other.get("archived_at") is None
                        and other.get("starts_at", 0) < ends
                        and other.get("ends_at", 0) > starts
                    ):
                        return True
        return False
