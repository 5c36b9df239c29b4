"""One boto3 client per (service, region) per process, reused across warm Lambda invocations, made on first use.

The endpoint comes from boto3's own configuration chain, so `AWS_ENDPOINT_URL` (or
`AWS_ENDPOINT_URL_<SERVICE>`) points every client at the local moto server without code here.
"""

from __future__ import annotations

import threading
import weakref
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 3  # in all, the first try included


def client_config(long_poll_seconds: int = 0) -> Config:
    """Timeouts and retries for every client. A client that long-polls (SQS `WaitTimeSeconds`) waits that
    long for its answer on top: with the plain read timeout, a quiet long poll ends in a ReadTimeoutError,
    and the retry's receive can hide what the first one took.

    No client-side parameter validation: AWS validates every request itself (a bad one fails with a
    `ValidationException`, nothing sent half-way), and botocore's check walks every nested value of every
    request in Python first: a third of the poller's CPU in a backfill (its BatchWriteItem and PutEvents
    entries), to find nothing the adapters' typed requests can hold."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS + long_poll_seconds,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        parameter_validation=False,
    )


# boto3's default session is not thread-safe while it creates clients.
_lock = threading.RLock()


class LazyClient:
    """A boto3 client made when first used (an API call, `meta`, `exceptions`). Making one reads its service's
    model and endpoint rules (tens of ms of CPU each): a function's cold start pays only for the services its
    invocations call, when they call them (the dispatcher never makes the Secrets Manager client its runtime
    holds, a poll worker makes its SQS client only to retry a job early)."""

    def __init__(self, service: str, region: str | None, long_poll_seconds: int) -> None:
        self._args = (service, region, long_poll_seconds)
        self._client: Any = None

    def made(self) -> Any:
        """The real client, made now if it wasn't."""
        if self._client is None:
            service, region, long_poll_seconds = self._args
            with _lock:
                if self._client is None:
                    self._client = boto3.client(service, region_name=region, config=client_config(long_poll_seconds))
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)

    def __repr__(self) -> str:
        return f"LazyClient({self._args[0]!r}, made={self._client is not None})"


# Every client asked for in this process (the cold-start benchmark makes them all, to price a first invocation).
REQUESTED: weakref.WeakSet[LazyClient] = weakref.WeakSet()


@cache
def boto3_client(service: str, *, region: str | None = None, long_poll_seconds: int = 0) -> Any:
    """A shared low-level client for `service` (a `LazyClient`: made on first use); `region=None` uses the
    environment's region; `long_poll_seconds` for a client whose calls wait on the server that long (see
    `client_config`). `boto3_client.cache_clear()` forgets every client (tests that change the environment)."""
    client = LazyClient(service, region, long_poll_seconds)
    REQUESTED.add(client)
    return client
