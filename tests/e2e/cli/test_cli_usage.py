"""Bad arguments are usage errors (exit 2) with one line saying what is wrong, before anything runs
(no stack is needed to find out)."""

from __future__ import annotations

import pytest

from cliniko_tools.cli.main import main
from tests.e2e.cli.conftest import CONNECTION

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backfill", CONNECTION, "patient.created"], "one of the arguments --since --all is required"),
        (["backfill", CONNECTION, "patient.created", "--all", "--since", "1h"], "not allowed with argument"),
        (["backfill", CONNECTION, "--all"], "the following arguments are required: TRIGGER"),
        (["backfill", CONNECTION, "patient.created", "--since", "last tuesday"], "is not a time: use"),
        (["backfill", CONNECTION, "patient.created", "--all", "--time-limit", "-1"], "--time-limit must be 0 or more"),
        (["replay"], "the following arguments are required: --since"),
        (["replay", "--since", "1h", "--pattern", "{not json"], "argument --pattern: not JSON"),
        (["replay", "--since", "1h", "--pattern", "[1, 2]"], "an event pattern is a non-empty JSON object"),
        (["events", "tail", "--max-events", "many"], "invalid int value"),
        (["events"], "the following arguments are required: action"),
        (["dlq", "list", "--queue", "everything"], "argument --queue: invalid choice"),
        (["status", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], restored_environ: None
) -> None:
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert message in err
    assert err.strip().splitlines()[-1].startswith(("cliniko-connector", "error:"))
    assert out == ""
