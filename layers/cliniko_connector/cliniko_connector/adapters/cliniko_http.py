"""Cliniko REST client over `requests`: auth, shard routing, pagination, typed errors and bounded retries.

Nothing here logs or raises with the API key, query strings or bodies: queries can carry patient
emails and names, so errors name only the method, the path and the status.
"""

from __future__ import annotations

import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from cliniko_connector.cliniko_query import q as q
from cliniko_connector.cliniko_query import sort as sort
from cliniko_connector.errors import (
    ClinikoBadResponse,
    ClinikoClientError,
    ClinikoConnectionError,
    ClinikoError,
    ClinikoForbidden,
    ClinikoNotFound,
    ClinikoRateLimited,
    ClinikoServerError,
    ClinikoTimeout,
    ClinikoTransientError,
    ClinikoUnauthorized,
    ClinikoValidationError,
    ConfigurationError,
    UntrustedBaseUrl,
)
from cliniko_connector.loopback import is_loopback_url
from cliniko_connector.ports import Page, Params, RateBudget

# The layer leaves out requests' character detection (charset_normalizer: a tenth of a cold start, for
# `Response.apparent_encoding`): Cliniko answers JSON, which `Response.json()` decodes without it (requests
# supports its absence, falling back to UTF-8, and says so with this warning on import).
warnings.filterwarnings("ignore", message="Unable to find acceptable character detection dependency")

import requests  # noqa: E402

DEFAULT_SHARD = "au1"
_SHARD_RE = re.compile(r"^[a-z]{2}\d{1,2}$", re.IGNORECASE)
_UA_RE = re.compile(r"^.+ \([^@\s()]+@[^@\s()]+\.[^@\s()]+\)$")
_IDEMPOTENT_POST_SUFFIXES = ("/archive", "/unarchive")


def shard_from_key(api_key: str) -> str:
    """The shard is the key's suffix after its last `-`; keys without one are old `au1` keys."""
    _, sep, suffix = api_key.rpartition("-")
    if sep and _SHARD_RE.match(suffix):
        return suffix.lower()
    return DEFAULT_SHARD


def base_url_for_shard(shard: str) -> str:
    if not _SHARD_RE.match(shard):
        raise ConfigurationError(f"not a Cliniko shard: {shard!r}")
    return f"https://api.{shard.lower()}.cliniko.com/v1"


