"""What a trigger event's `data` holds, per resource: a JSON schema and a sample record, both from the
official OpenAPI spec (`tests/fixtures/cliniko-openapi.json`) and its documented examples.

The schema is the spec's component schema as plain JSON Schema (valid as draft 4 and 2020-12): `nullable`
becomes a `null` type, `$ref`s are inlined, examples and vendor keys go, and the two documented spec
defects (CONFORMANCE.md: the upper-case-only email pattern, enums that lack `null`) are mended. Fields
Cliniko adds later are allowed. The sample starts from the resource's documented example, keeps exactly the
spec's fields, fills those the example lacks from the spec, and replaces every personal detail with one
that is obviously fictitious (`example.com` emails, ACMA's fictional 0491 570 mobile numbers, TEST-NET IPs).
"""

from __future__ import annotations

import json
import re
from copy import deepcopy
from functools import cache
from pathlib import Path
from typing import Any

from cliniko_connector.catalog.triggers import STREAMS

SPEC_PATH = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "cliniko-openapi.json"
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "simulator" / "examples"
API = "https://api.au1.cliniko.com/v1"

# Stream resource → the spec's component schema of its records.
SPEC_SCHEMAS: dict[str, str] = {
    "patients": "Patient",
    "contacts": "Contact",
    "individual_appointments": "IndividualAppointment",
    "group_appointments": "GroupAppointment",
    "attendees": "Attendee",
    "availability_blocks": "AvailabilityBlock",
    "unavailable_blocks": "UnavailableBlock",
    "invoices": "Invoice",
    "products": "Product",
    "medical_alerts": "MedicalAlert",
    "treatment_notes": "TreatmentNote",
    "bookings": "Booking",
    "invoice_items": "InvoiceItem",
    "communications": "Communication",
    "appointment_types": "AppointmentType",
    "businesses": "Business",
    "practitioners": "Practitioner",
    "users": "User",
    "treatment_note_templates": "TreatmentNoteTemplate",
    "patient_forms": "PatientForm",
    "patient_cases": "PatientCase",
    "patient_attachments": "PatientAttachment",
    "billable_items": "BillableItem",
    "stock_adjustments": "StockAdjustment",
    "concession_types": "ConcessionType",
    "product_suppliers": "ProductSupplier",
    "taxes": "Tax",
    "patient_form_templates": "PatientFormTemplate",
    "practitioner_reference_numbers": "PractitionerReferenceNumber",
}
# Resources whose records take one of several shapes (`anyOf`): the shape their sample record has.
SAMPLE_VARIANTS: dict[str, str] = {
    "bookings": "IndividualAppointment",  # the kind an online booking makes
    "communications": "MemoCommunication",  # the kind the API creates
    "patient_attachments": "UploadedPatientAttachment",  # a file, not a whole-record export
}

# The sample ids the catalog's sample inputs use, so a sample event chains into a sample action.
SAMPLE_IDS: dict[str, str] = {
    "patients": "1000000000000000101",
    "contacts": "1000000000000000201",
    "practitioners": "1000000000000000301",
    "businesses": "1000000000000000401",
    "appointment_types": "1000000000000000501",
    "individual_appointments": "1000000000000000601",
    "bookings": "1000000000000000601",
    "appointments": "1000000000000000601",
    "group_appointments": "1000000000000000701",
    "attendees": "1000000000000000801",
    "treatment_note_templates": "1000000000000000901",
    "availability_blocks": "1000000000000001001",
    "unavailable_blocks": "1000000000000001051",
    "products": "1000000000000001101",
    "medical_alerts": "1000000000000000111",
    "invoices": "1000000000000001301",
    "treatment_notes": "1000000000000001401",
    "invoice_items": "1000000000000001501",
    "communications": "1000000000000001201",
    "users": "1000000000000001601",
    "patient_forms": "1000000000000001701",
    "patient_form_templates": "1000000000000001751",
    "patient_cases": "1000000000000001801",
    "patient_attachments": "1000000000000001851",
    "billable_items": "1000000000000001901",
    "stock_adjustments": "1000000000000001951",
    "concession_types": "1000000000000002001",
    "product_suppliers": "1000000000000002051",
    "taxes": "1000000000000002101",
    "practitioner_reference_numbers": "1000000000000002151",
}
_OTHER_ID = "1000000000000009999"

SAMPLE_CREATED = "2026-11-20T22:15:00Z"
SAMPLE_TIME = "2026-11-26T09:30:00Z"
SAMPLE_STARTS = "2026-12-02T09:00:00Z"
SAMPLE_ENDS = "2026-12-02T09:30:00Z"

