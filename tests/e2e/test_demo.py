"""`make demo` end to end: the README's first command, as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_the_demo_creates_an_alert_and_fires_a_recipe_through_the_whole_path_and_leaves_nothing_running() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "3 x Patient Created" in out
    assert "Patient Updated" in out
    assert "changed email" in out
    assert "1 x Patient Archived" in out
    assert "3 medical alerts created through the whole path" in out
    assert "MS0xMjM0NTY3ODkwZGVtb2tleWRlbW9rZXk" not in out + done.stderr  # the demo key never printed
    # The no-show recipe, deployed as the automations stack, fired for real: a memo and a webhook call whose
    # auth header the receiver checked; the webhook's secret is never printed.
    assert "the automation fired: 1 memo in Cliniko, 1 webhook call received." in out
    assert "X-Api-Key header: the connection's secret (not shown)" in out
    assert "demo-front-desk-webhook-secret" not in out + done.stderr
    # An inbound hook: a website form's HMAC-signed request over HTTP creates a patient (step 11).
    assert "the form got 202" in out and "the hook created patient" in out
    pids = [int(p) for p in re.search(r"pids ([\d ]+)\)", out).group(1).split()]  # type: ignore[union-attr]
    assert len(pids) == 2
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], "the demo left a process running"
    # It ends by saying how to see a stack in the browser.
    assert out.rstrip().splitlines()[-2].strip() == ".venv/bin/cliniko-connector console --port 8765"
