"""A rotated hook secret against a warm hook function's secret cache (the real Secrets Manager adapter on moto).

`hooks rotate` writes the new secret from another process; the warm function still holds the old one in its
cache for up to 15 minutes. A request the cached secret refuses reads the secret again (once a minute per hook
at most), so the calling app can switch to the new secret at once, and bad requests can't drive
Secrets Manager calls."""

from __future__ import annotations

import json

import boto3
import pytest

from cliniko_connector.adapters.secrets import SecretsManagerStore
from cliniko_connector.usecases.hooks import SECRET_REREAD_SECONDS, HookCall, sign
from tests.unit.adapters.adapter_support import REGION, ClientProxy, FakeClock
from tests.unit.hooks.support import SECRET, Rig, form, rig

NEW_SECRET = "whsec_rotated-secret-9876543210"


@pytest.fixture
def warm(aws: None) -> tuple[Rig, ClientProxy, SecretsManagerStore, FakeClock]:
    """A hook receiver whose secrets come from Secrets Manager through the caching adapter, as deployed, and
    the CLI's own store (another process: its own cache)."""
    client = ClientProxy(boto3.client("secretsmanager", region_name=REGION))
    clock = FakeClock()
    cached = SecretsManagerStore(client=client, monotonic=clock.monotonic)
    setup = rig()
    hook = setup.hooks.get("signup")
    arn = cached.put("hooks/signup", SECRET)
    setup.hooks.put(hook.model_copy(update={"secret_id": arn}))
    setup.receiver.secrets = cached
    setup.receiver.monotonic = clock.monotonic
    client.calls.clear()
    return setup, client, SecretsManagerStore(client=boto3.client("secretsmanager", region_name=REGION)), clock


def _signed_with(setup: Rig, secret: str, submission: str) -> int:
    body = json.dumps(form() | {"submission_id": submission}).encode()
    scheme = setup.hooks.get("signup").auth.signature
    assert scheme is not None
    headers = {k.lower(): v for k, v in sign(scheme, secret, body, int(setup.now[0])).items()}
    reply = setup.receiver.receive(HookCall("signup", "POST", headers, body, f"req-{submission}"))
    return reply.status


def _rotate_and_sign_with_the_new_secret(setup: Rig, cli: SecretsManagerStore) -> None:
    """The old secret goes into the function's cache, `hooks rotate` (another process) writes the new one, and
    the caller's next request is signed with it: accepted."""
    assert _signed_with(setup, SECRET, "before") == 202
    cli.put("hooks/signup", NEW_SECRET)
    assert _signed_with(setup, NEW_SECRET, "after") == 202


def test_a_request_signed_with_the_rotated_secret_is_accepted_by_a_function_that_cached_the_old_one(
    warm: tuple[Rig, ClientProxy, SecretsManagerStore, FakeClock],
) -> None:
    setup, client, cli, _ = warm

    _rotate_and_sign_with_the_new_secret(setup, cli)

    assert client.calls["get_secret_value"] == 2
    assert len(setup.publisher.events) == 2


def test_once_the_new_secret_is_read_the_old_one_is_refused(
    warm: tuple[Rig, ClientProxy, SecretsManagerStore, FakeClock],
) -> None:
    setup, _, cli, _ = warm
    _rotate_and_sign_with_the_new_secret(setup, cli)

    assert _signed_with(setup, SECRET, "old-again") == 401
    assert len(setup.publisher.events) == 2


def test_bad_signatures_read_the_secret_again_at_most_once_a_minute(
    warm: tuple[Rig, ClientProxy, SecretsManagerStore, FakeClock],
) -> None:
    setup, client, _, clock = warm
    assert _signed_with(setup, SECRET, "warm-up") == 202
    reads = client.calls["get_secret_value"]

    statuses = [_signed_with(setup, "whsec_an-attackers-guess", f"forged-{n}") for n in range(50)]

    assert set(statuses) == {401}
    assert client.calls["get_secret_value"] == reads + 1
    clock.mono += SECRET_REREAD_SECONDS
    assert _signed_with(setup, "whsec_an-attackers-guess", "forged-later") == 401
    assert client.calls["get_secret_value"] == reads + 2
    assert len(setup.publisher.events) == 1


def test_the_rotated_secret_waits_for_the_minute_when_a_forged_request_just_used_the_re_read(
    warm: tuple[Rig, ClientProxy, SecretsManagerStore, FakeClock],
) -> None:
    setup, _, cli, clock = warm
    assert _signed_with(setup, SECRET, "warm-up") == 202
    assert _signed_with(setup, "whsec_an-attackers-guess", "forged") == 401
    cli.put("hooks/signup", NEW_SECRET)

    assert _signed_with(setup, NEW_SECRET, "too-soon") == 401  # the caller's retry gets through
    clock.mono += SECRET_REREAD_SECONDS
    assert _signed_with(setup, NEW_SECRET, "retried") == 202
