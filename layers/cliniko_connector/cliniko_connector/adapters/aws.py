"""One boto3 client per (service, region) per process, reused across warm Lambda invocations.

The endpoint comes from boto3's own configuration chain, so `AWS_ENDPOINT_URL` (or
`AWS_ENDPOINT_URL_<SERVICE>`) points every client at the local moto server without code here.
"""

from __future__ import annotations

import threading
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
    and the retry's receive can hide what the first one took."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS + long_poll_seconds,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )


# boto3's default session is not thread-safe while it creates clients.
_lock = threading.Lock()


@cache
def boto3_client(service: str, *, region: str | None = None, long_poll_seconds: int = 0) -> Any:
    """A shared low-level client for `service`; `region=None` uses the environment's region;
    `long_poll_seconds` for a client whose calls wait on the server that long (see `client_config`).
    `boto3_client.cache_clear()` forgets every client (tests that change the environment)."""
    with _lock:
        return boto3.client(service, region_name=region, config=client_config(long_poll_seconds))
