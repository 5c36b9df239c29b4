"""Seed data: ``demo`` (a small clinic), ``generate:N`` (volume, deterministic), ``examples`` (the docs)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources as package_files
from typing import Any

from cliniko_tools.simulator.resources import CANCELLATION_REASONS, INVOICE_STATUSES
from cliniko_tools.simulator.schema import Record
from cliniko_tools.simulator.store import Store, money
from cliniko_tools.simulator.timefmt import parse_datetime

GENERATOR_SEED = 20240601
NOTE_CONTENT = {
    "sections": [
        {
            "name": "Subjective",
            "questions": [
                {"name": "Presenting complaint", "type": "paragraph"},
                {"name": "Pain (0-10)", "type": "text"},
            ],
        },
        {"name": "Plan", "questions": [{"name": "Treatment plan", "type": "paragraph"}]},
    ]
}


def apply_seed(store: Store, seed: str) -> int | None:
    """Load ``seed`` into ``store``; returns the user id that owns the API keys (or None)."""
    if seed == "demo":
        return _demo(store)
    if seed == "examples":
        return _examples(store)
    if seed.startswith("generate:"):
        try:
            count = int(seed.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"bad seed {seed!r}: expected generate:N") from None
        return generate(store, count)
    raise ValueError(f"unknown seed {seed!r}; expected demo, examples or generate:N")


# --------------------------------------------------------------------------- demo


def _demo(store: Store) -> int:

    def make(resource: str, data: dict[str, Any]) -> Record:
        return store.create(resource, data, staff=True)

    owner = make(
        "users",
        {"first_name": "Avery", "last_name": "Admin", "email": "avery@harbourside.example", "role": "administrator"},
    )
    business = make(
        "businesses",
        {
            "business_name": "Harbourside Physio",
            "address_1": "1 Wharf Road",
            "city": "Sydney",
            "state": "NSW",
            "post_code": "2000",
            "country_code": "AU",
            "time_zone_identifier": "Australia/Sydney",
            "email_reply_to": "hello@harbourside.example",
        },
    )
    practitioners = []
    for first, last, title, designation in (
        ("Jordan", "Lee", "Dr", "Physiotherapist"),
        ("Sam", "Patel", None, "Osteopath"),
    ):
        user = make(
            "users",
            {
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}@harbourside.example",
                "role": "practitioner",
            },
        )
        practitioners.append(
            make(
                "practitioners",
                {
                    "first_name": first,
                    "last_name": last,
                    "title": title,
                    "designation": designation,
                    "user_id": user["id"],
                    "business_ids": [business["id"]],
                },
            )
        )
    template = make("treatment_note_templates", {"name": "Standard consult", "content": NOTE_CONTENT})
    practitioner_ids = [p["id"] for p in practitioners]
    types = [
        make(
            "appointment_types",
            {
                "name": name,
                "duration_in_minutes": minutes,
                "color": color,
                "category": "Physio",
                "practitioner_ids": practitioner_ids,
                "business_ids": [business["id"]],
                "treatment_note_template_id": template["id"],
                "show_in_online_bookings": True,
            },
        )
        for name, minutes, color in (("Initial Consultation", 60, "#2d7ff9"), ("Follow-up", 30, "#20c997"))
    ]
    store.update("businesses", business["id"], {"appointment_type_ids": [t["id"] for t in types]}, staff=True)
    patients = [
        make(
            "patients",
            {
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}.{last.lower()}@example.com",
                "date_of_birth": dob,
                "patient_phone_numbers": [{"phone_type": "Mobile", "number": phone}],
                "city": "Sydney",
                "country": "Australia",
                "time_zone": "Australia/Sydney",
            },
        )
        for first, last, dob, phone in (
            ("Ada", "Lovelace", "1985-12-10", "0400 000 001"),
            ("Grace", "Hopper", "1979-12-09", "0400 000 002"),
            ("Alan", "Turing", "1990-06-23", "0400 000 003"),
            ("Katherine", "Johnson", "1968-08-26", "0400 000 004"),
            ("Edsger", "Dijkstra", "1972-05-11", "0400 000 005"),
        )
    ]
    make("medical_alerts", {"name": "Latex allergy", "patient_id": patients[0]["id"]})
    tomorrow = (store.clock.now() + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    for index, patient in enumerate(patients[:3]):
        starts = tomorrow + timedelta(hours=9 + index)
        make(
            "individual_appointments",
            {
                "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "patient_id": patient["id"],
                "practitioner_id": practitioners[index % 2]["id"],
                "appointment_type_id": types[index % 2]["id"],
                "business_id": business["id"],
            },
        )
    return int(owner["id"])


# --------------------------------------------------------------------------- generate:N

_FIRST = [
    "Olivia",
    "Noah",
    "Charlotte",
    "Oliver",
    "Amelia",
    "Jack",
    "Isla",
    "William",
    "Mia",
    "Henry",
    "Ava",
    "Leo",
    "Grace",
    "Lucas",
    "Chloe",
    "Thomas",
    "Sophie",
    "James",
    "Zoe",
    "Ethan",
    "Ella",
    "Liam",
    "Ruby",
    "Max",
    "Harper",
    "Alexander",
    "Lily",
    "Hudson",
    "Evie",
    "Archer",
    "Matilda",
    "Mason",
    "Sienna",
    "Hugo",
    "Aria",
    "Samuel",
    "Layla",
    "Isaac",
    "Willow",
    "Harrison",
    "Ivy",
    "Lachlan",
    "Frankie",
    "Elijah",
    "Hazel",
    "Theodore",
    "Georgia",
    "Arlo",
    "Aisha",
    "Wei",
    "Priya",
    "Mohammed",
    "Fatima",
    "Hiroshi",
    "Mei",
    "Santiago",
    "Lucia",
    "Kofi",
    "Amara",
]
_LAST = [
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Johnson",
    "White",
    "Martin",
    "Anderson",
    "Thompson",
    "Nguyen",
    "Thomas",
    "Walker",
    "Harris",
    "Lee",
    "Ryan",
    "Robinson",
    "Kelly",
    "King",
    "Davis",
    "Wright",
    "Evans",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Chen",
    "Wang",
    "Singh",
    "Murphy",
    "O'Brien",
    "Garcia",
    "Rossi",
    "Müller",
    "Kowalski",
    "Haddad",
    "Okafor",
    "Tanaka",
    "Kim",
    "Silva",
]
_CITIES = (
    ("Melbourne", "VIC", "3000"),
    ("Sydney", "NSW", "2000"),
    ("Brisbane", "QLD", "4000"),
    ("Perth", "WA", "6000"),
)
_ALERTS = ("Latex allergy", "Penicillin allergy", "Pacemaker", "Diabetic", "Asthma", "Pregnant", "Blood thinners")
_APPT_TYPES = (
    ("Initial Consultation", 60, "#2d7ff9"),
    ("Standard Consultation", 30, "#20c997"),
    ("Extended Consultation", 45, "#f59f00"),
    ("Review", 15, "#845ef7"),
)
_DAY = 86_400


def generate(store: Store, patients: int) -> int:
    """Deterministic clinic data for ``patients`` patients, spread over the year before the clock.

    Per patient on average: ~1.9 individual appointments (each with its attendee), ~1.5 invoices
    with an item, ~1.5 treatment notes, ~0.3 medical alerts (about 10 records in all); a few
    percent archived / cancelled. Records are bulk-loaded (no validation) in created order, so ids
    grow with ``created_at``.
    """
    rng = random.Random(GENERATOR_SEED * 1_000_003 + patients)
    now = store.clock.now_epoch()
    start = now - 365 * _DAY

    owner = store.create(
        "users",
        {"first_name": "Avery", "last_name": "Admin", "email": "owner@clinic.example", "role": "administrator"},
        staff=True,
    )
    businesses = [
        store.create(
            "businesses",
            {
                "business_name": f"{city} Clinic",
                "city": city,
                "state": state,
                "post_code": post_code,
                "country_code": "AU",
                "time_zone_identifier": "Australia/Melbourne",
            },
            staff=True,
        )
        for city, state, post_code in _CITIES[: 1 + patients // 5000]
    ]
    business_ids = [b["id"] for b in businesses]
    practitioner_count = max(2, min(60, patients // 400 + 2))
    practitioners = []
    for index in range(practitioner_count):
        first, last = _FIRST[index % len(_FIRST)], _LAST[(index * 7) % len(_LAST)]
        user = store.create(
            "users",
            {
                "first_name": first,
                "last_name": last,
                "email": f"practitioner{index}@clinic.example",
                "role": "practitioner",
            },
            staff=True,
        )
        practitioners.append(
            store.create(
                "practitioners",
                {
                    "first_name": first,
                    "last_name": last,
                    "designation": "Physiotherapist",
                    "user_id": user["id"],
                    "business_ids": [business_ids[index % len(business_ids)]],
                    "active": index % 15 != 14,
                },
                staff=True,
            )
        )
    template = store.create("treatment_note_templates", {"name": "Consult note", "content": NOTE_CONTENT}, staff=True)
    types = [
        store.create(
            "appointment_types",
            {
                "name": name,
                "duration_in_minutes": minutes,
                "color": color,
                "practitioner_ids": [p["id"] for p in practitioners],
                "business_ids": business_ids,
                "treatment_note_template_id": template["id"],
            },
            staff=True,
        )
        for name, minutes, color in _APPT_TYPES
    ]
    prices = [Decimal("120.00"), Decimal("85.00"), Decimal("105.00"), Decimal("45.00")]

    # Build every record first, then bulk-load per table in created order.
    tables: dict[str, list[Record]] = {
        name: []
        for name in (
            "patients",
            "medical_alerts",
            "individual_appointments",
            "attendees",
            "invoices",
            "invoice_items",
            "treatment_notes",
        )
    }
    events: list[tuple[int, str, Record]] = []
    invoice_number = 0
    for index in range(patients):
        created = start + int(rng.random() * 330 * _DAY)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        city, state, post_code = rng.choice(_CITIES)
        patient: Record = {
            "first_name": first,
            "last_name": last,
            "label": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower().replace(chr(39), '')}{index}@example.com",
            "date_of_birth": f"{rng.randint(1940, 2015)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "patient_phone_numbers": [
                {
                    "phone_type": "Mobile",
                    "number": f"04{index % 100_000_000:08d}",
                    "normalized_number": f"+614{index % 100_000_000:08d}",
                }
            ],
            "city": city,
            "state": state,
            "post_code": post_code,
            "country": "Australia",
            "reminder_type": rng.choice(("SMS", "Email", "SMS & Email", "None")),
        }
        updated = min(now, created + int(rng.random() * 20 * _DAY))
        if rng.random() < 0.03:
            patient["archived_at"] = updated
        events.append((created, "patients", patient))
        patient["_times"] = (created, updated)
        if rng.random() < 0.3:
            events.append(
                (
                    created + 60,
                    "medical_alerts",
                    {"name": rng.choice(_ALERTS), "_patient": patient, "_times": (created + 60, created + 60)},
                )
            )
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
            booked = created + int(rng.random() * max(1, now - created))
            starts = booked + rng.randint(1, 21) * _DAY
            starts -= starts % 900
            appt_type = rng.randrange(len(types))
            practitioner = rng.choice(practitioners)
            appt: Record = {
                "_patient": patient,
                "patient_name": patient["label"],
                "practitioner_id": practitioner["id"],
                "appointment_type_id": types[appt_type]["id"],
                "business_id": business_ids[0],
                "starts_at": starts,
                "ends_at": starts + 60 * int(types[appt_type]["duration_in_minutes"]),
                "_times": (booked, min(now, booked + rng.randint(0, 3) * _DAY)),
            }
            roll = rng.random()
            if roll < 0.06:
                reason = rng.choice(tuple(CANCELLATION_REASONS))
                appt.update(
                    cancelled_at=appt["_times"][1],
                    cancellation_reason=reason,
                    cancellation_reason_description=CANCELLATION_REASONS[reason],
                )
            elif starts < now:
                appt["patient_arrived"] = roll > 0.1
                appt["did_not_arrive"] = roll <= 0.1
            events.append((booked, "individual_appointments", appt))
            if starts < now and "cancelled_at" not in appt and appt.get("patient_arrived"):
                invoice_number += 1
                status = 20 if rng.random() < 0.8 else 10
                price = prices[appt_type]
                issued = min(now, starts + 3600)
                events.append(
                    (
                        issued,
                        "invoices",
                        {
                            "_patient": patient,
                            "_appointment": appt,
                            "practitioner_id": practitioner["id"],
                            "business_id": business_ids[0],
                            "number": invoice_number,
                            "issue_date": datetime.fromtimestamp(issued, UTC).date().isoformat(),
                            "status": status,
                            "status_description": INVOICE_STATUSES[status],
                            "net_amount": money(price),
                            "tax_amount": "0.00",
                            "total_amount": money(price),
                            "discounted_amount": "0.00",
                            "_item": (types[appt_type]["name"], price),
                            "_times": (issued, min(now, issued + (2 * _DAY if status == 20 else 0))),
                        },
                    )
                )
                draft = rng.random() < 0.1
                events.append(
                    (
                        issued,
                        "treatment_notes",
                        {
                            "_patient": patient,
                            "_appointment": appt,
                            "practitioner_id": practitioner["id"],
                            "treatment_note_template_id": template["id"],
                            "title": "Consult note",
                            "author_name": practitioner["label"],
                            "draft": draft,
                            "content": NOTE_CONTENT,
                            "_times": (issued, issued),
                            **({} if draft else {"finalized_at": issued}),
                        },
                    )
                )
    events.sort(key=lambda e: e[0])
    for _, resource, rec in events:
        created_at, updated_at = rec.pop("_times")
        rec["id"] = store.next_id(store.resources[resource].seq)
        rec["created_at"], rec["updated_at"] = created_at, max(created_at, updated_at)
        linked = rec.pop("_patient", None)
        if linked is not None:
            rec["patient_id"] = linked["id"]
        appointment = rec.pop("_appointment", None)
        if appointment is not None:
            rec["booking_id" if resource == "treatment_notes" else "appointment_id"] = appointment["id"]
        item = rec.pop("_item", None)
        tables[resource].append(rec)
        if resource == "individual_appointments":
            rec["patient_ids"] = [rec["patient_id"]]
            attendee: Record = {
                "id": store.next_id("attendees"),
                "booking_id": rec["id"],
                "patient_id": rec["patient_id"],
                "created_at": rec["created_at"],
                "updated_at": rec["updated_at"],
            }
            for key in ("cancelled_at", "cancellation_reason", "cancellation_reason_description"):
                if key in rec:
                    attendee[key] = rec[key]
            if rec.get("patient_arrived"):
                attendee["arrived"] = True
            rec["attendee_id"] = attendee["id"]
            tables["attendees"].append(attendee)
        if item is not None:
            name, price = item
            tables["invoice_items"].append(
                {
                    "id": store.next_id("invoice_items"),
                    "invoice_id": rec["id"],
                    "name": name,
                    "quantity": 1,
                    "unit_price": money(price),
                    "net_price": money(price),
                    "discounted_amount": "0.00",
                    "tax_amount": 0.0,
                    "total_including_tax": float(price),
                    "created_at": rec["created_at"],
                    "updated_at": rec["created_at"],
                }
            )
    for resource, records in tables.items():
        store.bulk_load(resource, records)
    return int(owner["id"])


# --------------------------------------------------------------------------- examples

# Example file -> resource it seeds. Legacy /appointments and list_* duplicates are skipped.
_EXAMPLE_ORDER = (
    "users",
    "businesses",
    "practitioners",
    "appointment_types",
    "patients",
    "contacts",
    "products",
    "treatment_note_templates",
    "individual_appointments",
    "group_appointments",
    "attendees",
    "availability_blocks",
    "medical_alerts",
    "treatment_notes",
    "communications",
    "invoices",
)
_OPERATION_RANK = {"get": 0, "list": 1, "create": 2, "update": 3}
# Fields whose schema (pattern/enum) can't hold the docs' "" placeholders; the live API sends null.
_BLANK_IS_NULL = frozenset({"dva_card_number", "cancellation_reason_description", "reminder_type", "doctor_type"})
_TIME_FIELDS = frozenset(
    {
        "created_at",
        "updated_at",
        "archived_at",
        "deleted_at",
        "cancelled_at",
        "starts_at",
        "ends_at",
        "closed_at",
        "finalized_at",
        "merged_at",
        "pinned_at",
    }
)


def example_documents() -> Iterator[tuple[str, str, Any]]:
    """(resource, operation, parsed body) for every documented response example shipped in the package."""
    folder = package_files.files("cliniko_tools.simulator").joinpath("examples")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = entry.name
        if not name.endswith(".response.json"):
            continue
        resource, operation = name.split(".")[:2]
        yield resource, operation, json.loads(entry.read_text(encoding="utf-8"))


def _examples(store: Store) -> int | None:
    by_resource: dict[str, dict[int, dict[str, Any]]] = {}
    # Docs reuse id 1 across examples; the "get" example wins, then lists, then the rest.
    ranked = sorted(example_documents(), key=lambda doc: _OPERATION_RANK.get(doc[1], 9))
    for resource, operation, body in ranked:
        if resource not in store.resources or operation.startswith("list_deleted"):
            continue
        items = body.get(resource, []) if operation.startswith("list") else [body]
        for item in items:
            if isinstance(item, dict) and "id" in item:
                by_resource.setdefault(resource, {}).setdefault(int(str(item["id"])), item)
    for resource in _EXAMPLE_ORDER:
        for item in by_resource.get(resource, {}).values():
            store.insert_raw(resource, _from_example(store, resource, item))
    return None


def _from_example(store: Store, resource: str, item: dict[str, Any]) -> Record:
    """Wire JSON to a stored record: ids to ints (sent back as strings), timestamps to epochs,
    link objects to ``<name>_id`` and "" in date-times to null."""
    fields = store.resources[resource].field_map()
    rec: Record = {}
    for key, value in item.items():
        if key == "links":
            continue
        if isinstance(value, dict) and set(value) == {"links"}:
            ref_name = f"{key}_id"
            target = value["links"].get("self", "")
            tail = target.rstrip("/").rsplit("/", 1)[-1]
            if ref_name in fields and tail.isdigit():
                rec[ref_name] = int(tail)
            continue
        if key in _TIME_FIELDS:
            rec[key] = parse_datetime(value) if isinstance(value, str) and value else None
            continue
        field = fields.get(key)
        if field is None:
            continue
        if value == "" and (field.kind != "str" or key in _BLANK_IS_NULL):
            continue
        if key == "id" or field.kind == "ref":
            rec[key] = int(str(value)) if value not in (None, "") else None
        elif field.kind == "ids":
            rec[key] = [int(str(v)) for v in value or []]
        elif field.kind == "decimal" and value is not None:
            rec[key] = money(value)
        elif field.kind == "json" and not isinstance(value, dict | list):
            rec[key] = json.loads(value) if isinstance(value, str) and value.startswith(("{", "[")) else None
        else:
            rec[key] = value
    return rec
