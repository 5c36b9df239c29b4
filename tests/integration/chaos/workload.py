"""A seeded stream of clinic changes made to the simulator, and the trigger facts they imply.

Every change goes through the simulator's staff API (`create`, `update`, `archive`, `cancel`, `pay_invoice`),
exactly as clinic staff would make it in Cliniko. The workload remembers what it did so the test can derive
the events that must come out: one `.created` per record, the lifecycle transitions it caused (archived,
cancelled, paid, finalized, arrived, did_not_arrive), and which appointments it rescheduled. Edits are not
listed one by one: several edits between two polls legitimately collapse into one `.updated` event, so the
test checks each record's final state instead.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cliniko_tools.simulator import Simulator

Fact = tuple[str, str, str]  # (resource, record id, trigger name)

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NOTE_CONTENT = {"sections": [{"name": "Subjective", "questions": [{"name": "Pain", "type": "text", "answer": "3"}]}]}
GROUP_CAPACITY = 8
BURST_KINDS = (
    "create_patient",
    "edit_patient",
    "create_appointment",
    "edit_appointment",
    "pay_invoice",
    "create_note",
    "finalize_note",
    "edit_contact",
    "add_attendee",
)
# The streams whose records the workload makes and changes (it sets up businesses, practitioners and appointment
# types before the streams start, and the newer resources' streams run the same poll code).
RESOURCES = (
    "patients",
    "contacts",
    "individual_appointments",
    "group_appointments",
    "attendees",
    "availability_blocks",
    "unavailable_blocks",
    "invoices",
    "products",
    "medical_alerts",
    "treatment_notes",
)
# Clock steps between moments of activity: many stay in the same second, some pass the poller's overlap.
CLOCK_STEPS = (0, 0, 0, 1, 1, 2, 3, 7, 20, 45, 130)


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Workload:
    """Seeded changes across every polled resource; `changes` counts the writes made."""

    def __init__(self, sim: Simulator, seed: int) -> None:
        self.sim = sim
        self.rng = random.Random(seed)
        self.changes = 0
        self.kinds: Counter[str] = Counter()
        self.bursts: list[int] = []
        self.created: dict[str, set[str]] = defaultdict(set)
        self.lifecycle: set[Fact] = set()
        self.rescheduled: set[str] = set()
        self.live: dict[str, list[str]] = defaultdict(list)  # records still open for edits
        self.open_invoices: list[str] = []
        self.drafts: list[str] = []
        self.unmarked: list[str] = []  # appointments neither arrived nor marked did-not-arrive
        self.seats: dict[str, int] = {}  # group appointment id -> attendees booked in
        self.group_attendees: list[str] = []
        self._setup()
        self.ops: dict[str, tuple[float, Callable[[], bool]]] = {
            "create_patient": (8, self.create_patient),
            "edit_patient": (10, self.edit_patient),
            "archive_patient": (1, lambda: self._archive("patients")),
            "create_contact": (3, self.create_contact),
            "edit_contact": (3, self.edit_contact),
            "archive_contact": (0.5, lambda: self._archive("contacts")),
            "create_appointment": (8, self.create_appointment),
            "edit_appointment": (4, self.edit_appointment),
            "reschedule": (3, self.reschedule),
            "cancel_appointment": (1.5, self.cancel_appointment),
            "archive_appointment": (0.7, self.archive_appointment),
            "arrive": (3, lambda: self.mark_arrival("patient_arrived", "individual_appointment.arrived")),
            "did_not_arrive": (1, lambda: self.mark_arrival("did_not_arrive", "individual_appointment.did_not_arrive")),
            "create_group": (1, self.create_group),
            "edit_group": (1, lambda: self._edit("group_appointments", "notes")),
            "archive_group": (0.3, self.archive_group),
            "add_attendee": (4, self.add_attendee),
            "cancel_attendee": (1.2, self.cancel_attendee),
            "create_availability": (1.5, self.create_availability),
            "edit_availability": (1.5, self.edit_availability),
            "create_invoice": (4, self.create_invoice),
            "edit_invoice": (2, lambda: self._edit("invoices", "notes")),
            "pay_invoice": (3, self.pay_invoice),
            "create_product": (1, self.create_product),
            "edit_product": (1.5, lambda: self._edit("products", "notes")),
            "archive_product": (0.3, lambda: self._archive("products")),
            "create_alert": (1.5, self.create_alert),
            "edit_alert": (0.7, lambda: self._edit("medical_alerts", "name")),
            "archive_alert": (0.3, lambda: self._archive("medical_alerts", trigger=None)),
            "create_note": (4, self.create_note),
            "edit_note": (3, lambda: self._edit("treatment_notes", "title")),
            "finalize_note": (3, self.finalize_note),
        }
        self._names = list(self.ops)
        self._weights = [self.ops[n][0] for n in self._names]

    # -- driving ------------------------------------------------------------------------------------

    def run_round(self, quota: int, *, burst_chance: float = 0.12) -> int:
        """At least `quota` changes in moments separated by clock steps; some moments are same-second bursts
        larger than a page. Returns the number of changes made."""
        before = self.changes
        while self.changes - before < quota:
            self.sim.clock.advance(self.rng.choice(CLOCK_STEPS))
            if self.rng.random() < burst_chance:
                self.burst(self.rng.choice(BURST_KINDS), self.rng.randint(110, 260))
            else:
                self.few(self.rng.randint(1, 25))
        return self.changes - before

    def few(self, n: int) -> None:
        for _ in range(n):
            self.one(self.rng.choices(self._names, self._weights)[0])

    def burst(self, kind: str, n: int) -> None:
        """`n` changes of one kind inside the current second (the clock is frozen)."""
        before = self.changes
        for _ in range(n):
            self.one(kind)
        self.bursts.append(self.changes - before)

    def one(self, kind: str) -> None:
        if not self.ops[kind][1]():
            # Nothing to act on yet (no open invoice, no draft note…): create something instead.
            kind = "create_patient"
            self.create_patient()
        self.kinds[kind] += 1
        self.changes += 1

    def _text(self, label: str) -> str:
        return f"{label} {self.changes}-{self.rng.randrange(10**6)}"

    def _pick(self, pool: list[str]) -> str | None:
        return self.rng.choice(pool) if pool else None

    # -- set-up (not counted: these resources are not polled) -----------------------------------------

    def _setup(self) -> None:
        sim = self.sim
        business = sim.create("businesses", {"business_name": "Chaos Clinic", "country_code": "AU"})
        self.business = business["id"]
        self.practitioners = []
        for index in range(3):
            user = sim.store.create(
                "users",
                {"first_name": f"Prac{index}", "last_name": "Titioner", "email": f"prac{index}@chaos.example"},
                staff=True,
            )
            practitioner = sim.create(
                "practitioners",
                {
                    "first_name": f"Prac{index}",
                    "last_name": "Titioner",
                    "user_id": user["id"],
                    "business_ids": [int(self.business)],
                },
            )
            self.practitioners.append(practitioner["id"])
        self.appointment_type = sim.create("appointment_types", {"name": "Consult", "duration_in_minutes": 30})["id"]
        self.group_type = sim.create(
            "appointment_types", {"name": "Class", "duration_in_minutes": 60, "max_attendees": GROUP_CAPACITY}
        )["id"]

    # -- generic edits ------------------------------------------------------------------------------

    def _edit(self, resource: str, field: str) -> bool:
        record_id = self._pick(self.live[resource])
        if record_id is None:
            return False
        self.sim.update(resource, record_id, {field: self._text(field)})
        return True

    def _archive(self, resource: str, trigger: str | None = "archived") -> bool:
        record_id = self._pick(self.live[resource])
        if record_id is None:
            return False
        self.sim.archive(resource, record_id)
        self.live[resource].remove(record_id)
        if trigger is not None:
            self.lifecycle.add((resource, record_id, f"{resource.removesuffix('s')}.{trigger}"))
        return True

    def _created(self, resource: str, record: dict[str, object], *, editable: bool = True) -> str:
        record_id = str(record["id"])
        self.created[resource].add(record_id)
        if editable:
            self.live[resource].append(record_id)
        return record_id

    # -- patients and contacts ------------------------------------------------------------------------

    def create_patient(self) -> bool:
        n = self.changes
        self._created(
            "patients",
            self.sim.create(
                "patients", {"first_name": f"Pat{n}", "last_name": "Chaos", "email": f"p{n}@chaos.example"}
            ),
        )
        return True

    def edit_patient(self) -> bool:
        record_id = self._pick(self.live["patients"])
        if record_id is None:
            return False
        field = self.rng.choice(("first_name", "notes", "city", "occupation"))
        self.sim.update("patients", record_id, {field: self._text(field)})
        return True

    def create_contact(self) -> bool:
        self._created("contacts", self.sim.create("contacts", {"first_name": "Dr", "last_name": self._text("GP")}))
        return True

    def edit_contact(self) -> bool:
        return self._edit("contacts", self.rng.choice(("notes", "last_name", "occupation")))

    # -- individual appointments (each carries an attendee) ---------------------------------------------

    def _slot(self) -> datetime:
        return START + timedelta(days=1, minutes=15 * self.rng.randrange(4 * 24 * 60))

    def create_appointment(self) -> bool:
        patient = self._pick(self.live["patients"])
        if patient is None:
            return False
        record = self.sim.create(
            "individual_appointments",
            {
                "starts_at": ts(self._slot()),
                "patient_id": patient,
                "practitioner_id": self.rng.choice(self.practitioners),
                "appointment_type_id": self.appointment_type,
                "business_id": self.business,
            },
        )
        record_id = self._created("individual_appointments", record)
        self.unmarked.append(record_id)
        raw = self.sim.store.find("individual_appointments", record_id)
        assert raw is not None
        self.created["attendees"].add(str(raw["attendee_id"]))  # Cliniko books the patient in with it
        return True

    def edit_appointment(self) -> bool:
        return self._edit("individual_appointments", "notes")

    def reschedule(self) -> bool:
        record_id = self._pick(self.live["individual_appointments"])
        if record_id is None:
            return False
        if self.rng.random() < 0.7:
            starts = self._slot()
            change = {"starts_at": ts(starts), "ends_at": ts(starts + timedelta(minutes=30))}
        else:
            current = self.sim.get("individual_appointments", record_id) or {}
            link = str(current["practitioner"]["links"]["self"])
            others = [p for p in self.practitioners if not link.endswith(f"/{p}")]
            change = {"practitioner_id": self.rng.choice(others)}
        self.sim.update("individual_appointments", record_id, change)
        self.rescheduled.add(record_id)
        return True

    def _close_appointment(self, record_id: str) -> None:
        self.live["individual_appointments"].remove(record_id)
        if record_id in self.unmarked:
            self.unmarked.remove(record_id)

    def cancel_appointment(self) -> bool:
        record_id = self._pick(self.live["individual_appointments"])
        if record_id is None:
            return False
        self.sim.cancel("individual_appointments", record_id, reason=self.rng.choice((10, 30, 40, 50)))
        self._close_appointment(record_id)
        self.lifecycle.add(("individual_appointments", record_id, "individual_appointment.cancelled"))
        raw = self.sim.store.find("individual_appointments", record_id)
        assert raw is not None
        # Cancelling the appointment cancels its attendee too.
        self.lifecycle.add(("attendees", str(raw["attendee_id"]), "attendee.cancelled"))
        return True

    def archive_appointment(self) -> bool:
        record_id = self._pick(self.live["individual_appointments"])
        if record_id is None:
            return False
        self.sim.archive("individual_appointments", record_id)
        self._close_appointment(record_id)
        self.lifecycle.add(("individual_appointments", record_id, "individual_appointment.archived"))
        return True

    def mark_arrival(self, field: str, trigger: str) -> bool:
        record_id = self._pick(self.unmarked)
        if record_id is None:
            return False
        self.sim.update("individual_appointments", record_id, {field: True})
        self.unmarked.remove(record_id)
        self.lifecycle.add(("individual_appointments", record_id, trigger))
        return True

    # -- group appointments and their attendees --------------------------------------------------------

    def create_group(self) -> bool:
        record = self.sim.create(
            "group_appointments",
            {
                "starts_at": ts(self._slot()),
                "practitioner_id": self.rng.choice(self.practitioners),
                "appointment_type_id": self.group_type,
                "business_id": self.business,
            },
        )
        self.seats[self._created("group_appointments", record)] = 0
        return True

    def archive_group(self) -> bool:
        if not self._archive("group_appointments"):
            return False
        self.seats = {g: n for g, n in self.seats.items() if g in self.live["group_appointments"]}
        return True

    def add_attendee(self) -> bool:
        groups = [g for g, n in self.seats.items() if n < GROUP_CAPACITY]
        patient = self._pick(self.live["patients"])
        if not groups or patient is None:
            if patient is not None:
                self.create_group()  # the class is full: open another one (this is the change made)
                return True
            return False
        group = self.rng.choice(groups)
        record = self.sim.create("attendees", {"booking_id": group, "patient_id": patient})
        self.created["attendees"].add(str(record["id"]))
        self.group_attendees.append(str(record["id"]))
        self.seats[group] += 1
        return True

    def cancel_attendee(self) -> bool:
        record_id = self._pick(self.group_attendees)
        if record_id is None:
            return False
        self.sim.cancel("attendees", record_id)
        self.group_attendees.remove(record_id)
        self.lifecycle.add(("attendees", record_id, "attendee.cancelled"))
        return True

    # -- availability, invoices, products, alerts, notes ------------------------------------------------

    def create_availability(self) -> bool:
        starts = self._slot()
        record = self.sim.create(
            "availability_blocks",
            {
                "starts_at": ts(starts),
                "ends_at": ts(starts + timedelta(hours=3)),
                "practitioner_id": self.rng.choice(self.practitioners),
                "business_id": self.business,
            },
        )
        self._created("availability_blocks", record)
        return True

    def edit_availability(self) -> bool:
        record_id = self._pick(self.live["availability_blocks"])
        if record_id is None:
            return False
        starts = self._slot()
        self.sim.update(
            "availability_blocks",
            record_id,
            {"starts_at": ts(starts), "ends_at": ts(starts + timedelta(hours=self.rng.randint(1, 6)))},
        )
        return True

    def create_invoice(self) -> bool:
        patient = self._pick(self.live["patients"])
        if patient is None:
            return False
        record = self.sim.create(
            "invoices",
            {"patient_id": patient, "business_id": self.business, "practitioner_id": self.practitioners[0]},
        )
        self.open_invoices.append(self._created("invoices", record))
        return True

    def pay_invoice(self) -> bool:
        record_id = self._pick(self.open_invoices)
        if record_id is None:
            return False
        self.sim.pay_invoice(record_id)
        self.open_invoices.remove(record_id)
        self.lifecycle.add(("invoices", record_id, "invoice.paid"))
        return True

    def create_product(self) -> bool:
        record = self.sim.create(
            "products", {"name": self._text("Theraband"), "price": f"{self.rng.randint(5, 90)}.50"}
        )
        self._created("products", record)
        return True

    def create_alert(self) -> bool:
        patient = self._pick(self.live["patients"])
        if patient is None:
            return False
        self._created(
            "medical_alerts", self.sim.create("medical_alerts", {"name": self._text("Allergy"), "patient_id": patient})
        )
        return True

    def create_note(self) -> bool:
        patient = self._pick(self.live["patients"])
        if patient is None:
            return False
        record = self.sim.create(
            "treatment_notes", {"patient_id": patient, "title": self._text("Consult"), "content": NOTE_CONTENT}
        )
        self.drafts.append(self._created("treatment_notes", record))
        return True

    def finalize_note(self) -> bool:
        record_id = self._pick(self.drafts)
        if record_id is None:
            return False
        self.sim.update("treatment_notes", record_id, {"draft": False})
        self.drafts.remove(record_id)
        self.lifecycle.add(("treatment_notes", record_id, "treatment_note.finalized"))
        return True
