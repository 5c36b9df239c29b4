"""Field types shared by action input models: ids as strings, UTC `Z` timestamps, API URLs accepted as ids.

Every validator here raises only `ValueError` with a fixed message: pydantic turns that into a field
error, and the caller's value (patient data) never appears in it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import idna
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, core_schema

from cliniko_connector.timeutil import parse_ts, to_z

STRICT_INPUT = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, strict=True, defer_build=True)
"""Every input model: unknown fields are errors, no lax coercion ("1" is not 1, "true" is not True). Built on
first use (`defer_build`): an action function validates one action's input, not the catalog's forty."""

MAX_ID = 2**63 - 1
_ID_RE = re.compile(r"^[1-9][0-9]{0,18}$")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Cliniko's own email pattern (the spec's, read case-insensitively): ASCII before the @, an ASCII (IDNA) domain
# and a top-level domain of letters.
_EMAIL_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_EMAIL_DOMAIN_RE = re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$")
_FIRST_YEAR, _LAST_YEAR = 1900, 2200

ID_MESSAGE = "must be a Cliniko id: a positive integer, the same digits as a string, or the record's API URL"


# --------------------------------------------------------------------------- ids


def _id_from_url(url: str, collections: tuple[str, ...]) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("is not a Cliniko API URL") from None
    segments = [s for s in parts.path.split("/") if s]
    if not parts.netloc or len(segments) < 2 or not segments[-1].isdigit():
        raise ValueError("is not a Cliniko API URL (expected …/v1/<resource>/<id>)")
    if collections and segments[-2] not in collections:
        raise ValueError(f"must be the API URL of a record in {' or '.join(collections)}")
    return segments[-1]


def _id_coercer(collections: tuple[str, ...]) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(ID_MESSAGE)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            text = value.strip()
            if text.startswith(("http://", "https://")):
                return _id_from_url(text, collections)
            return text
        return value  # not a string: strict str validation rejects it

    return coerce


def _check_id(value: str) -> str:
    if not _ID_RE.match(value) or int(value) > MAX_ID:
        raise ValueError(ID_MESSAGE)
    return value


@dataclass(frozen=True, init=False)
class IdOf:
    """`Annotated[str, IdOf("patients")]`: an id given as an int, numeric string or the API URL of a record in
    one of `collections` (any resource when empty), always validated to a string of digits."""

    collections: tuple[str, ...] = ()

    def __init__(self, *collections: str) -> None:
        object.__setattr__(self, "collections", collections)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        inner = core_schema.no_info_after_validator_function(_check_id, handler(source))
        return core_schema.no_info_before_validator_function(_id_coercer(self.collections), inner)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        what = " or ".join(self.collections) if self.collections else "any resource"
        return {
            "anyOf": [{"type": "string"}, {"type": "integer", "minimum": 1}],
            "description": f"Cliniko id of a record in {what}: an integer, its digits as a string, or its API URL.",
            "x-kind": "id",
            "x-resources": list(self.collections),
        }


ClinikoId = Annotated[str, IdOf()]
"""An id of any resource (an API URL of any resource is accepted)."""
PatientId = Annotated[str, IdOf("patients")]
ContactId = Annotated[str, IdOf("contacts")]
PractitionerId = Annotated[str, IdOf("practitioners")]
BusinessId = Annotated[str, IdOf("businesses")]
AppointmentTypeId = Annotated[str, IdOf("appointment_types")]
IndividualAppointmentId = Annotated[str, IdOf("individual_appointments", "appointments", "bookings")]
GroupAppointmentId = Annotated[str, IdOf("group_appointments", "bookings")]
AppointmentId = Annotated[str, IdOf("individual_appointments", "group_appointments", "appointments", "bookings")]
BookingId = Annotated[str, IdOf("bookings", "individual_appointments", "group_appointments", "appointments")]
AttendeeId = Annotated[str, IdOf("attendees")]
AvailabilityBlockId = Annotated[str, IdOf("availability_blocks")]
UnavailableBlockId = Annotated[str, IdOf("unavailable_blocks", "bookings")]
TreatmentNoteId = Annotated[str, IdOf("treatment_notes")]
TreatmentNoteTemplateId = Annotated[str, IdOf("treatment_note_templates")]
ProductId = Annotated[str, IdOf("products")]
TaxId = Annotated[str, IdOf("taxes")]
CommunicationId = Annotated[str, IdOf("communications")]
InvoiceId = Annotated[str, IdOf("invoices")]
MedicalAlertId = Annotated[str, IdOf("medical_alerts")]
ConcessionTypeId = Annotated[str, IdOf("concession_types")]
PatientCaseId = Annotated[str, IdOf("patient_cases")]
PatientFormId = Annotated[str, IdOf("patient_forms")]
PatientFormTemplateId = Annotated[str, IdOf("patient_form_templates")]
PatientAttachmentId = Annotated[str, IdOf("patient_attachments")]
BillableItemId = Annotated[str, IdOf("billable_items")]
StockAdjustmentId = Annotated[str, IdOf("stock_adjustments")]
ProductSupplierId = Annotated[str, IdOf("product_suppliers")]
PractitionerReferenceNumberId = Annotated[str, IdOf("practitioner_reference_numbers")]
InvoiceItemId = Annotated[str, IdOf("invoice_items")]


# --------------------------------------------------------------------------- time


def _coerce_ts(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "T" not in text:
        raise ValueError("must be a date and time with a time zone, e.g. 2026-11-26T14:40:00Z")
    try:
        parsed = parse_ts(text)
        normalized = to_z(parsed)
    except (ValueError, OverflowError, TypeError):
        raise ValueError("must be an ISO-8601 date and time with a time zone, e.g. 2026-11-26T14:40:00Z") from None
    if not _FIRST_YEAR <= parsed.year <= _LAST_YEAR:
        raise ValueError(f"must be between the years {_FIRST_YEAR} and {_LAST_YEAR}")
    return normalized


def _check_ts(value: str) -> str:
    if not _TS_RE.match(value):
        raise ValueError("must be an ISO-8601 date and time with a time zone")
    return value


UtcTimestamp = Annotated[
    str,
    BeforeValidator(_coerce_ts),
    AfterValidator(_check_ts),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO-8601 with a time zone; sent to Cliniko as UTC `Z` (offsets are converted).",
            "x-kind": "timestamp",
        }
    ),
]


def _check_date(value: str) -> str:
    if not _DATE_RE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a calendar date") from None
    if not _FIRST_YEAR <= parsed.year <= _LAST_YEAR:
        raise ValueError(f"must be between the years {_FIRST_YEAR} and {_LAST_YEAR}")
    return value


IsoDate = Annotated[
    str,
    AfterValidator(_check_date),
    WithJsonSchema({"type": "string", "format": "date", "x-kind": "date"}),
]


# --------------------------------------------------------------------------- text


def text(max_length: int = 10_000) -> Any:
    """A non-empty string (surrounding white space stripped) of at most `max_length` characters."""
    return StringConstraints(min_length=1, max_length=max_length, strip_whitespace=True)


NonEmpty = Annotated[str, text()]
Text255 = Annotated[str, text(255)]
Text100 = Annotated[str, text(100)]
Text5000 = Annotated[str, text(5000)]


def _ascii_domain(domain: str) -> str:
    """A unicode domain (`bücher.example`) as Cliniko accepts it: IDNA (`xn--bcher-kva.example`)."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(unicodedata.normalize("NFC", domain), uts46=True).decode("ascii")
    except idna.IDNAError:
        raise ValueError("is not an email address (its domain is not a valid internationalised domain)") from None


