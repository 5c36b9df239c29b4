"""`hooks add|rotate|remove` behind the CLI: a hook is a row and a secret; a bad one leaves neither."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryHookLedger,
    InMemoryHookStore,
    InMemorySecretStore,
)
from cliniko_connector.errors import ConfigurationError, ConnectionNotFound, HookNotFound
from cliniko_connector.hookmodels import PRESETS, HookAuth
from cliniko_connector.models import Connection
from cliniko_tools.cli.context import UsageError
from cliniko_tools.hooks_admin import HookAdmin, hook_url, load_map
from tests.unit.hooks.support import PATIENT_MAP

AUTH = HookAuth(type="hmac", preset="stripe", signature=PRESETS["stripe"])


@pytest.fixture
def admin() -> HookAdmin:
    connection = Connection(id="northside", name="N", secret_id="k", shard="au1")
    return HookAdmin(
        InMemoryHookStore(), InMemoryHookLedger(), InMemorySecretStore(), InMemoryConnectionStore([connection])
    )


def test_add_keeps_the_secret_only_in_the_secret_store_and_rotate_replaces_it(admin: HookAdmin) -> None:
    hook, secret = admin.add("signup", "northside", "patient.create", PATIENT_MAP, AUTH)
    assert len(secret) >= 40 and secret not in hook.model_dump_json()
    assert admin.secrets.get(hook.secret_id) == secret
    assert hook.secret_id.endswith("cliniko-connector/hooks/signup-AbCdEf")  # the hooks/ folder of the prefix
    new = admin.rotate("signup")
    assert new != secret and admin.secrets.get(hook.secret_id) == new
    assert admin.rotate("signup", "the-tools-own-secret-value") == "the-tools-own-secret-value"
    with pytest.raises(ConfigurationError, match="exists"):
        admin.add("signup", "northside", "patient.create", PATIENT_MAP, AUTH)


def test_a_bad_hook_leaves_no_secret_and_no_row(admin: HookAdmin) -> None:
    with pytest.raises(ValidationError):
        admin.add("Bad Name", "northside", "patient.create", PATIENT_MAP, AUTH)
    with pytest.raises(ConnectionNotFound):
        admin.add("signup", "elsewhere", "patient.create", PATIENT_MAP, AUTH)
    assert admin.hooks.list() == []
    with pytest.raises(ConfigurationError):
        admin.secrets.get("cliniko-connector/hooks/Bad Name")


def test_remove_deletes_the_row_the_secret_and_the_ledger(admin: HookAdmin) -> None:
    hook, _ = admin.add("signup", "northside", "patient.create", PATIENT_MAP, AUTH)
    admin.ledger.count_request("signup", 60)
    admin.remove("signup")
    with pytest.raises(HookNotFound):
        admin.hooks.get("signup")
    with pytest.raises(ConfigurationError):
        admin.secrets.get(hook.secret_id)
    assert admin.ledger.count_request("signup", 60) == 1


def test_a_map_naming_an_input_the_action_lacks_is_refused_with_the_name_meant() -> None:
    with pytest.raises(UsageError, match="did you mean `first_name`"):
        load_map("input: {firstname: $.a}\n", "m.yaml", "patient.create")
    with pytest.raises(UsageError, match="is not YAML"):
        load_map("input: {", "m.yaml", "patient.create")
    with pytest.raises(UsageError, match="not a JSON path"):
        load_map("input: {first_name: '$.a b'}\n", "m.yaml", "patient.create")
    assert load_map("input: {first_name: $.a}\n", "m.yaml", "patient.create").input == {"first_name": "$.a"}


def test_the_url_is_the_stacks_hook_url_and_the_hooks_name() -> None:
    assert hook_url("https://abc.lambda-url.ap-southeast-2.on.aws/", "signup") == (
        "https://abc.lambda-url.ap-southeast-2.on.aws/hooks/signup"
    )
    assert hook_url(None, "signup") is None
