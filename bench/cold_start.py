"""Cold start: each function's module import and setup, in CPU time, against a bare `import boto3`.

Measured on the layer as it is shipped, the way Lambda loads it: a layer tree (`python/`) holding the locked
distributions (copied from this environment, which installs the same versions) and the `cliniko_connector`
package, compiled to bytecode by the layer's own build (`make -C layers/cliniko_connector bytecode`); each
probe a fresh interpreter with no site-packages and no bytecode writing (/opt is read-only), the function's
directory and the layer on `sys.path` as Lambda puts them, and the template's environment. The bare
`import boto3` imports the layer's boto3 in the same way.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from cliniko_tools.devtools.template.functions import STATIC_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "cliniko_connector"
FUNCTIONS = ("poll_dispatcher", "poll_worker", "action")
RUNS = 9

_PROBE = """
import os, sys, time
sys.path[:0] = [{directory!r}, {layer!r}]
t = time.process_time()
{body}
print(time.process_time() - t)
"""

# A first invocation without a network: every AWS request gets an empty success before it is sent, so the handler
# makes its clients, parses, validates and runs as far as empty answers let it (an absent connection, mostly).
_FIRST_INVOCATION = """
import json
import boto3
from botocore.awsrequest import AWSResponse


class _Raw:
    def stream(self, **_):
        yield b"{{}}"


boto3.setup_default_session()
boto3.DEFAULT_SESSION._session.register(
    "before-send", lambda request, **_: AWSResponse(request.url, 200, {{}}, _Raw())
)


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self):
        return 60000


import app
try:
    app.lambda_handler(json.loads(open({event!r}).read()), _Context())
except Exception:
    pass
"""
# The sample event each function's first invocation gets.
FIRST_EVENT = {
    "poll_dispatcher": "events/poll_dispatcher/scheduled.json",
    "poll_worker": "events/poll_worker/job.json",
    "action": "events/actions/patient.create.json",
}


def _locked() -> list[str]:
    text = (LAYER / "requirements.txt").read_text(encoding="utf-8")
    return re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", text, flags=re.MULTILINE)


def build_layer(into: Path) -> Path:
    """The layer's `python/` directory as `sam build` makes it, from this environment's installed copies of
    the locked distributions (files and metadata, no bytecode) and the package tree, then the layer's
    bytecode step."""
    site = into / "python"
    site.mkdir(parents=True)
    for name in _locked():
        distribution = metadata.distribution(name)
        for file in distribution.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue  # scripts installed outside site-packages; bytecode this environment wrote
            source = Path(str(distribution.locate_file(file)))
            if source.is_file():
                (site / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, site / file)
    shutil.copytree(
        LAYER / "cliniko_connector",
        site / "cliniko_connector",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    subprocess.run(
        ["make", "-s", "-C", str(LAYER), "bytecode", f"ARTIFACTS_DIR={into}", f"PYTHON={sys.executable}"],
        check=True,
        capture_output=True,
    )
    return site


def _environment() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT", "POWERTOOLS_", "PYTHON"))}
    return (
        base
        | STATIC_ENVIRONMENT
        | {
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "CONNECTIONS_TABLE": "t-connections",
            "STATE_TABLE": "t-state",
            "EVENT_BUS_NAME": "t-bus",
            "CLINIKO_CONTACT_EMAIL": "ops@example.com",
            "POWERTOOLS_SERVICE_NAME": "cliniko-connector-bench",
            "POLL_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/t.fifo",
            "IDEMPOTENCY_TABLE": "t-idempotency",
            "ACTION_NAME": "patient.create",
        }
    )


def _probe(body: str, directory: Path, layer: Path, env: dict[str, str]) -> float:
    """CPU seconds of `body` in a fresh interpreter laid out as Lambda's: no site-packages (-S), no bytecode
    written (-B), the function's directory then the layer first on `sys.path`."""
    code = _PROBE.format(body=body, directory=str(directory), layer=str(layer))
    out = subprocess.run(
        [sys.executable, "-S", "-B", "-c", code], env=env, capture_output=True, text=True, check=True, cwd=directory
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure(runs: int = RUNS) -> dict[str, Any]:
    """Each function's module import and setup (settings, adapters, the Powertools decorators), in CPU seconds
    of a fresh interpreter, against a bare `import boto3` in one: the median of `runs`, interleaved so load hits
    all alike. AWS clients are made when first used, so the same is also measured through a first invocation
    (`cold_start_first_invocation_*`: import, setup and one handler call whose AWS requests get empty answers),
    where the clients and whatever else the first request builds are paid."""
    env = _environment()
    with tempfile.TemporaryDirectory(prefix="bench-layer-") as tmp:
        layer = build_layer(Path(tmp))
        empty = Path(tmp) / "task"
        empty.mkdir()
        probes: dict[str, tuple[str, Path]] = {"import_boto3": ("import boto3", empty)}
        for f in FUNCTIONS:
            directory = ROOT / "functions" / f
            probes[f] = ("import app", directory)
            probes[f"{f}+first"] = (_FIRST_INVOCATION.format(event=str(ROOT / FIRST_EVENT[f])), directory)
        samples: dict[str, list[float]] = {k: [] for k in probes}
        for _ in range(runs):
            for name, (body, directory) in probes.items():
                samples[name].append(_probe(body, directory, layer, env))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    boto = medians.pop("import_boto3")
    first = {f: medians.pop(f"{f}+first") for f in FUNCTIONS}
    return {
        "cold_start_ratio": {f: round(m / boto, 2) for f, m in medians.items()},
        "cold_start_cpu_ms": {f: round(1000 * m, 1) for f, m in medians.items()},
        "cold_start_first_invocation_ratio": {f: round(m / boto, 2) for f, m in first.items()},
        "cold_start_first_invocation_cpu_ms": {f: round(1000 * m, 1) for f, m in first.items()},
        "cold_start_import_boto3_cpu_ms": round(1000 * boto, 1),
        "cold_start_runs": runs,
        "cold_start_layer": "as shipped: hash-based bytecode, no site-packages, PYTHONDONTWRITEBYTECODE=1",
    }