def _check_email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or len(value) > 254:
        raise ValueError("is not an email address")
    if not _EMAIL_LOCAL_RE.match(local):
        raise ValueError(
            "is not an email address Cliniko accepts (only ASCII letters, digits and !#$%&'*+/=?^_`{|}~.- before the @)"
        )
    domain = _ascii_domain(domain)
    if not _EMAIL_DOMAIN_RE.match(domain) or ".." in domain or len(local) + 1 + len(domain) > 254:
        raise ValueError(
            "is not an email address Cliniko accepts (the domain must end in a top-level domain of letters)"
        )
    return f"{local}@{domain}"


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_check_email),
    WithJsonSchema(
        {
            "type": "string",
            "format": "idn-email",
            "maxLength": 254,
            "x-kind": "email",
            "description": "Unicode domains are sent to Cliniko in their IDNA (`xn--…`) form.",
        }
    ),
]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


CountryCode = Annotated[
    str,
    BeforeValidator(_upper),
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{2}$", "x-kind": "country"}),
]
"""ISO 3166-1 alpha-2 (`AU`, `nz`, `GB`, …), sent to Cliniko in upper case."""

TimeZoneId = Annotated[
    str,
    StringConstraints(pattern=r"^(UTC|[A-Za-z]+(/[A-Za-z0-9_+\-]+){1,2})$", max_length=64),
    WithJsonSchema({"type": "string", "x-kind": "time zone", "examples": ["Australia/Sydney"]}),
]
"""An IANA time zone identifier (`Australia/Sydney`); Cliniko checks it is one it supports."""


def _has_digit(value: str) -> str:
    if not any(ch.isdigit() for ch in value):
        raise ValueError("must contain digits")
    return value


