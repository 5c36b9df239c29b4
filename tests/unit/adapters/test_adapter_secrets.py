"""SecretsManagerStore specifics: naming, KMS key, the in-process cache, deletion with recovery."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_connector.adapters.secrets import DEFAULT_CACHE_TTL_SECONDS, SECRET_OWNER_TAG_KEY, SecretsManagerStore
from cliniko_connector.errors import ConfigurationError, SecretOwnedElsewhere
from tests.unit.adapters.adapter_support import ClientProxy, FakeClock


@pytest.fixture
def store(secrets_client: ClientProxy, clock: FakeClock) -> SecretsManagerStore:
    return SecretsManagerStore(client=secrets_client, monotonic=clock.monotonic)


def test_put_creates_the_secret_under_the_prefix_and_returns_its_arn(
    store: SecretsManagerStore, secrets_client: ClientProxy
) -> None:
    arn = store.put("acme", "key-au1")

    described = secrets_client.describe_secret(SecretId=arn)
    assert arn.startswith("arn:aws:secretsmanager:")
    assert described["Name"] == "cliniko-connector/acme"


def test_a_custom_prefix_and_kms_key_are_used(secrets_client: ClientProxy) -> None:
    store = SecretsManagerStore(client=secrets_client, prefix="clinic-x/", kms_key_id="alias/connector")

    arn = store.put("acme", "key")

    described = secrets_client.describe_secret(SecretId=arn)
    assert described["Name"] == "clinic-x/acme"
    assert described["KmsKeyId"] == "alias/connector"


def test_overwriting_keeps_the_same_secret(store: SecretsManagerStore, secrets_client: ClientProxy) -> None:
    first = store.put("acme", "one")

    second = store.put("acme", "two")

    assert second == first
    assert secrets_client.calls["put_secret_value"] == 1
    assert secrets_client.calls["restore_secret"] == 0


def test_get_is_cached_for_fifteen_minutes(
    store: SecretsManagerStore, secrets_client: ClientProxy, clock: FakeClock
) -> None:
    arn = store.put("acme", "key")

    # Given a value read once
    assert store.get(arn) == "key"
    # When read again within the TTL, Then Secrets Manager is not called again
    clock.advance(899)
    assert store.get(arn) == "key"
    assert secrets_client.calls["get_secret_value"] == 1
    # And after the TTL it is fetched afresh
    clock.advance(2)
    assert store.get(arn) == "key"
    assert secrets_client.calls["get_secret_value"] == 2


def test_a_forgotten_secret_is_read_again_at_once_and_the_others_stay_cached(
    store: SecretsManagerStore, secrets_client: ClientProxy
) -> None:
    refused, other = store.put("refused", "old-key"), store.put("other", "key")
    store.get(refused), store.get(other)
    reads = secrets_client.calls["get_secret_value"]

    store.forget(refused)  # Cliniko answered 401 to its key

    store.get(refused), store.get(other)
    assert secrets_client.calls["get_secret_value"] == reads + 1


def test_cache_entries_are_per_id(store: SecretsManagerStore, secrets_client: ClientProxy) -> None:
    a = store.put("a", "key-a")
    b = store.put("b", "key-b")

    assert (store.get(a), store.get(b), store.get(a), store.get(b)) == ("key-a", "key-b", "key-a", "key-b")
    assert secrets_client.calls["get_secret_value"] == 2


def test_a_put_elsewhere_is_seen_after_the_ttl(secrets_client: ClientProxy, clock: FakeClock) -> None:
    # Two warm Lambdas: the CLI rotates the key through one store; the other sees it once its cache expires.
    reader = SecretsManagerStore(client=secrets_client, monotonic=clock.monotonic)
    writer = SecretsManagerStore(client=secrets_client, monotonic=clock.monotonic)
    arn = writer.put("acme", "old")
    assert reader.get(arn) == "old"

    writer.put("acme", "new")

    assert reader.get(arn) == "old"
    clock.advance(DEFAULT_CACHE_TTL_SECONDS + 1)
    assert reader.get(arn) == "new"


def test_delete_schedules_deletion_with_a_seven_day_recovery_window(
    store: SecretsManagerStore, secrets_client: ClientProxy
) -> None:
    arn = store.put("acme", "key")

    store.delete(arn)

    ((_, kwargs),) = [r for r in secrets_client.requests if r[0] == "delete_secret"]
    assert kwargs == {"SecretId": arn, "RecoveryWindowInDays": 7}
    assert "DeletedDate" in secrets_client.describe_secret(SecretId=arn)


def test_putting_a_name_scheduled_for_deletion_restores_it(
    store: SecretsManagerStore, secrets_client: ClientProxy
) -> None:
    arn = store.put("acme", "old")
    store.delete(arn)

    assert store.put("acme", "new") == arn

    assert secrets_client.calls["restore_secret"] == 1
    assert "DeletedDate" not in secrets_client.describe_secret(SecretId=arn)
    assert store.get(arn) == "new"


def test_a_binary_secret_is_refused_without_its_value(store: SecretsManagerStore, secrets_client: ClientProxy) -> None:
    arn = secrets_client.create_secret(Name="cliniko-connector/bin", SecretBinary=b"\x00raw-bytes")["ARN"]

    with pytest.raises(ConfigurationError) as raised:
        store.get(arn)

    assert "raw-bytes" not in str(raised.value)


def test_other_errors_are_not_swallowed(store: SecretsManagerStore, secrets_client: ClientProxy) -> None:
    from tests.unit.adapters.adapter_support import client_error

    def denied(_real: Any, **_kw: Any) -> Any:
        raise client_error("AccessDeniedException", "GetSecretValue")

    secrets_client.overrides["get_secret_value"] = denied

    with pytest.raises(Exception, match="AccessDenied"):
        store.get("cliniko-connector/acme")


def test_repr_shows_configuration_only(store: SecretsManagerStore) -> None:
    store.get(store.put("acme", "s3cr3t"))

    assert repr(store) == "SecretsManagerStore(prefix='cliniko-connector/', cached=1)"


# -- stacks own their secrets ---------------------------------------------------------------------------------

STACK_PREFIX = "cliniko-connector/stack-a/"


def owned(secrets_client: ClientProxy, owner: str, prefix: str = STACK_PREFIX) -> SecretsManagerStore:
    return SecretsManagerStore(client=secrets_client, prefix=prefix, owner=owner)


def tags_of(secrets_client: ClientProxy, secret_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in secrets_client.describe_secret(SecretId=secret_id).get("Tags", [])}


def test_a_stacks_secret_is_tagged_with_the_stack_at_creation(secrets_client: ClientProxy) -> None:
    arn = owned(secrets_client, "stack-a").put("acme", "key-a")
    assert tags_of(secrets_client, arn) == {SECRET_OWNER_TAG_KEY: "stack-a"}
    assert owned(secrets_client, "stack-a").put("acme", "key-a2") == arn  # its own stack may overwrite it


def test_another_stack_neither_overwrites_nor_deletes_a_stacks_secret(secrets_client: ClientProxy) -> None:
    arn = owned(secrets_client, "stack-a").put("acme", "key-a")
    intruder = owned(secrets_client, "stack-b")  # misconfigured onto stack A's prefix
    with pytest.raises(SecretOwnedElsewhere, match="belongs to stack 'stack-a', not 'stack-b'"):
        intruder.put("acme", "key-b")
    with pytest.raises(SecretOwnedElsewhere):
        intruder.delete(arn)
    assert secrets_client.get_secret_value(SecretId=arn)["SecretString"] == "key-a"
    assert "DeletedDate" not in secrets_client.describe_secret(SecretId=arn)
    assert secrets_client.calls["put_secret_value"] == 0 and secrets_client.calls["delete_secret"] == 0


def test_an_untagged_secret_is_not_taken_over_by_a_stack(secrets_client: ClientProxy) -> None:
    arn = secrets_client.create_secret(Name=f"{STACK_PREFIX}acme", SecretString="made-by-hand")["ARN"]
    with pytest.raises(SecretOwnedElsewhere, match="untagged"):
        owned(secrets_client, "stack-a").put("acme", "key-a")
    assert secrets_client.get_secret_value(SecretId=arn)["SecretString"] == "made-by-hand"
