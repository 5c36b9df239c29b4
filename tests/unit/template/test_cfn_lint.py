"""cfn-lint (from the dev environment, with SAM's transform) passes the root template and every nested stack's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def test_the_root_and_every_nested_template_pass_cfn_lint(project_root: Path) -> None:
    assert CFN_LINT.exists(), "cfn-lint comes with moto[server] in the dev extras: run `make venv`"
    nested = sorted(str(p.relative_to(project_root)) for p in (project_root / "stacks").glob("*.yaml"))
    assert nested
    linted = subprocess.run(
        [str(CFN_LINT), "template.yaml", *nested], cwd=project_root, capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