FICTITIOUS_MOBILE = "0491 570 156"  # ACMA's numbers for fiction
FICTITIOUS_LANDLINE = "02 5550 1234"
# Every personal or free-text field of any resource, replaced by an obviously fictitious value.
FICTITIOUS: dict[str, Any] = {
    "title": "Dr",
    "first_name": "Alex",
    "last_name": "Example",
    "preferred_first_name": "Alex",
    "preferred_name": "Alex",
    "patient_name": "Alex Example",
    "author_name": "Sam Sample",
    "label": "Alex Example",
    "email": "alex.example@example.com",
    "invoice_email": "accounts@example.com",
    "address_1": "1 Example Street",
    "address_2": None,
    "address_3": None,
    "city": "Exampleton",
    "state": "NSW",
    "post_code": "0000",
    "country": "Australia",
    "country_code": "AU",
    "date_of_birth": "1980-01-01",
    "medicare": None,
    "medicare_reference_number": None,
    "emergency_contact": "Sam Example, " + FICTITIOUS_MOBILE,
    "notes": "Sample record: every detail is fictitious.",
    "appointment_notes": None,
    "occupation": "Teacher",
    "provider_number": "0000000X",
    "company_name": "Example Medical Centre",
    "booking_ip_address": "192.0.2.10",
    "invoice_to": None,
    "invoice_default_to": None,
    "invoice_extra_information": None,
    "patient_extra_information": None,
    "old_reference_id": None,
    "telehealth_url": "https://telehealth.example.com/room/sample",
    "name": "Sample name",
    "cancellation_note": None,
    "serial_number": "SN-0000",
    "sex": "Female",
    "gender_identity": "Woman",
    "gender": "Female",
}
_PER_RESOURCE: dict[str, dict[str, Any]] = {
    "medical_alerts": {"name": "Penicillin allergy"},
    "users": {"time_zone": "Sydney", "time_zone_identifier": "Australia/Sydney", "role": "practitioner"},
    "businesses": {
        "business_name": "Example Clinic",
        "display_name": "Example Clinic",
        "website_address": "https://clinic.example.com",
        "email_reply_to": "reception@example.com",
        "contact_information": "Sample business: every detail is fictitious.",
        "business_registration_value": "00 000 000 000",
    },
    "communications": {
        "from": "Example Clinic",
        "to": "alex.example@example.com",
        "content": "Sample memo: every detail is fictitious.",
        "content_subject": None,
        "confidential": False,
    },
    "products": {"name": "Therapy band (medium)", "item_code": "TB-M", "product_supplier_name": "Example Supplies"},
    "treatment_notes": {"title": "Standard consultation"},
    "availability_blocks": {"starts_at": "2026-12-05T22:00:00Z", "ends_at": "2026-12-06T01:00:00Z"},
    "unavailable_blocks": {
        "starts_at": "2026-12-05T01:30:00Z",
        "ends_at": "2026-12-05T02:15:00Z",
        "notes": "Lunch break",
    },
}
# Relations a sample record doesn't have (not merged, not a repeat, no case): Cliniko leaves them out.
_ABSENT = frozenset({"merged_with_patient", "repeated_from", "patient_case"})
_UPPERCASE_EMAIL_PATTERN = "^[A-Z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Z0-9.-]+\\.[A-Z]{2,63}$"
_NUMERIC_FORMATS = frozenset({"int64", "int32", "decimal", "float", "double"})
_DROPPED = frozenset({"example", "nullable", "readOnly", "writeOnly", "deprecated", "xml", "externalDocs"})


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def spec_component(resource: str) -> dict[str, Any]:
    """The spec's component schema of a stream resource's records, as the spec has it."""
    component: dict[str, Any] = spec()["components"]["schemas"][SPEC_SCHEMAS[resource]]
    return component


def _resolve(ref: str) -> dict[str, Any]:
    node: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


def _dropped(key: str, value: Any, node: dict[str, Any]) -> bool:
    if key in _DROPPED or key.startswith("x-") or (key == "pattern" and value == _UPPERCASE_EMAIL_PATTERN):
        return True
    if key == "format" and value in _NUMERIC_FORMATS and node.get("type") == "string":
        return True  # a string holding a number: code bindings should keep it a string
    # Draft 4 (boolean) and 2020-12 (number) disagree on exclusive bounds; integers get a closed bound instead.
    return key in ("exclusiveMinimum", "exclusiveMaximum")


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema (see the module docstring)."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        return json_schema(_resolve(node["$ref"]))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if _dropped(key, value, node):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = json_schema(value)
    for flag, bound, step in (("exclusiveMinimum", "minimum", 1), ("exclusiveMaximum", "maximum", -1)):
        if node.get(flag) is True and bound in node and node.get("type") == "integer":
            out[bound] = node[bound] + step
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    elif isinstance(out.get("enum"), list) and None not in out["enum"]:
        # CONFORMANCE.md: the live API sends null for unset enums whatever `nullable` says.
        out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
    return out


def data_title(resource: str) -> str:
    return f"Cliniko{SPEC_SCHEMAS[resource]}"


@cache
def _data_schema(resource: str) -> str:
    schema = json_schema(spec_component(resource))
    schema["title"] = data_title(resource)
    schema["description"] = (
        f"A Cliniko `{resource}` record as the API returns it, from the official OpenAPI spec "
        f"(`components.schemas.{SPEC_SCHEMAS[resource]}`). Fields Cliniko adds later are allowed."
    )
    return json.dumps(schema)


