"""Inbound hooks: what a hook is (one action on one connection, a map, how its caller authenticates) and its map.

A hook's map turns the caller's JSON body into the action's input, in the syntax of automation files: a whole
value `$.path` is the body's value there, with its JSON type (left out when the body has none); `<name>` inside
text is filled with the body's `$.name` (nothing when missing); everything else is a literal. Hooks are data
(a row of the state table and a secret), not resources: adding one deploys nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cliniko_connector.jsonpath import MISSING, PLACEHOLDER, is_path, lookup, split_path
from cliniko_connector.models import CONNECTION_ID_PATTERN

HOOK_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"
HEADER_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"  # an HTTP header name (RFC 9110 token)
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_RATE_LIMIT_PER_MINUTE = 60
# A secret's name under the stack's prefix: the hook role reads these, the action and poll roles don't.
HOOK_SECRET_FOLDER = "hooks/"  # noqa: S105 (a name prefix, not a password)


class SignatureScheme(BaseModel):
    """How an HMAC-SHA256 signature of the body travels. `plain`: the header holds `prefix` + the signature of
    the body, or of `{timestamp}.{body}` when `timestamp_header` names where the timestamp is; `stripe`: the
    header is `t=<unix time>,v1=<hex signature of "{t}.{body}">` (several `v1` allowed, any may match)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str = Field(default="X-Signature", pattern=HEADER_PATTERN)
    format: Literal["plain", "stripe"] = "plain"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", max_length=32)
    timestamp_header: str | None = Field(default=None, pattern=HEADER_PATTERN)

    @property
    def timestamped(self) -> bool:
        return self.format == "stripe" or self.timestamp_header is not None


# Common form and booking tools' schemes; `--header`, `--encoding`, `--prefix` and `--timestamp-header`
# describe any other.
PRESETS: dict[str, SignatureScheme] = {
    "generic": SignatureScheme(),
    "timestamped": SignatureScheme(timestamp_header="X-Timestamp"),
    "stripe": SignatureScheme(header="Stripe-Signature", format="stripe"),
    "github": SignatureScheme(header="X-Hub-Signature-256", prefix="sha256="),
    "typeform": SignatureScheme(header="Typeform-Signature", encoding="base64", prefix="sha256="),
}


class HookAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["hmac", "bearer"]
    preset: str | None = None
    signature: SignatureScheme | None = Field(default=None, description="`hmac` only.")
    header: str = Field(default="Authorization", pattern=HEADER_PATTERN, description="`bearer`: `Bearer <token>`.")

    @model_validator(mode="after")
    def _scheme_for_hmac(self) -> HookAuth:
        if self.type == "hmac" and self.signature is None:
            raise ValueError("an hmac hook needs its signature scheme")
        return self


class HookMap(BaseModel):
    """A map file: the action's `input`, and optionally where the body holds an idempotency key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: dict[str, Any]
    idempotency_key: str | None = Field(default=None, description="A `$.path` into the body.")

    @field_validator("idempotency_key")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        if value is not None and split_path(value) is None:
            raise ValueError("idempotency_key is a JSON path into the body, e.g. `$.submission_id`")
        return value

    @model_validator(mode="after")
    def _paths_are_paths(self) -> HookMap:
        for where, text in _strings(self.input, "input"):
            if is_path(text) and split_path(text) is None:
                raise ValueError(f"{where}: `{text}` is not a JSON path in dot notation (e.g. `$.data.email`)")
            for match in PLACEHOLDER.finditer(text):
                if split_path(_placeholder_path(match.group(1))) is None:
                    raise ValueError(f"{where}: `<{match.group(1)}>` is not a field path (e.g. `<data.email>`)")
        return self

    def apply(self, body: Any) -> dict[str, Any]:
        """The action's input for this body (not yet validated against the action's model)."""
        value = _apply(self.input, body)
        return value if isinstance(value, dict) else {}

    def key_in(self, body: Any) -> Any:
        """The body's idempotency key (`MISSING` when the map names none or the body has none there)."""
        return MISSING if self.idempotency_key is None else lookup(body, self.idempotency_key)


class Hook(BaseModel):
    """One inbound hook: a row of the state table. The secret itself is in Secrets Manager (`secret_id`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=HOOK_NAME_PATTERN)
    connection_id: str = Field(pattern=CONNECTION_ID_PATTERN)
    action: str
    map: HookMap
    auth: HookAuth
    secret_id: str
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1, le=6 * 1024 * 1024)
    rate_limit_per_minute: int = Field(default=DEFAULT_RATE_LIMIT_PER_MINUTE, ge=1, le=100_000)
    created_at: str = ""


class HookLogEntry(BaseModel):
    """One request's outcome, for `hooks log`: never the body, never a header."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str
    at: str
    status: int
    error: str | None = None


def _placeholder_path(name: str) -> str:
    return name if name.startswith("$") else f"$.{name}"


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, item in node.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _strings(item, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def _apply(node: Any, body: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, item in node.items():
            value = _apply(item, body)
            if value is not MISSING:
                out[key] = value
        return out
    if isinstance(node, list):
        return [value for value in (_apply(item, body) for item in node) if value is not MISSING]
    if not isinstance(node, str):
        return node
    if is_path(node):
        return lookup(body, node)
    whole = PLACEHOLDER.fullmatch(node)
    if whole:
        return lookup(body, _placeholder_path(whole.group(1)))

    def fill(match: Any) -> str:
        value = lookup(body, _placeholder_path(match.group(1)))
        if value is MISSING:
            return ""
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return PLACEHOLDER.sub(fill, node)
