"""Which of Cliniko's 422 texts travel on (events, idempotency records, the archive, DLQs): only the known
validation messages, which name a rule and never a value."""

from __future__ import annotations

import pytest

from cliniko_connector.adapters.cliniko_http import known_validation_text

KNOWN = [
    "can't be blank",
    "is invalid",
    "is not included in the list",
    "has already been taken",
    "must exist",
    "must be an object",
    "is too long (maximum is 255 characters)",
    "is too short (minimum is 1 character)",
    "must be greater than or equal to 0",
    "must be less than 100.5",
]
NOT_KNOWN = [
    "Zebulonia Quillfeather is already booked",
    "is invalid: zebulonia@example.com",
    "can't be blank for Zebulonia",
    "Patient could not be saved",
    "must be less than 2953710481",  # a number that long may be a Medicare or phone number
    "is too long (maximum is 255 characters) Zebulonia",
    "",
]


@pytest.mark.parametrize("text", KNOWN)
def test_known_validation_messages_pass_on_verbatim(text: str) -> None:
    assert known_validation_text(text) == text


@pytest.mark.parametrize("text", NOT_KNOWN)
def test_any_other_text_is_not_passed_on(text: str) -> None:
    assert known_validation_text(text) is None
