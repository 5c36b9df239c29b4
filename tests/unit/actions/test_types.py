"""Shared input field types: ids, timestamps, dates, amounts, emails."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from cliniko_connector.catalog.types import (
    STRICT_INPUT,
    AmountNumber,
    AmountString,
    BookingId,
    ClinikoId,
    CountryCode,
    Email,
    InvoiceNumber,
    IsoDate,
    PatientId,
    PhoneNumber,
    UtcTimestamp,
)


class Ids(BaseModel):
    model_config = STRICT_INPUT
    patient: PatientId | None = None
    booking: BookingId | None = None
    anything: ClinikoId | None = None


class Values(BaseModel):
    model_config = STRICT_INPUT
    at: UtcTimestamp | None = None
    day: IsoDate | None = None
    price: AmountNumber | None = None
    cost: AmountString | None = None
    email: Email | None = None
    number: InvoiceNumber | None = None


BIG = "1234567890123456789"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (82, "82"),
        ("82", "82"),
        (" 82 ", "82"),
        (int(BIG), BIG),
        (BIG, BIG),
        ("https://api.au1.cliniko.com/v1/patients/82", "82"),
        ("https://api.uk2.cliniko.com/v1/patients/82/", "82"),
        (f"http://127.0.0.1:8080/v1/patients/{BIG}", BIG),
    ],
)
def test_an_id_may_be_an_int_a_numeric_string_or_an_api_url(given: Any, expected: str) -> None:
    assert Ids.model_validate({"patient": given}).patient == expected


@pytest.mark.parametrize(
    "given",
    [
        True,
        0,
        -1,
        "0",
        "-5",
        "1.5",
        1.5,
        "",
        "12a",
        "١٢٣",
        2**63,
        "9" * 20,
        "https://api.au1.cliniko.com/v1/contacts/82",
        "https://api.au1.cliniko.com/v1/patients/abc",
        "https://api.au1.cliniko.com/v1/patients",
        "https://[::1/v1/patients/1",
        "ftp://example.com/v1/patients/1",
        ["82"],
        {"id": "82"},
    ],
)
def test_anything_else_is_not_an_id(given: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Ids.model_validate({"patient": given})
    assert [e["loc"] for e in caught.value.errors()] == [("patient",)]


def test_an_api_url_must_name_a_resource_the_field_accepts() -> None:
    for resource in ("bookings", "individual_appointments", "group_appointments", "appointments"):
        assert Ids.model_validate({"booking": f"https://x.example/v1/{resource}/7"}).booking == "7"
    assert Ids.model_validate({"anything": "https://x.example/v1/whatever/7"}).anything == "7"
    with pytest.raises(ValidationError):
        Ids.model_validate({"booking": "https://x.example/v1/patients/7"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-12-01T09:00:00Z", "2026-12-01T09:00:00Z"),
        ("2026-12-01T09:00:00+11:00", "2026-11-30T22:00:00Z"),
        ("2026-12-01T09:00:00.750-05:00", "2026-12-01T14:00:00Z"),
        ("2026-12-01T09:00Z", "2026-12-01T09:00:00Z"),
    ],
)
def test_timestamps_are_sent_as_utc_z(given: str, expected: str) -> None:
    assert Values.model_validate({"at": given}).at == expected


@pytest.mark.parametrize(
    "given",
    [
        "2026-12-01",
        "2026-12-01T09:00:00",
        "2026-13-01T09:00:00Z",
        "tomorrow",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "1800-01-01T00:00:00Z",
        1767225600,
    ],
)
def test_bad_timestamps(given: Any) -> None:
    with pytest.raises(ValidationError):
        Values.model_validate({"at": given})


def test_dates_emails_amounts_and_numbers() -> None:
    values = Values.model_validate(
        {"day": "1984-03-09", "price": 24.95, "cost": "11.5", "email": "jane@example.com", "number": "1042"}
    )
    assert values.day == "1984-03-09" and values.email == "jane@example.com" and values.number == 1042
    assert values.price == Decimal("24.95") and values.cost == Decimal("11.50")
    assert values.model_dump(mode="json", exclude_unset=True)["price"] == 24.95
    assert values.model_dump(mode="json", exclude_unset=True)["cost"] == "11.50"
    for bad in (
        {"day": "2024-02-30"},
        {"day": "09/03/1984"},
        {"email": "not-an-email"},
        {"email": "a@b"},
        {"email": "a,b@example.com"},
        {"price": -1},
        {"price": "1.234"},
        {"price": "NaN"},
        {"price": True},
        {"cost": "4000000000"},
        {"number": 0},
        {"number": "10a"},
        {"number": True},
    ):
        with pytest.raises(ValidationError):
            Values.model_validate(bad)


def test_errors_never_echo_the_value() -> None:
    secret = "jane.secret.value"
    for field in ("at", "day", "email", "price"):
        with pytest.raises(ValidationError) as caught:
            Values.model_validate({field: secret})
        assert all(secret not in e["msg"] for e in caught.value.errors())
    with pytest.raises(ValidationError) as caught:
        Ids.model_validate({"patient": f"https://x.example/v1/{secret}/1"})
    assert all(secret not in e["msg"] for e in caught.value.errors())


class RealWorld(BaseModel):
    model_config = STRICT_INPUT
    email: Email | None = None
    country: CountryCode | None = None
    phone: PhoneNumber | None = None


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("Jane.C@Example.com", "Jane.C@Example.com"),  # case is kept: Cliniko stores what it is given
        ("o'brien+clinic@example.com", "o'brien+clinic@example.com"),
        ("zoe@xn--bcher-kva.example", "zoe@xn--bcher-kva.example"),
        ("zoe@bücher.example", "zoe@xn--bcher-kva.example"),
        ("zoe@BÜCHER.example", "zoe@xn--bcher-kva.example"),
        ("renee@café.com.au", "renee@xn--caf-dma.com.au"),
    ],
)
def test_emails_are_sent_as_cliniko_accepts_them(given: str, sent: str) -> None:
    assert RealWorld.model_validate({"email": given}).email == sent


@pytest.mark.parametrize(
    "given",
    ["zoë@example.com", "jane@пример.рф", "jane@xn--e1afmkfd.xn--p1ai", "jane@exa mple.com", "jane@example..com"],
)
def test_emails_cliniko_would_refuse_are_refused_here_with_a_reason(given: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RealWorld.model_validate({"email": given})
    (error,) = caught.value.errors()
    assert "email" in error["msg"] and given not in error["msg"]


def test_country_codes_are_sent_upper_case() -> None:
    assert RealWorld.model_validate({"country": "au"}).country == "AU"
    assert RealWorld.model_validate({"country": " nz "}).country == "NZ"
    for bad in ("aus", "a", "1a", 61):
        with pytest.raises(ValidationError):
            RealWorld.model_validate({"country": bad})


@pytest.mark.parametrize(
    "number",
    [
        "02 9000 0000 ext 12",
        "+61 2 9000 0000 x12",
        "1300 PHYSIO",
        "(02) 9000-0000",
        "+44 20 7946 0958 ext. 4",
        "0400 000 000",
    ],
)
def test_phone_numbers_as_people_write_them_are_sent_as_given(number: str) -> None:
    phone = RealWorld.model_validate({"phone": {"phone_type": "Work", "number": number}}).phone
    assert phone is not None and phone.number == number


@pytest.mark.parametrize("number", ["PHYSIO", "jane@example.com", "02 9000 0000 <script>", "1" * 61, "12"])
def test_things_that_are_not_phone_numbers_are_refused(number: str) -> None:
    with pytest.raises(ValidationError):
        RealWorld.model_validate({"phone": {"phone_type": "Work", "number": number}})
