"""On the local stack, with the real template and handlers: a key goes only where the stack sends keys.

The simulator stands in for "elsewhere": on a stack deployed with `AllowBaseUrlOverride=false` (the template's
default) a connection row pointing at it is a row edited to send the key away, and the simulator's request log
shows whether the key arrived.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from cliniko_tools.devtools.template import DEFAULT_ACTION_REQUEST_SOURCE
from cliniko_tools.local.archive import LocalArchive
from cliniko_tools.local.runner import LocalRunner
from cliniko_tools.local.stack import up
from tests.e2e.cli.conftest import CONNECTION, CONTACT, ROOT, Stack


def test_connections_add_with_a_file_url_is_one_line_not_a_traceback(stack: Stack) -> None:
    added = stack.cli(
        "connections", "add", "Elsewhere", "--api-key-file", str(stack.key_file), "--base-url", "file:///etc/passwd"
    )
    assert added.code == 1
    assert added.err.count("\n") == 1 and added.err.startswith("error: base URL refused: scheme 'file'")
    assert "Traceback" not in added.err
    assert stack.cli("connections", "list", "--json").json == []


def without_the_override(stack: Stack) -> None:
    """The same stack brought up again as deployed: AllowBaseUrlOverride at its default."""
    stack.state = up(
        ROOT / "template.yaml",
        parameters={"ClinikoContactEmail": CONTACT, "AllowBaseUrlOverride": "false"},
        state_path=stack.state_path,
        archive=True,
    )
    stack._runner = LocalRunner(stack.state, ROOT, retry_delay_seconds=0)


def test_a_deployed_stack_refuses_a_base_url_at_connections_add(stack: Stack) -> None:
    without_the_override(stack)
    added = stack.cli(
        "connections", "add", "Elsewhere", "--api-key-file", str(stack.key_file), "--base-url", stack.sim.base_url
    )
    assert added.code == 1 and added.err.count("\n") == 1
    assert "sends API keys only to https://api.<shard>.cliniko.com/v1" in added.err
    assert stack.sim.requests == []  # the key was not even checked there


def test_a_row_edited_to_point_elsewhere_is_refused_at_poll_and_action_before_the_key_is_sent(stack: Stack) -> None:
    stack.connect("patient.find")  # made where overrides are allowed; then the stack runs as deployed
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.patients("Ada")
    without_the_override(stack)
    stack.sim.requests_clear()

    polled = stack.cli("poll", "--connection", CONNECTION)
    assert polled.code == 1 and "base URL refused" in polled.err and "Traceback" not in polled.err
    stack.put_event(
        "Cliniko Action Requested",
        {"action": "patient.find", "connection_id": CONNECTION, "input": {"email": "ada@example.com"}},
        source=DEFAULT_ACTION_REQUEST_SOURCE,
    )
    summary = stack.run()
    assert summary.invocations["PatientFindActionFunction"] == 1 and not summary.failures
    assert stack.sim.requests == [], "the key reached the URL in the edited row"
    outcomes = [e["detail"] for e in archived(stack) if e["detail-type"] == "Cliniko Action Failed"]
    assert [o["error"]["type"] for o in outcomes] == ["UntrustedBaseUrl"]
    (report,) = stack.cli("status", "--json").json
    assert any("UntrustedBaseUrl" in (s.get("last_error") or "") for s in report["streams"])


def archived(stack: Stack) -> list[dict[str, Any]]:
    assert stack.state.archive is not None
    archive = LocalArchive(stack.state.archive, stack.client("sqs"))
    archive.drain()
    return list(archive.events())


def test_the_local_archive_holding_events_is_its_owners_only(stack: Stack) -> None:
    stack.connect()
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    stack.patients("Ada")
    assert stack.cli("poll", "--connection", CONNECTION).code == 0
    stack.run()
    assert any(e["detail-type"] == "Patient Created" for e in archived(stack))
    assert stack.state.archive is not None and stack.state.archive.path is not None
    assert stat.S_IMODE(Path(stack.state.archive.path).stat().st_mode) == 0o600
