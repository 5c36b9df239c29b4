"""An inbound hook's request → one `Cliniko Action Requested` event on the bus, or a refusal that calls nothing.

The checks, in order, each answering with its HTTP status and calling neither Cliniko nor the bus:
an unknown hook (401, as a bad signature: hook names aren't disclosed), a body over the hook's limit (413), a
missing or wrong signature or token (401), a timestamp more than five minutes off (401), more requests this
minute than the hook allows (429, counted only once authenticated, so a stranger can't use up the caller's
minute), a signature or request id already seen (401), a body that isn't a JSON object or doesn't map to the
action's input (400 with the fields at fault, never their values), a connection that doesn't allow the action
or is disabled (403). What passes is published as an action request from the stack's trusted
`ActionRequestSource`, so the action function checks, runs and reports it as it does any automation's; the
answer is 202 with the request id `hooks log` shows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import ConnectionNotFound, ConnectorError, HookNotFound, InputValidationError
from cliniko_connector.eventmodels import ACTION_REQUESTED, KEY_PATTERN, ActionRequest, field_errors
from cliniko_connector.hookmodels import HOOK_NAME_PATTERN, Hook, HookLogEntry, SignatureScheme
from cliniko_connector.jsonpath import MISSING
from cliniko_connector.models import BusEvent
from cliniko_connector.observability import count, logger
from cliniko_connector.ports import ConnectionStore, EventPublisher, HookLedger, HookStore, SecretStore
from cliniko_connector.timeutil import to_z
from cliniko_connector.usecases.actions import validate_input

MAX_AGE_SECONDS = 300
# A timestamped signature is refused as stale after five minutes, so it need be remembered only a little longer;
# one without a timestamp (or a bearer request's id) stays valid forever, so it is remembered for 30 days,
# beyond the action's day of idempotency.
REPLAY_TTL_SECONDS = 2 * MAX_AGE_SECONDS
UNTIMED_REPLAY_TTL_SECONDS = 30 * 86400
# A request that fails its check makes the hook's secret be read again (it may have been rotated since this warm
# function cached it), at most once a minute per hook, so bad requests can't drive Secrets Manager calls.
SECRET_REREAD_SECONDS = 60.0
PATH_PREFIX = "/hooks/"
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200
_KEY = re.compile(KEY_PATTERN)
_NAME = re.compile(HOOK_NAME_PATTERN)


@dataclass(frozen=True)
class HookCall:
    """One HTTP request to a hook: header names in lower case, the body as received."""

    name: str
    method: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str


@dataclass(frozen=True)
class HookReply:
    status: int
    body: dict[str, Any]

    def to_function_url(self) -> dict[str, Any]:
        """The answer in Lambda's function URL (payload 2.0) form."""
        return {
            "statusCode": self.status,
            "headers": {"content-type": "application/json", "cache-control": "no-store"},
            "body": json.dumps(self.body, separators=(",", ":")),
        }


