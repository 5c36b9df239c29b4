"""What X-Ray would receive from an action function, in a fresh interpreter started the way Lambda starts one.

`test_no_patient_data_in_logs.py` runs this file with the template's environment and a patient record (JSON in
argv[1]). X-Ray is on as in Lambda (a trace id, the Lambda context) and the SDK's emitter, instead of sending
to the X-Ray daemon, keeps every trace entity. The handler runs three times: failing on a Cliniko call that
can't connect (a find by the patient's email: the HTTP client's exception text holds the query), failing on a
bug whose exception names the patient, and returning an action result that holds the record. Every
serialized entity is printed on stdout as one JSON list.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class RecordingEmitter:
    """Stands in for the SDK's UDP emitter (the X-Ray daemon)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.ip, self.port = "127.0.0.1", 2000

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity.serialize())

    def set_daemon_address(self, address: str | None) -> None:
        pass


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def main() -> None:
    probe = json.loads(sys.argv[1])
    patient: dict[str, Any] = probe["patient"]
    from aws_xray_sdk.core import patch, xray_recorder

    from cliniko_connector.adapters.cliniko_http import ClinikoClient, q
    from cliniko_connector.errors import ConnectorError
    from cliniko_tools.local.runner import LambdaContext

    emitter = RecordingEmitter()
    xray_recorder.configure(emitter=emitter, streaming_threshold=0, context_missing="IGNORE_ERROR")
    if probe.get("patch_requests"):  # the control: what instrumenting the HTTP client would record
        patch(["requests"])
    spec = importlib.util.spec_from_file_location("action_app", ROOT / "functions" / "action" / "app.py")
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    base_url = f"http://127.0.0.1:{closed_port()}/v1"

    def find_by_email(request: Any, context: Any) -> dict[str, Any]:
        client = ClinikoClient("probe-key-au1", user_agent="probe (ops@example.com)", base_url=base_url)
        params = [q("email", "=", patient["email"])]
        return {"record": client.request("GET", "/patients", params=params, deadline=time.monotonic() + 1)}

    def a_bug(request: Any, context: Any) -> dict[str, Any]:
        raise KeyError(f"{patient['first_name']} {patient['last_name']}")

    def succeed(request: Any, context: Any) -> dict[str, Any]:
        return {"status": "succeeded", "result": {"record": patient}}

    request = {"connection_id": "northside", "idempotency_key": "probe", "input": {"email": patient["email"]}}
    context = LambdaContext("probe", "arn:aws:lambda:us-east-1:123456789012:function:probe", 256, 30)
    for run in (find_by_email, a_bug, succeed):
        app.run_action = run
        trace = f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=1"
        os.environ["_X_AMZN_TRACE_ID"] = trace
        with contextlib.suppress(ConnectorError, KeyError):
            app.lambda_handler(request, context)
    print(json.dumps(emitter.sent))


if __name__ == "__main__":
    main()