def check_base_url(url: str) -> str:
    """`url` as a Cliniko base URL: https, or plain http only to a loopback address (the simulator), with no user
    info, query or fragment. Anything else raises `UntrustedBaseUrl`, which names the scheme and host only."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise UntrustedBaseUrl("base URL refused: it holds white space or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # a port that isn't a number raises here
    except ValueError:
        raise UntrustedBaseUrl("base URL refused: not a valid URL") from None
    scheme = parts.scheme.lower()
    if not (scheme == "https" and host) and not (scheme == "http" and is_loopback_url(url)):
        raise UntrustedBaseUrl(
            f"base URL refused: scheme {scheme or 'none'!r}, host {host[:80] or 'none'!r}; "
            "only https, or http to a loopback address"
        )
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise UntrustedBaseUrl("base URL refused: it may not carry user info, a query or a fragment")
    return url.rstrip("/")


def base_url_override(url: str | None, *, allowed: bool) -> str | None:
    """A connection's own Cliniko URL, if the stack allows one (`cliniko_allow_base_url_override`) and it passes
    `check_base_url`; None when the connection has none (the key's shard decides)."""
    if url is None:
        return None
    if not allowed:
        raise UntrustedBaseUrl(
            "base URL refused: this stack sends API keys only to https://api.<shard>.cliniko.com/v1 "
            "(a connection's own URL needs CLINIKO_ALLOW_BASE_URL_OVERRIDE, which only the local stack sets)"
        )
    return check_base_url(url)


@cache
def shared_session() -> requests.Session:
    """One connection pool per process, reused across warm Lambda invocations."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# Rails' validation messages (ActiveModel's defaults) and the ones Cliniko is known to send: the only 422 texts
# passed on, because they name a rule and never a value. A 422 travels on in `Cliniko Action Failed` events,
# idempotency records, the archive and DLQs; any other text (even plain words: "Zebulonia is already booked")
# may quote the request, so it is replaced by WITHHELD.
_KNOWN_PHRASES = frozenset(
    {
        "can't be blank",
        "can't be empty",
        "must be blank",
        "is invalid",
        "is not included in the list",
        "is reserved",
        "must be accepted",
        "has already been taken",
        "must exist",
        "is not a number",
        "must be an integer",
        "must be odd",
        "must be even",
        "must be an object",
        "Validation Failed",
    }
)
_COUNT = r"-?\d{1,6}(?:\.\d{1,3})?"  # a validator's limit; at most 6 digits, so never an id or a phone number
_KNOWN_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        rf"is too long \(maximum is {_COUNT} characters?\)",
        rf"is too short \(minimum is {_COUNT} characters?\)",
        rf"is the wrong length \(should be {_COUNT} characters?\)",
        rf"must be (?:greater than|greater than or equal to|equal to|less than|less than or equal to|other than) "
        rf"{_COUNT}",
    )
)
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}(?:\[\d{1,4}\])?(?:\.[a-z_][a-z0-9_]{0,63}(?:\[\d{1,4}\])?){0,4}$")
WITHHELD = "was refused (Cliniko's text withheld: not a known validation message)"
UNNAMED_FIELD = "field"


def known_validation_text(text: str) -> str | None:
    """`text` if it is one of the validation messages known to quote nothing, else None."""
    text = text.strip()
    if text in _KNOWN_PHRASES or any(p.fullmatch(text) for p in _KNOWN_PATTERNS):
        return text
    return None


def _field_text(value: Any) -> str:
    parts = value if isinstance(value, list) else [value]
    kept = dict.fromkeys(known_validation_text(p) if isinstance(p, str) else None for p in parts)
    return "; ".join(p or WITHHELD for p in kept)


def _stringify_ids(record: dict[str, Any]) -> dict[str, Any]:
    for key, value in record.items():
        if (key == "id" or key.endswith("_id")) and isinstance(value, int) and not isinstance(value, bool):
            record[key] = str(value)
        elif key.endswith("_ids") and isinstance(value, list):
            record[key] = [str(v) if isinstance(v, int) else v for v in value]
    return record


class ClinikoClient:
    """Implements `ports.ClinikoApi` for one account (one API key)."""

    def __init__(
        self,
        api_key: str,
        *,
        user_agent: str,
        base_url: str | None = None,
        timeout: float = 15.0,
        max_backoff: float = 20.0,
        default_budget_seconds: float = 60.0,
        session: requests.Session | None = None,
        rate_budget: RateBudget | None = None,
        rate_key_id: str | None = None,
        rate_connection_id: str | None = None,
        purpose: str = "poll",
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        on_unauthorized: Callable[[], None] | None = None,
    ) -> None:
        if not api_key or api_key != api_key.strip():
            raise ConfigurationError("the Cliniko API key is empty or has surrounding white space")
        if not _UA_RE.match(user_agent):
            raise ConfigurationError("User-Agent must be 'App name (contact@email)': Cliniko blocks anonymous clients")
        self._auth = (api_key, "")
        self.base_url = check_base_url(base_url) if base_url else base_url_for_shard(shard_from_key(api_key))
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._default_budget = default_budget_seconds
        self._session = session or shared_session()
        self._rate_budget = rate_budget
        self._rate_key_id = rate_key_id
        self._rate_connection_id = rate_connection_id
        self._purpose = "action" if purpose == "action" else "poll"
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall = wall_clock
        self._jitter = jitter
        self._on_unauthorized = on_unauthorized  # a 401: the key may have been rotated (the cached one is stale)
        # Read by the poll worker to prepay a job's first requests (`RateBudget.prepay`).
        self.rate_key_id = rate_key_id
        self.requests_sent = 0
        self.rate_limited = 0  # 429s answered, including those retried here
        # The poll worker sends a job's requests from a few threads at once (one client per connection).
        self._counts = threading.Lock()

    def __repr__(self) -> str:
        return f"ClinikoClient(base_url={self.base_url!r})"

    # -- ports.ClinikoApi -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        json: Mapping[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        method = method.upper()
        url = self._url(path)
        deadline = deadline if deadline is not None else self._monotonic() + self._default_budget
        retry_ambiguous = method != "POST" or url.endswith(_IDEMPOTENT_POST_SUFFIXES)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._send_once(method, url, params, json, deadline)
            except ClinikoTransientError as exc:
                ambiguous = isinstance(exc, ClinikoTimeout | ClinikoConnectionError | ClinikoServerError)
                if ambiguous and not retry_ambiguous and not getattr(exc, "not_sent", False):
                    # A create may have been applied even though we saw no answer: never send it twice.
                    raise
                wait = self._wait_before_retry(exc, attempt)
                # A retry that would start with almost no time left can only time out and hide the real error.
                if self._monotonic() + wait + min(1.0, self._timeout / 2) >= deadline:
                    raise
                self._sleep(wait)

    def list_page(self, path_or_url: str, *, params: Params = (), deadline: float | None = None) -> Page:
        body = self.request("GET", path_or_url, params=params, deadline=deadline)
        return self._parse_page(path_or_url, body)

    def iter_records(
        self, path: str, *, params: Params = (), deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        page = self.list_page(path, params=params, deadline=deadline)
        while True:
            yield from page.records
            if not page.next_url:
                return
            page = self.list_page(page.next_url, deadline=deadline)

    # -- internals --------------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            # `links.next` is followed only on our own host: the key must never go anywhere else.
            ours, theirs = urlsplit(self.base_url), urlsplit(path_or_url)
            if (ours.scheme, ours.netloc) != (theirs.scheme, theirs.netloc) or not theirs.path.startswith(ours.path):
                raise ClinikoBadResponse("a pagination link points outside the Cliniko base URL")
            return path_or_url
        if not path_or_url.startswith("/"):
            path_or_url = "/" + path_or_url
        return self.base_url + path_or_url

    def _path_of(self, url: str) -> str:
        return urlsplit(url).path

    def _send_once(self, method: str, url: str, params: Params, json: Mapping[str, Any] | None, deadline: float) -> Any:
        if self._rate_budget is not None and self._rate_key_id is not None:
            self._rate_budget.acquire(
                self._rate_key_id,
                purpose=self._purpose,  # type: ignore[arg-type]
                deadline=deadline,
                connection_id=self._rate_connection_id,
            )
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            raise ClinikoTimeout("time budget spent before the request", method=method, path=self._path_of(url))
        headers = dict(self._headers)
        if json is not None:
            headers["Content-Type"] = "application/json"
        path = self._path_of(url)
        with self._counts:
            self.requests_sent += 1
        try:
            response = self._session.request(
                method,
                url,
                params=list(params) or None,
                json=json,
                headers=headers,
                auth=self._auth,
                timeout=min(self._timeout, remaining),
                allow_redirects=False,
            )
        except requests.ConnectTimeout:
            err = ClinikoTimeout("timed out connecting to Cliniko", method=method, path=path)
            err.not_sent = True  # type: ignore[attr-defined]
            raise err from None
        except requests.Timeout:
            raise ClinikoTimeout("Cliniko did not answer in time", method=method, path=path) from None
        except requests.ConnectionError:
            host = urlsplit(url).netloc  # a host name is no secret; naming it tells a wrong base URL at once
            raise ClinikoConnectionError(
                f"{method} {path}: could not connect to Cliniko at {host}", method=method, path=path
            ) from None
        return self._decode(response, method, path)

    def _decode(self, response: requests.Response, method: str, path: str) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ClinikoBadResponse(
                    f"{method} {path}: answer {status} was not valid JSON", status=status, method=method, path=path
                ) from None
        if status == 429:
            with self._counts:
                self.rate_limited += 1
            raise ClinikoRateLimited(
                f"{method} {path}: rate limited by Cliniko",
                reset_at=self._reset_at(response),
                status=status,
                method=method,
                path=path,
            )
        if status >= 500:
            raise ClinikoServerError(
                f"{method} {path}: Cliniko answered {status}", status=status, method=method, path=path
            )
        error_cls: type[ClinikoError] = {
            401: ClinikoUnauthorized,
            403: ClinikoForbidden,
            404: ClinikoNotFound,
            422: ClinikoValidationError,
        }.get(status, ClinikoClientError)
        if status == 401 and self._on_unauthorized is not None:
            self._on_unauthorized()
        field_errors: dict[str, str] = {}
        detail = ""
        if status == 422:
            field_errors, detail = self._validation_details(response)
        hint = {
            401: "the API key was refused",
            403: "the key's Cliniko user may not do this (or the client was blocked)",
            404: "no such record or route",
        }.get(status, detail or f"Cliniko answered {status}")
        raise error_cls(f"{method} {path}: {hint}", status=status, method=method, path=path, field_errors=field_errors)

    @staticmethod
    def _validation_details(response: requests.Response) -> tuple[dict[str, str], str]:
        """Cliniko's field errors: field names (snake_case, else UNNAMED_FIELD) and known validation messages only
        (`known_validation_text`); they travel on in events, idempotency records, the archive and DLQs."""
        try:
            body = response.json()
        except ValueError:
            return {}, "validation failed"
        if not isinstance(body, dict):
            return {}, "validation failed"
        errors = body.get("errors")
        fields: dict[str, str] = {}
        if isinstance(errors, dict):
            for name, text in errors.items():
                field = name if isinstance(name, str) and _FIELD_NAME.match(name) else UNNAMED_FIELD
                fields[field] = _field_text(text)
        message = body.get("message")
        known = known_validation_text(message) if isinstance(message, str) else None
        return fields, known or "validation failed"

    def _reset_at(self, response: requests.Response) -> float | None:
        reset = response.headers.get("X-RateLimit-Reset")
        if reset:
            try:
                return float(reset)
            except ValueError:
                pass
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            try:
                return self._wall() + float(retry_after)
            except ValueError:
                pass
        return None

    def _wait_before_retry(self, exc: ClinikoTransientError, attempt: int) -> float:
        if isinstance(exc, ClinikoRateLimited):
            if exc.reset_at is not None:
                if self._rate_budget is not None and self._rate_key_id is not None:
                    self._rate_budget.penalize(self._rate_key_id, exc.reset_at)
                return max(0.0, exc.reset_at - self._wall()) + 0.25 * self._jitter()
            return min(self._max_backoff, 60.0)
        # Full jitter: spread retries of many workers instead of synchronising them.
        ceiling = min(self._max_backoff, 0.5 * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._jitter())

    @staticmethod
    def _parse_page(path_or_url: str, body: Any) -> Page:
        if not isinstance(body, dict):
            raise ClinikoBadResponse("a list answer was not a JSON object")
        lists = [(k, v) for k, v in body.items() if isinstance(v, list)]
        if len(lists) != 1:
            raise ClinikoBadResponse("a list answer did not hold exactly one list of records")
        records = lists[0][1]
        if not all(isinstance(r, dict) for r in records):
            raise ClinikoBadResponse("a list answer held something other than records")
        links = body.get("links") if isinstance(body.get("links"), dict) else {}
        next_url = links.get("next") if isinstance(links, dict) else None
        total = body.get("total_entries")
        return Page(
            records=[_stringify_ids(r) for r in records],
            total_entries=total if isinstance(total, int) else None,
            next_url=next_url if isinstance(next_url, str) and next_url else None,
        )
