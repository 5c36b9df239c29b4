"""Field types shared by action input models: ids as strings, UTC `Z` timestamps, API URLs accepted as ids."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, ConfigDict, StringConstraints

from cliniko_connector.timeutil import normalize_ts

_ID_RE = re.compile(r"^\d{1,20}$")


def _coerce_id(value: Any) -> Any:
    """Accept 123, "123" or an API URL such as https://api.au1.cliniko.com/v1/patients/123."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        value = value.strip()
        if value.startswith(("http://", "https://")):
            last = urlsplit(value).path.rstrip("/").rsplit("/", 1)[-1]
            return last
    return value


def _coerce_ts(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return normalize_ts(value.strip())
        except ValueError:
            return value
    return value


ClinikoId = Annotated[str, BeforeValidator(_coerce_id), StringConstraints(pattern=r"^\d{1,20}$")]
UtcTimestamp = Annotated[
    str, BeforeValidator(_coerce_ts), StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=10_000, strip_whitespace=True)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, strip_whitespace=True)]

STRICT_INPUT = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