PhoneText = Annotated[
    str,
    StringConstraints(pattern=r"^[+0-9A-Za-z()\-./#,*: ]{3,60}$", strip_whitespace=True),
    AfterValidator(_has_digit),
]
"""A phone number as people write it: digits with spaces, `+`, brackets, dashes, dots, and letters for
extensions and words (`02 9000 0000 ext 12`, `1300 PHYSIO`); sent to Cliniko as given (its `number` is free text
and it derives `normalized_number` itself)."""


# --------------------------------------------------------------------------- money


def _coerce_amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be an amount: a number or a decimal string such as 12.50")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be an amount: a number or a decimal string such as 12.50") from None
    if not amount.is_finite() or amount < 0 or amount >= 4_000_000_000:
        raise ValueError("must be at least 0 and less than 4000000000")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("can have at most two decimal places")
    return amount.quantize(Decimal("0.01"))


_AMOUNT_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "string"}], "x-kind": "amount"}

AmountNumber = Annotated[
    Decimal,
    BeforeValidator(_coerce_amount),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema(_AMOUNT_SCHEMA),
]
"""Money Cliniko takes as a JSON number (product `price`)."""

AmountString = Annotated[
    Decimal,
    BeforeValidator(_coerce_amount),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema(_AMOUNT_SCHEMA),
]
"""Money Cliniko takes as a decimal string (product `cost_price`)."""


# --------------------------------------------------------------------------- enums

CancellationReason = Literal[10, 20, 30, 31, 40, 50, 60]
"""10 feeling better, 20 condition worse, 30 sick, 31 COVID-19 related, 40 away, 50 other, 60 work."""
CommunicationType = Literal[1, 2, 3, 4]
"""1 SMS, 2 email, 3 phone call, 4 other."""
CommunicationDirection = Literal[1, 2]
"""1 outbound (sent), 2 inbound (received)."""
InvoiceStatus = Literal[10, 20, 30, 40]
"""10 open, 20 paid, 30 closed, 40 open credit."""
DoctorType = Literal["general_practitioner", "specialist"]
ContactType = Literal[0, 1, 2]
"""0 standard, 1 doctor, 2 third-party payer."""
PhoneType = Literal["Mobile", "Home", "Work", "Other", "Fax"]
ReminderType = Literal["None", "SMS", "Email", "SMS & Email"]
RepeatType = Literal["Daily", "Weekly", "Monthly"]
QuestionType = Literal["bodycharts", "checkboxes", "date", "paragraph", "radiobuttons", "text"]
AppointmentKind = Literal["individual", "group"]


# --------------------------------------------------------------------------- nested objects


class InputObject(BaseModel):
    """A nested object of an action input: as strict as the input itself."""

    model_config = STRICT_INPUT


class PhoneNumber(InputObject):
    phone_type: PhoneType
    number: PhoneText


class Pronouns(InputObject):
    accusative: Text255
    nominative: Text255
    predicative_possessive: Text255
    pronominal_possessive: Text255
    reflexive: Text255


class AppointmentRepeatRule(InputObject):
    """Repeat an appointment: every `repeating_interval` days/weeks/months, `number_of_repeats` more times."""

    repeat_type: RepeatType
    repeating_interval: Annotated[int, Field(ge=1, le=100)]
    number_of_repeats: Annotated[int, Field(ge=1, le=51)]


class BlockRepeatRule(InputObject):
    """Repeat an availability block (Cliniko allows up to 100 repeats here)."""

    repeat_type: RepeatType
    repeating_interval: Annotated[int, Field(ge=1, le=100)]
    number_of_repeats: Annotated[int, Field(ge=1, le=100)]


class NoteAnswer(InputObject):
    value: Annotated[str, StringConstraints(max_length=255)] | None = None
    selected: bool | None = None


class NoteOther(InputObject):
    enabled: bool | None = None
    selected: bool | None = None
    value: Annotated[str, StringConstraints(max_length=255)] | None = None


class NoteQuestion(InputObject):
    name: Text255
    type: QuestionType
    answer: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    answers: list[NoteAnswer] | None = None
    other: NoteOther | None = None
    body_chart_ids: list[ClinikoId] | None = None


class NoteSection(InputObject):
    name: Text255 | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    questions: list[NoteQuestion]


class NoteContent(InputObject):
    """A treatment note's `content`: sections of questions, as the note's template lays them out."""

    sections: list[NoteSection]


def _coerce_number(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


InvoiceNumber = Annotated[int, BeforeValidator(_coerce_number), Field(ge=1, le=MAX_ID)]
"""An invoice number, as an integer or its digits as a string."""
