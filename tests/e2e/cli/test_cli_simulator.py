"""`cliniko-connector simulator create|update|keys`: change the simulator's records and keys from the CLI, as
the README's local stack section does; a revoked key is what Cliniko's would be to the connector."""

from __future__ import annotations

import json

import pytest

from tests.e2e.cli.conftest import CONNECTION, KEY, WRONG_KEY, Stack

pytestmark = pytest.mark.e2e


def sim_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.sim.port}"


def test_records_created_and_changed_from_the_cli_become_events(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created", "patient.updated").code == 0
    assert stack.cli("poll").code == 0  # the triggers start now

    data = json.dumps({"first_name": "Ada", "last_name": "Lovelace"})
    created = stack.cli("simulator", "create", "patients", "--url", sim_url(stack), "--data", data)
    assert created.code == 0, created.err
    assert created.out.startswith("created patients/") and "Ada" not in created.out
    patient_id = created.out.split()[1].removeprefix("patients/")
    assert stack.sim.get("patients", patient_id)["first_name"] == "Ada"  # type: ignore[index]
    assert stack.cli("poll").code == 0
    stack.run()

    changed = stack.cli(
        "simulator", "update", "patients", patient_id, "--url", sim_url(stack), "--data", '{"email": "ada@example.com"}'
    )
    assert changed.code == 0 and changed.out.startswith(f"updated patients/{patient_id} at ")
    assert stack.cli("poll").code == 0
    stack.run()
    stack.runner.drain_archive()

    archived = [json.loads(line) for line in (stack.root / ".local" / "archive.jsonl").read_text().splitlines()]
    kinds = [(e["detail-type"], e["detail"]["id"]) for e in archived if e["detail"].get("resource") == "patients"]
    assert kinds == [("Patient Created", patient_id), ("Patient Updated", patient_id)]


def test_a_record_the_simulator_refuses_is_one_line_naming_the_fields(stack: Stack) -> None:
    refused = stack.cli("simulator", "create", "patients", "--url", sim_url(stack), "--data", '{"first_name": ""}')
    assert refused.code == 1
    (line,) = refused.err.strip().splitlines()
    assert line.startswith("error: the simulator refused it: ") and "last_name" in line
    missing = stack.cli("simulator", "update", "patients", "999", "--url", sim_url(stack), "--data", "{}")
    assert missing.code == 1 and missing.err.count("\n") == 1 and "not found" in missing.err


def test_without_a_running_simulator_the_cli_says_where_it_looked(stack: Stack) -> None:
    result = stack.cli("simulator", "create", "patients", "--data", "{}")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert line.startswith("error: no simulator running from ") and "--url http://127.0.0.1:" in line
    far = stack.cli("simulator", "create", "patients", "--url", "http://10.1.2.3:8080", "--data", "{}")
    assert far.code == 1 and "not a loopback address" in far.err


def test_a_key_revoked_at_runtime_gets_401_and_the_connector_reports_unauthorized_until_rotated(
    stack: Stack,
) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    assert stack.cli("poll").code == 0

    revoked = stack.cli("simulator", "keys", "revoke", "--url", sim_url(stack), "--api-key-file", str(stack.key_file))
    assert revoked.code == 0 and revoked.out.startswith("the simulator now answers 401 to key sha256:")
    assert KEY not in revoked.out + revoked.err
    assert stack.cli("poll", "--connection", CONNECTION).code == 1
    assert [r.status for r in stack.sim.requests][-1] == 401
    (report,) = stack.cli("status", "--json").json
    assert report["streams"][0]["last_error"].startswith("ClinikoUnauthorized: ")

    # Rotation, tried locally: the simulator accepts a new key, the connection gets it, polls work again.
    new_key = stack.root / "new-key.txt"
    new_key.write_text(WRONG_KEY + "\n", encoding="utf-8")
    added = stack.cli("simulator", "keys", "add", "--url", sim_url(stack), "--api-key-file", str(new_key))
    assert added.code == 0 and added.out.startswith("the simulator now accepts key sha256:")
    listed = stack.cli("simulator", "keys", "list", "--url", sim_url(stack))
    assert listed.out.count("key sha256:") == 1 and WRONG_KEY not in listed.out
    assert stack.cli("connections", "rotate-key", CONNECTION, "--api-key-file", str(new_key)).code == 0
    assert stack.cli("poll", "--connection", CONNECTION).code == 0
    (report,) = stack.cli("status", "--json").json
    assert report["streams"][0]["last_error"] is None
