"""Secrets Manager store for Cliniko API keys, with a short in-process cache for warm Lambdas.

Secret values never appear in logs, exception messages or `repr`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from cliniko_connector.adapters.aws import boto3_client
from cliniko_connector.errors import ConfigurationError, SecretOwnedElsewhere

# A key Cliniko refuses is read again at once (`forget`, called on a 401), so the TTL only bounds how long a
# process keeps using an old key that still works after `rotate-key`.
DEFAULT_CACHE_TTL_SECONDS = 900.0
# Deleted keys stay recoverable for the shortest window AWS allows, so a mistaken
# `connection remove` can be undone (`aws secretsmanager restore-secret`) for a week.
RECOVERY_WINDOW_DAYS = 7
# Tag naming the stack that created a secret. The roles read only secrets tagged as their stack's, and a
# store with an `owner` never overwrites or deletes a secret tagged (or left untagged) otherwise.
SECRET_OWNER_TAG_KEY = "cliniko-connector:stack"  # noqa: S105 (a tag name, not a password)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class SecretsManagerStore:
    """Implements `ports.SecretStore`. Secrets are named `prefix + name`; ids are ARNs (names work too).

    `get` caches each value for `cache_ttl_seconds` keyed by the id asked for, so a warm Lambda does not call
    Secrets Manager per event; `put` and `delete` empty the whole cache because a name and its ARN are two
    keys for one secret. A rotated key is therefore picked up by other processes within the TTL, or as soon as
    Cliniko refuses the old one (the runtime `forget`s a secret whose key got a 401).
    """

    def __init__(
        self,
        client: Any = None,
        prefix: str = "cliniko-connector/",
        kms_key_id: str | None = None,
        *,
        owner: str | None = None,
        cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client if client is not None else boto3_client("secretsmanager")
        self.prefix = prefix
        self.kms_key_id = kms_key_id
        self.owner = owner
        self._ttl = cache_ttl_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str]] = {}

    def __repr__(self) -> str:
        return f"SecretsManagerStore(prefix={self.prefix!r}, cached={len(self._cache)})"

    def get(self, secret_id: str) -> str:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(secret_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            response = self._client.get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            if _error_code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                raise ConfigurationError(f"secret {secret_id!r} does not exist or is scheduled for deletion") from None
            raise
        value = response.get("SecretString")
        if not isinstance(value, str):
            raise ConfigurationError(f"secret {secret_id!r} holds no text value")
        with self._lock:
            self._cache[secret_id] = (now + self._ttl, value)
        return value

    def put(self, name: str, value: str) -> str:
        """Create `prefix + name`, or store a new current version if it exists; a secret scheduled for
        deletion is restored first. Returns the secret's ARN."""
        try:
            return self._create_or_update(self.prefix + name, value)
        finally:
            # After the write: a `get` racing with it must not keep the old value cached.
            self.invalidate()

    def _create_or_update(self, secret_name: str, value: str) -> str:
        try:
            kwargs: dict[str, Any] = {"Name": secret_name, "SecretString": value}
            if self.kms_key_id:
                kwargs["KmsKeyId"] = self.kms_key_id
            if self.owner:
                kwargs["Tags"] = [{"Key": SECRET_OWNER_TAG_KEY, "Value": self.owner}]
            return str(self._client.create_secret(**kwargs)["ARN"])
        except ClientError as exc:
            # AWS answers InvalidRequestException when the name is scheduled for deletion.
            if _error_code(exc) not in ("ResourceExistsException", "InvalidRequestException"):
                raise
        # Exists already, possibly scheduled for deletion: a new value alone would not bring it back.
        described = self._client.describe_secret(SecretId=secret_name)
        self._check_owner(secret_name, described)
        if "DeletedDate" in described:
            self._client.restore_secret(SecretId=secret_name)
        response = self._client.put_secret_value(SecretId=secret_name, SecretString=value)
        return str(response["ARN"])

    def delete(self, secret_id: str) -> None:
        """Schedule deletion with a 7-day recovery window (not a forced, unrecoverable delete).
        `ForceDeleteWithoutRecovery` is left out, which means false: AWS documents it and
        `RecoveryWindowInDays` as mutually exclusive. A secret that does not exist counts as deleted."""
        try:
            if self.owner:
                self._check_owner(secret_id, self._client.describe_secret(SecretId=secret_id))
            self._client.delete_secret(SecretId=secret_id, RecoveryWindowInDays=RECOVERY_WINDOW_DAYS)
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
        finally:
            self.invalidate()

    def _check_owner(self, secret_id: str, described: dict[str, Any]) -> None:
        if not self.owner:
            return
        tags = {t.get("Key"): t.get("Value") for t in described.get("Tags", [])}
        found = tags.get(SECRET_OWNER_TAG_KEY)
        if found != self.owner:
            whose = f"stack {found!r}" if found else "no cliniko-connector stack (untagged)"
            raise SecretOwnedElsewhere(
                f"secret {described.get('Name', secret_id)!r} belongs to {whose}, not {self.owner!r}: "
                "it is left as it is"
            )

    def forget(self, secret_id: str) -> None:
        with self._lock:
            self._cache.pop(secret_id, None)

    def invalidate(self) -> None:
        """Forget every cached value."""
        with self._lock:
            self._cache.clear()
