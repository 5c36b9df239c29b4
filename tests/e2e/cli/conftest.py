"""The operator CLI end to end: moto server on loopback (in this process), the Cliniko simulator, and the
stack from the real template.yaml with its real handlers. Commands run through `main([...])` in-process;
one test runs the console script itself."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from cliniko_connector.adapters.aws import boto3_client
from cliniko_tools.cli.context import STATE_ENV
from cliniko_tools.cli.main import main
from cliniko_tools.local.moto import InProcessMoto, reset
from cliniko_tools.local.runner import LocalRunner, RunSummary
from cliniko_tools.local.stack import StackState, up
from cliniko_tools.simulator import Simulator

ROOT = Path(__file__).resolve().parents[3]
KEY = "MS0xMjM0NTY3ODkwZGVtb2tleWRlbW9rZXk-au1"
WRONG_KEY = "MS0wMDAwMDAwMDAwd3JvbmdrZXl3cm9uZ2s-au1"
CONTACT = "tests@example.com"
CONNECTION = "northside-physio"
# Variables the commands read, or copy in from the local stack's function environment.
STACK_VARIABLES = (
    "CONNECTIONS_TABLE",
    "STATE_TABLE",
    "EVENT_BUS_NAME",
    "EVENT_BUS_ARN",
    "EVENT_ARCHIVE_ARN",
    "ACTION_FAILURE_QUEUE_URL",
    "RULE_TARGET_DLQ_URL",
    "POLL_DLQ_URL",
    "POLL_QUEUE_URL",
    "SECRETS_PREFIX",
    "STACK_NAME",
)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Stack:
    root: Path
    endpoint: str
    state: StackState
    sim: Simulator
    key_file: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    _runner: LocalRunner | None = field(default=None, repr=False)

    @property
    def state_path(self) -> Path:
        return self.root / ".local" / "stack.json"

    @property
    def bus(self) -> str:
        return self.state.event_buses["EventBus"]

    def cli(self, *args: str, stdin: str | None = None) -> Result:
        """One CLI run in this process; argparse's usage errors come back as their exit status."""
        self.capsys.readouterr()
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def connect(self, *allow: str) -> None:
        """Connect the clinic, allowing the actions `allow` (a new connection allows none)."""
        assert (
            self.cli(
                "connections",
                "add",
                "Northside Physio",
                "--api-key-file",
                str(self.key_file),
                "--base-url",
                self.sim.base_url,
            ).code
            == 0
        )
        if allow:
            assert self.cli("connections", "allow", CONNECTION, *allow).code == 0

    def only_stream(self) -> dict[str, Any]:
        """`status --json` of the one connection's one stream."""
        (report,) = self.cli("status", "--json").json
        (stream,) = report["streams"]
        assert isinstance(stream, dict)
        return stream

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1")

    @property
    def runner(self) -> LocalRunner:
        if self._runner is None:
            self._runner = LocalRunner(self.state, ROOT, retry_delay_seconds=0)
        return self._runner

    def run(self) -> RunSummary:
        """Deliver what is queued (rule targets, poll jobs) to the real handlers, as `local run` would."""
        return self.runner.drain()

    def patients(self, *names: str, ago: float = 0) -> list[dict[str, Any]]:
        """Patients created by clinic staff now, or `ago` seconds ago (history a new trigger doesn't see)."""
        if ago:
            self.sim.clock.set(datetime.now(UTC) - timedelta(seconds=ago))
        try:
            return [self.sim.create("patients", {"first_name": n, "last_name": "Test"}) for n in names]
        finally:
            if ago:
                self.sim.clock.set(datetime.now(UTC))
                self.sim.clock.resume()

    def put_event(self, detail_type: str, detail: dict[str, Any], source: str = "cliniko") -> None:
        response = self.client("events").put_events(
            Entries=[
                {"EventBusName": self.bus, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
            ]
        )
        assert response["FailedEntryCount"] == 0

    def depth(self, queue: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.state.queues[queue].url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def subprocess_env(self) -> dict[str, str]:
        """The environment a shell would have: only loopback AWS, the state file, dummy credentials."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CLINIKO_", "POWERTOOLS_"))}
        env = {k: v for k, v in env.items() if k not in STACK_VARIABLES}
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                STATE_ENV: str(self.state_path),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        return env


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with InProcessMoto() as server:
        yield server.endpoint_url


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """Commands copy the local stack's function environment into os.environ (`settings_from`); undo that,
    and forget cached boto3 clients, so nothing leaks into other tests."""
    saved = dict(os.environ)
    boto3_client.cache_clear()
    yield
    boto3_client.cache_clear()
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)


def fresh_moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty moto server, and no stack named by the environment: commands find it from a state file."""
    reset(moto_endpoint)
    for name in list(os.environ):
        if name in STACK_VARIABLES or name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)


@pytest.fixture
def stack(
    tmp_path: Path,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restored_environ: None,
) -> Iterator[Stack]:
    fresh_moto(moto_endpoint, monkeypatch)
    monkeypatch.setenv(STATE_ENV, str(tmp_path / ".local" / "stack.json"))
    monkeypatch.chdir(tmp_path)
    state = up(
        ROOT / "template.yaml",
        parameters={"ClinikoContactEmail": CONTACT, "EnableExampleAutomations": "true"},
        state_path=tmp_path / ".local" / "stack.json",
        archive=True,
    )
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    with Simulator(api_keys=[KEY]) as sim:
        sim.start()
        yield Stack(tmp_path, moto_endpoint, state, sim, key_file, monkeypatch, capsys)