class HookRefused(Exception):
    """A request answered with `status` and nothing called. `error` is a type name, `message` safe to show."""

    def __init__(self, status: int, error: str, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.fields = dict(fields or {})


def call_from_function_url(event: Mapping[str, Any], max_body_bytes: int) -> HookCall:
    """A function URL event (payload 2.0) as a `HookCall`; the hook's name is the path's `/hooks/NAME`.
    A body over `max_body_bytes` is refused before it is decoded."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    request_id = str(context.get("requestId") or "")
    path = str(event.get("rawPath") or http.get("path") or "")
    name = path.removeprefix(PATH_PREFIX).strip("/") if path.startswith(PATH_PREFIX) else ""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    raw = event.get("body") or ""
    if not isinstance(raw, str):
        raw = ""
    # Base64 is 4/3 of the bytes it holds: what is too long even as text is refused unread.
    if len(raw) > max_body_bytes * (4 / 3 if event.get("isBase64Encoded") else 4) + 4:
        raise HookRefused(413, "BodyTooLarge", "the body is larger than this hook accepts")
    try:
        body = base64.b64decode(raw, validate=False) if event.get("isBase64Encoded") else raw.encode("utf-8")
    except (binascii.Error, ValueError):
        raise HookRefused(400, "MalformedBody", "the body is not valid base64") from None
    return HookCall(name, str(http.get("method") or "POST").upper(), headers, body, request_id)


def _digest(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def _encoded(digest: bytes, encoding: str) -> str:
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


def sign(scheme: SignatureScheme, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers a caller sends for `body` under `scheme` (what `hooks add` documents and the tests send)."""
    if scheme.format == "stripe":
        t = int(time.time()) if timestamp is None else timestamp
        return {scheme.header: f"t={t},v1={_digest(secret, f'{t}.'.encode() + body).hex()}"}
    if scheme.timestamp_header is not None:
        t = int(time.time()) if timestamp is None else timestamp
        signature = _encoded(_digest(secret, f"{t}.".encode() + body), scheme.encoding)
        return {scheme.header: scheme.prefix + signature, scheme.timestamp_header: str(t)}
    return {scheme.header: scheme.prefix + _encoded(_digest(secret, body), scheme.encoding)}


def _unauthorized(message: str = "the request's signature is missing or wrong") -> HookRefused:
    return HookRefused(401, "Unauthorized", message)


def verify_signature(scheme: SignatureScheme, secret: str, call: HookCall, now: float) -> str:
    """Raise 401 unless the body is signed with `secret`; return what identifies this signed request (for
    replays). Comparisons are constant-time; the timestamp of a timestamped scheme must be within 5 minutes."""
    value = call.headers.get(scheme.header.lower(), "")
    if not value or len(value) > 2048:
        raise _unauthorized()
    if scheme.format == "stripe":
        parts = [p.split("=", 1) for p in value.split(",") if "=" in p]
        stamps = [v.strip() for k, v in parts if k.strip() == "t"]
        candidates = [v.strip() for k, v in parts if k.strip() == "v1"]
        if len(stamps) != 1 or not candidates:
            raise _unauthorized()
        timestamp = stamps[0]
        expected = _digest(secret, f"{timestamp}.".encode() + call.body).hex()
        matched = [c for c in candidates if hmac.compare_digest(c.encode(), expected.encode())]
    else:
        timestamp = None
        message = call.body
        if scheme.timestamp_header is not None:
            timestamp = call.headers.get(scheme.timestamp_header.lower(), "").strip()
            message = f"{timestamp}.".encode() + call.body
        if not value.startswith(scheme.prefix):
            raise _unauthorized()
        given = value[len(scheme.prefix) :].strip()
        expected = _encoded(_digest(secret, message), scheme.encoding)
        matched = [given] if hmac.compare_digest(given.encode(), expected.encode()) else []
    if not matched:
        raise _unauthorized()
    stale = timestamp is not None and (
        not timestamp.isdigit() or len(timestamp) > 12 or abs(now - int(timestamp)) > MAX_AGE_SECONDS
    )
    if stale:
        raise _unauthorized("the request's timestamp is more than five minutes from now")
    return matched[0]


def verify_bearer(header: str, token: str, call: HookCall) -> None:
    value = call.headers.get(header.lower(), "")
    scheme, _, given = value.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise _unauthorized("the request's bearer token is missing or wrong")


@dataclass
class HookReceiver:
    """The hook use-case behind the function URL."""

    hooks: HookStore
    ledger: HookLedger
    secrets: SecretStore
    connections: ConnectionStore
    publisher: EventPublisher
    request_source: str
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    _reread_at: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    def receive(self, call: HookCall) -> HookReply:
        hook: Hook | None = None
        try:
            hook = self._hook(call.name)
            reply = self._accept(hook, call)
        except HookRefused as refused:
            body: dict[str, Any] = {"error": refused.error, "message": str(refused), "request_id": call.request_id}
            if refused.fields:
                body["fields"] = refused.fields
            reply = HookReply(refused.status, body)
        if hook is not None:
            self._log(hook, call, reply)
        labels = {"status": str(reply.status), **({"hook": hook.name} if hook else {})}
        count("HookRequests", labels=labels, by="status")
        logger.info(
            "hook request",
            extra={"hook": hook.name if hook else None, "status": reply.status, "error": reply.body.get("error")},
        )
        return reply

    def _hook(self, name: str) -> Hook:
        if not _NAME.match(name):
            raise _unauthorized()
        try:
            return self.hooks.get(name)
        except HookNotFound:
            raise _unauthorized() from None

    def _accept(self, hook: Hook, call: HookCall) -> HookReply:
        if call.method != "POST":
            raise HookRefused(405, "MethodNotAllowed", "hooks take POST requests")
        if len(call.body) > hook.max_body_bytes:
            raise HookRefused(413, "BodyTooLarge", f"the body is larger than this hook's {hook.max_body_bytes} bytes")
        now = self.clock()
        seen = self._authenticate(hook, call, now)
        if self.ledger.count_request(hook.name, int(now // 60) * 60) > hook.rate_limit_per_minute:
            raise HookRefused(429, "TooManyRequests", f"more than {hook.rate_limit_per_minute} requests this minute")
        token = hashlib.sha256(f"{hook.name}\0{seen}".encode()).hexdigest() if seen else None
        timed = hook.auth.signature is not None and hook.auth.signature.timestamped
        expires = now + (REPLAY_TTL_SECONDS if timed else UNTIMED_REPLAY_TTL_SECONDS)
        if token is not None and not self.ledger.first_use(hook.name, token, expires):
            raise _unauthorized("this request was received before (a replay)")
        try:
            request = self._request(hook, call)
            self._publish(hook, request)
        except BaseException:
            if token is not None:
                self.ledger.forget(hook.name, token)  # not accepted: its sender may send it again
            raise
        return HookReply(202, {"status": "accepted", "request_id": call.request_id})

    def _authenticate(self, hook: Hook, call: HookCall, now: float) -> str | None:
        """What makes this request unique for replay checks: the signature (HMAC), else a request id header.

        A request the cached secret refuses is checked once more against the secret as stored now, if the
        hook's secret was not read again within `SECRET_REREAD_SECONDS`: a rotated secret works at once."""
        secret = self._secret(hook)
        try:
            return self._check(hook, secret, call, now)
        except HookRefused:
            last = self._reread_at.get(hook.name)
            if last is not None and self.monotonic() - last < SECRET_REREAD_SECONDS:
                raise
            self._reread_at[hook.name] = self.monotonic()
            self.secrets.forget(hook.secret_id)
            fresh = self._secret(hook)
            if hmac.compare_digest(fresh.encode(), secret.encode()):
                raise
            return self._check(hook, fresh, call, now)

    def _secret(self, hook: Hook) -> str:
        try:
            return self.secrets.get(hook.secret_id)
        except ConnectorError:
            raise HookRefused(
                503, "HookSecretUnavailable", "the hook's secret can't be read; try again later"
            ) from None

    def _check(self, hook: Hook, secret: str, call: HookCall, now: float) -> str | None:
        if hook.auth.type == "hmac" and hook.auth.signature is not None:
            return verify_signature(hook.auth.signature, secret, call, now)
        verify_bearer(hook.auth.header, secret, call)
        given = call.headers.get("x-request-id") or call.headers.get("webhook-id")
        return f"request-id:{given}" if given else None

    def _request(self, hook: Hook, call: HookCall) -> ActionRequest:
        try:
            body = json.loads(call.body)
        except (ValueError, RecursionError):
            raise HookRefused(400, "MalformedJson", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise HookRefused(400, "MalformedJson", "the body is not a JSON object")
        action = ACTIONS.get(hook.action)
        if action is None:
            raise HookRefused(500, "HookMisconfigured", "the hook names an action this stack does not have")
        try:
            payload = validate_input(action, hook.map.apply(body))
        except InputValidationError as invalid:
            raise HookRefused(
                400, "InvalidInput", "the body does not give the action's input", invalid.field_errors
            ) from None
        except RecursionError:
            raise HookRefused(400, "InvalidInput", "the body nests too deeply") from None
        self._allowed(hook)
        key = self._key(hook, call, body)
        try:
            return ActionRequest(
                connection_id=hook.connection_id,
                action=hook.action,
                input=payload.model_dump(mode="json", by_alias=True, exclude_unset=True),
                idempotency_key=f"hook/{hook.name}:{key}" if key is not None else None,
            )
        except ValidationError as exc:
            raise HookRefused(
                400, "InvalidInput", "the body does not give the action's input", field_errors(exc)
            ) from None

    def _allowed(self, hook: Hook) -> None:
        try:
            connection = self.connections.get(hook.connection_id)
        except ConnectionNotFound:
            raise HookRefused(403, "ActionNotAllowed", "the hook's connection is gone") from None
        if not connection.enabled:
            raise HookRefused(403, "ConnectionDisabled", "the hook's connection is disabled")
        if hook.action not in connection.allowed_actions:
            raise HookRefused(403, "ActionNotAllowed", f"the connection does not allow {hook.action}")

    def _key(self, hook: Hook, call: HookCall, body: Any) -> str | None:
        """The caller's `Idempotency-Key` header, else the body field the map names; checked for form."""
        given: Any = call.headers.get(IDEMPOTENCY_HEADER)
        where = "Idempotency-Key"
        if given is None:
            given = hook.map.key_in(body)
            where = hook.map.idempotency_key or ""
            if given is MISSING or given is None:
                return None
        if isinstance(given, bool) or not isinstance(given, str | int):
            raise HookRefused(400, "InvalidInput", "bad idempotency key", {where: "must be a string or an integer"})
        text = str(given)
        if not text or len(text) > MAX_KEY_LENGTH or not _KEY.match(text):
            problem = f"1 to {MAX_KEY_LENGTH} printable ASCII characters without spaces"
            raise HookRefused(400, "InvalidInput", "bad idempotency key", {where: problem})
        return text

    def _publish(self, hook: Hook, request: ActionRequest) -> None:
        event = BusEvent(
            source=self.request_source,
            detail_type=ACTION_REQUESTED,
            detail=request.model_dump(mode="json", exclude_none=True),
        )
        try:
            self.publisher.publish([event])
        except ConnectorError:
            raise HookRefused(503, "Unavailable", "the request could not be queued; send it again later") from None

    def _log(self, hook: Hook, call: HookCall, reply: HookReply) -> None:
        entry = HookLogEntry(
            request_id=call.request_id or "-",
            at=to_z_now(self.clock()),
            status=reply.status,
            error=reply.body.get("error"),
        )
        try:
            self.ledger.log(hook.name, entry)
        except Exception as exc:  # the answer stands; the log line is best effort
            logger.warning("could not log the hook request", extra={"error": type(exc).__name__})


def to_z_now(epoch: float) -> str:
    return to_z(datetime.fromtimestamp(epoch, UTC))