def data_schema(resource: str) -> dict[str, Any]:
    """The `data` schema of a stream resource's trigger events (a fresh copy)."""
    loaded: dict[str, Any] = json.loads(_data_schema(resource))
    return loaded


# --------------------------------------------------------------------------- samples


def _example(resource: str) -> dict[str, Any]:
    path = EXAMPLES_DIR / f"{resource}.get.response.json"
    if not path.exists():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


_LINK_RE = re.compile(r"^https?://[^/]+(?:/v1)?/(?P<path>.*)$")


def _link(url: str) -> str:
    """A documented link on the live host, its ids replaced by the sample ids of the resources they name."""
    match = _LINK_RE.match(url)
    if match is None:
        return url
    path, _, query = match.group("path").partition("?")
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part.isdigit():
            parts[index] = SAMPLE_IDS.get(parts[index - 1], _OTHER_ID) if index else _OTHER_ID
    params = [p for p in query.split("&") if p and not p.startswith("page=")]
    query = "&".join(re.sub(r":=\d+$", ":=" + SAMPLE_IDS.get(parts[0], _OTHER_ID), p) for p in params)
    return f"{API}/{'/'.join(parts)}" + (f"?{query}" if query else "")


def _links(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (_link(v) if k == "self" and isinstance(v, str) else _links(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_links(item) for item in node]
    return node


def _from_schema(name: str, schema: dict[str, Any], resource: str) -> Any:
    """A value for a field the documented example lacks, from the spec alone."""
    kind = schema.get("type")
    props = schema.get("properties", {})
    is_link = kind == "object" and set(props) == {"links"}
    if schema.get("nullable") and not (is_link and name != "repeats"):
        return None  # a link a record has is rendered even where the spec allows null (`repeats`: no repeats)
    if kind == "object":
        if is_link:
            self_url = props["links"].get("properties", {}).get("self", {}).get("example", f"{API}/{name}s/1")
            return {"links": {"self": _link(str(self_url))}}
        return {key: _from_schema(key, sub, resource) for key, sub in props.items()}
    if kind == "array":
        return []
    if "example" in schema:
        return _link(schema["example"]) if schema.get("format") == "uri" else schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    return {"string": "", "integer": 0, "number": 0, "boolean": False}.get(str(kind))


def _phones(value: Any) -> list[dict[str, Any]]:
    numbers = value if isinstance(value, list) and value else [{"phone_type": "Mobile"}]
    out = []
    for index, phone in enumerate(numbers[:2]):
        item = dict(phone) if isinstance(phone, dict) else {"phone_type": "Mobile"}
        item["number"] = FICTITIOUS_MOBILE if index == 0 else FICTITIOUS_LANDLINE
        out.append(item)
    return out


def _string_ids(value: Any, schema: dict[str, Any]) -> Any:
    """The documented examples predate string ids: ids (and lists of them) the spec types as strings."""
    if isinstance(value, int) and not isinstance(value, bool) and schema.get("type") == "string":
        return str(value)
    if isinstance(value, list) and schema.get("type") == "array":
        return [_string_ids(item, schema.get("items", {})) for item in value]
    return value


def sample_record(resource: str, *, created: bool = False) -> dict[str, Any]:
    """A record of `resource` as Cliniko sends it, built from the documented example and the spec."""
    component = spec_component(resource)
    if resource in SAMPLE_VARIANTS:
        component = spec()["components"]["schemas"][SAMPLE_VARIANTS[resource]]
    example = _example(resource)
    overrides = {**FICTITIOUS, **_PER_RESOURCE.get(resource, {})}
    record: dict[str, Any] = {}
    for name, prop in component["properties"].items():
        schema = _resolve(prop["$ref"]) if "$ref" in prop else prop
        if name == "id":
            value: Any = SAMPLE_IDS.get(resource, _OTHER_ID)
        elif name == "created_at":
            value = SAMPLE_TIME if created else SAMPLE_CREATED
        elif name == "updated_at":
            value = SAMPLE_TIME
        elif name == "starts_at":
            value = overrides.get(name, SAMPLE_STARTS)
        elif name == "ends_at":
            value = overrides.get(name, SAMPLE_ENDS)
        elif name.endswith("_at"):
            value = None  # archived, cancelled, deleted, … : a transition sets its own
        elif name in ("patient_phone_numbers", "phone_numbers"):
            value = _phones(example.get(name))
        elif name in overrides:
            value = overrides[name]
        elif name in example and example[name] != "":
            value = _links(deepcopy(example[name]))
        else:
            value = _from_schema(name, schema, resource)
        if name in _ABSENT:
            continue  # Cliniko leaves out a relation the record doesn't have
        record[name] = _string_ids(value, schema)
    return record


def stream_resources() -> list[str]:
    return [stream.resource for stream in STREAMS]
