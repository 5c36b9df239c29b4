"""Which connector stack `automations plan/deploy/list/remove` act on: AWS or the local stack."""

from __future__ import annotations

import pytest

from cliniko_tools.cli.automations_deploy import Target
from cliniko_tools.cli.main import build_parser


def target(*args: str) -> Target:
    return Target(build_parser().parse_args(["automations", "list", *args]))


def test_connector_stack_named_means_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACK_NAME", raising=False)
    assert target("--connector-stack", "clinic").connector_stack == "clinic"
    assert not target().on_aws


def test_stack_name_from_cli_environment_means_aws_unless_a_local_stack_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STACK_NAME", "cliniko-connector")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert target().connector_stack == "cliniko-connector"
    assert not target("--stack-state", "x/stack.json").on_aws
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")  # the local stack's CliEnvironment
    assert not target().on_aws
