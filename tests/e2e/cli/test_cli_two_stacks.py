"""Two stacks (two stages) on one moto server: each keeps its own API keys. The CLI, pointed at one stack,
never reads, overwrites or deletes the other's secret, and removing a connection in one leaves the other's be."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from cliniko_connector.adapters.secrets import SECRET_OWNER_TAG_KEY
from cliniko_tools.cli.context import STATE_ENV
from cliniko_tools.cli.main import main
from cliniko_tools.local.stack import up
from cliniko_tools.simulator import Simulator
from tests.e2e.cli.conftest import CONTACT, KEY, ROOT, Result, fresh_moto

pytestmark = pytest.mark.e2e

OTHER_KEY = "MS0yMjIyMjIyMjIyb3RoZXJrZXlvdGhlcms-au1"
STACKS = ("clinic-group-a", "clinic-group-b")


@dataclass
class TwoStacks:
    root: Path
    sim: Simulator
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    endpoint: str

    def cli(self, stack: str, *args: str, stdin: str | None = None) -> Result:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        try:
            code = main([*args, "--stack-state", str(self.root / stack / "stack.json")])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def add(self, stack: str, name: str, key: str = KEY) -> Result:
        return self.cli(
            stack, "connections", "add", name, "--api-key-file", "-", "--base-url", self.sim.base_url, stdin=key
        )

    def secrets(self) -> dict[str, dict[str, object]]:
        client = boto3.client("secretsmanager", endpoint_url=self.endpoint, region_name="us-east-1")
        listed = client.list_secrets(IncludePlannedDeletion=True)["SecretList"]
        return {s["Name"]: client.describe_secret(SecretId=s["ARN"]) for s in listed}


@pytest.fixture
def stacks(
    tmp_path: Path,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restored_environ: None,
) -> Iterator[TwoStacks]:
    fresh_moto(moto_endpoint, monkeypatch)
    monkeypatch.delenv(STATE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    for stage, stack in zip(("a", "b"), STACKS, strict=True):
        up(
            ROOT / "template.yaml",
            parameters={"ClinikoContactEmail": CONTACT, "Stage": stage},
            state_path=tmp_path / stack / "stack.json",
            stack_name=stack,
        )
    with Simulator(api_keys=[KEY, OTHER_KEY]) as sim:
        sim.start()
        yield TwoStacks(tmp_path, sim, monkeypatch, capsys, moto_endpoint)


def test_each_stack_keeps_its_own_secret_under_its_own_name_and_tag(stacks: TwoStacks) -> None:
    for stack in STACKS:
        added = stacks.add(stack, "Northside Physio")
        assert added.code == 0, added.err
    secrets = stacks.secrets()
    assert sorted(secrets) == [f"cliniko-connector/{stack}/northside-physio" for stack in STACKS]
    for stack in STACKS:
        tags = secrets[f"cliniko-connector/{stack}/northside-physio"]["Tags"]
        assert {SECRET_OWNER_TAG_KEY: stack} == {t["Key"]: t["Value"] for t in tags}  # type: ignore[attr-defined]


def test_removing_a_connection_in_one_stack_leaves_the_other_stacks_connection_and_key(stacks: TwoStacks) -> None:
    for stack in STACKS:
        assert stacks.add(stack, "Northside Physio").code == 0
    removed = stacks.cli("clinic-group-a", "connections", "remove", "northside-physio", "--yes")
    assert removed.code == 0, removed.err
    secrets = stacks.secrets()
    assert "DeletedDate" in secrets["cliniko-connector/clinic-group-a/northside-physio"]
    assert "DeletedDate" not in secrets["cliniko-connector/clinic-group-b/northside-physio"]
    still = stacks.cli("clinic-group-b", "connections", "test", "northside-physio")
    assert still.code == 0, still.err
    assert stacks.cli("clinic-group-b", "connections", "list", "--json").json[0]["id"] == "northside-physio"


def test_a_cli_of_one_stack_refuses_to_overwrite_a_secret_another_stack_owns(stacks: TwoStacks) -> None:
    assert stacks.add("clinic-group-a", "Harbourside").code == 0
    # Stack B's CLI, misconfigured onto stack A's secret names, with another clinic's key.
    stacks.monkeypatch.setenv("SECRETS_PREFIX", "cliniko-connector/clinic-group-a/")
    refused = stacks.add("clinic-group-b", "Harbourside", key=OTHER_KEY)
    assert refused.code == 1
    assert "belongs to stack 'clinic-group-a', not 'clinic-group-b'" in refused.err
    assert OTHER_KEY not in refused.out + refused.err
    client = boto3.client("secretsmanager", endpoint_url=stacks.endpoint, region_name="us-east-1")
    value = client.get_secret_value(SecretId="cliniko-connector/clinic-group-a/harbourside")["SecretString"]
    assert value == KEY  # stack A's key is untouched
    assert stacks.cli("clinic-group-b", "connections", "list", "--json").json == []
