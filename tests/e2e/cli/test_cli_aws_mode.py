"""The same commands against a deployed stack: names from the environment, no state file. moto (on
loopback) plays the AWS account; its archive and replay stand in for EventBridge's."""

from __future__ import annotations

import json

import pytest

from cliniko_tools.local.stack import local_target_queue_name
from tests.e2e.cli.conftest import CONNECTION, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def aws(stack: Stack) -> Stack:
    """The environment docs/cli.md tells an operator to export from the stack's outputs."""
    mp = stack.monkeypatch
    mp.setenv("CLINIKO_CONNECTOR_STACK_STATE", str(stack.root / "no-local-stack.json"))
    worker = stack.state.functions["PollWorkerFunction"].environment
    for name in (
        "CONNECTIONS_TABLE",
        "STATE_TABLE",
        "EVENT_BUS_NAME",
        "EVENT_SOURCE",
        "CLINIKO_CONTACT_EMAIL",
        "SECRETS_PREFIX",
        "STACK_NAME",
    ):
        mp.setenv(name, worker[name])
    mp.setenv("ACTION_FAILURE_QUEUE_URL", stack.state.queues["ActionFailureQueue"].url)
    mp.setenv("RULE_TARGET_DLQ_URL", stack.state.queues["RuleTargetDeadLetterQueue"].url)
    mp.setenv("POLL_QUEUE_URL", stack.state.queues["PollQueue"].url)
    return stack


def test_replay_starts_an_eventbridge_replay_from_the_archive_and_follows_it(aws: Stack) -> None:
    events = aws.client("events")
    bus_arn = events.describe_event_bus(Name=aws.bus)["Arn"]
    events.create_archive(ArchiveName="cliniko-connector-archive", EventSourceArn=bus_arn)
    aws.put_event("Patient Created", {"connection_id": CONNECTION, "id": "1", "event_key": "k1"})

    refused = aws.cli("replay", "--since", "1h", "--pattern", json.dumps({"source": ["cliniko"]}))
    assert refused.code == 2 and "--pattern works on the local stack only" in refused.err

    started = aws.cli("replay", "--since", "1h", "--json")
    assert started.code == 0, started.err
    result = started.json
    assert result["mode"] == "aws" and result["state"] == "COMPLETED" and result["fraction"] == 1.0
    assert events.describe_replay(ReplayName=result["name"])["State"] == "COMPLETED"
    assert f"replay {result['name']}: " in started.err  # progress on stderr
    example = local_target_queue_name("ExampleNewPatientAlertRule", "ActionFunction")
    assert aws.depth(example) >= 2  # the original delivery and the replayed one


def test_replay_says_which_archive_is_missing(aws: Stack) -> None:
    result = aws.cli("replay", "--since", "1h")
    assert result.code == 1
    assert result.err.strip() == (
        f"error: found 0 archives of {aws.bus}: set EVENT_ARCHIVE_ARN (the stack's output EventArchiveArn)"
    )


def test_dlq_reads_queue_urls_from_the_environment_and_names_the_missing_one(aws: Stack) -> None:
    assert aws.cli("dlq", "list", "--json").json == []
    missing = aws.cli("dlq", "list", "--queue", "poll")
    assert missing.code == 1
    assert missing.err.strip() == (
        "error: dead-letter queue URL unknown: set POLL_DLQ_URL (stack output PollDeadLetterQueueUrl); see docs/cli.md"
    )
    assert aws.cli("status", "--json").json == []


def test_aws_errors_are_one_line_saying_where_to_look(aws: Stack) -> None:
    aws.monkeypatch.setenv("CONNECTIONS_TABLE", "no-such-table")
    missing = aws.cli("status")
    assert missing.code == 1
    (line,) = missing.err.strip().splitlines()
    assert line.startswith("error: AWS refused Scan: ResourceNotFoundException: ")
    assert line.endswith("check the stack's environment variables (docs/cli.md)")

    from cliniko_tools.local.moto import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    aws.monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    unreachable = aws.cli("dlq", "list")
    assert unreachable.code == 1
    (line,) = unreachable.err.strip().splitlines()
    assert line.startswith(f"error: nothing answers at {endpoint}: start the local moto server")


def test_a_cli_environment_without_the_stack_name_stores_no_key(aws: Stack) -> None:
    # An environment exported before secrets were per stack: the key would land where no function reads it.
    aws.monkeypatch.delenv("STACK_NAME")
    added = aws.cli("connections", "add", "Harbourside", "--api-key-file", str(aws.key_file))
    assert added.code == 1
    assert added.err.startswith("error: STACK_NAME is not set: export the stack's CliEnvironment output again")
    assert aws.client("secretsmanager").list_secrets()["SecretList"] == []
