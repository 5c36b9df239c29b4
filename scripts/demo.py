"""`make demo`: the whole pipeline on this machine, with no AWS account and no Docker.

moto server stands in for AWS and the project's simulator for Cliniko, both on free loopback ports.
The stack comes from template.yaml (`cliniko-connector local up`); every step after that is the same
CLI a clinic's engineer would run, plus clinic staff changing records in the simulator. Everything
this script starts, it stops, also on failure or Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("cliniko-connector"))
DEMO_KEY = "MS0xMjM0NTY3ODkwZGVtb2tleWRlbW9rZXk-au1"
CONTACT = "demo@example.com"
CONNECTION = "northside-physio"
TRIGGERS = ["patient.created", "patient.updated", "patient.archived", "medical_alert.created"]
STEPS = 11
RECIPE = ROOT / "automations" / "recipes" / "no-show-follow-up.yaml"
WEBHOOK_SECRET = "demo-front-desk-webhook-secret"  # noqa: S105 (the demo's own receiver checks it)
SIGNUP_MAP = """\
input:
  first_name: $.answers.first_name
  last_name: $.answers.last_name
  email: $.answers.email
  notes: "Signed up on the website (form <form_id>)"
idempotency_key: $.submission_id
"""


def say(text: str = "") -> None:
    print(text, flush=True)


def step(number: int, text: str) -> None:
    say(f"\n[{number}/{STEPS}] {text}")


def run_cli(*args: str, stdin: str | None = None, show: bool = True) -> str:
    if show:
        say("  $ cliniko-connector " + " ".join(args))
    done = subprocess.run(  # noqa: S603 (our own console script)
        [CLI, *args], input=stdin, capture_output=True, text=True, env=os.environ.copy(), check=False
    )
    if done.returncode in (130, -2):  # the Ctrl-C meant for the demo reached the command first
        raise KeyboardInterrupt
    if done.returncode != 0:
        raise SystemExit(f"demo failed: `cliniko-connector {' '.join(args)}` exited {done.returncode}:\n{done.stderr}")
    if show and done.stdout.strip():
        for line in done.stdout.rstrip().splitlines():
            say(f"    {line}")
    return done.stdout


def http(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (loopback only)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
        raw = response.read()
    return json.loads(raw) if raw else None


def start_simulator(port: int, key_file: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "cliniko_tools.simulator", "--port", str(port)]
    command += ["--api-key-file", str(key_file), "--seed", "demo"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            http("GET", f"http://127.0.0.1:{port}/__sim/health")
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit("demo failed: the simulator did not start") from None
            time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise SystemExit("demo failed: the simulator did not answer in 20 s")


def observe_bus(state: dict[str, Any]) -> tuple[Any, str]:
    """A catch-all rule to a queue, so the demo can show every event that reached the bus."""
    import boto3

    events, sqs = boto3.client("events"), boto3.client("sqs")
    bus = next(iter(state["event_buses"].values()))
    queue_url = sqs.create_queue(QueueName="demo-observer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="demo-observer", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    events.put_targets(Rule="demo-observer", EventBusName=bus, Targets=[{"Id": "observer", "Arn": queue_arn}])
    return sqs, queue_url


def observed(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = batch.get("Messages", [])
        if not messages:
            return seen
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def show_events(events: list[dict[str, Any]]) -> None:
    for detail_type, n in sorted(Counter(e["detail-type"] for e in events).items()):
        say(f"    {n:3} x {detail_type}")
    for event in events:
        detail = event["detail"]
        if event["detail-type"] == "Patient Updated":
            say(f"    Patient Updated {detail['id']}: changed {', '.join(detail['changed_fields'] or [])}")


def automation_fires(sim: str, stack_state: Path, cleanup: ExitStack) -> bool:
    """Steps 9-10: a recipe deployed as the automations stack, then fired by a no-show: a memo in Cliniko and
    a webhook call that a receiver on 127.0.0.1 sees, with the connection's auth header."""
    from cliniko_tools.local.receiver import Receiver

    state = str(stack_state)
    step(9, "An automation file from the recipes, deployed beside the stack: no-show → memo + front-desk webhook")
    receiver = cleanup.enter_context(Receiver())
    say(f"    a receiver for the front desk's webhook on {receiver.url}")
    run_cli("automations", "plan", str(RECIPE.relative_to(ROOT)), "--stack-state", state)
    run_cli(
        "automations", "deploy", str(RECIPE.relative_to(ROOT)), "--stack-state", state,
        "--secret-file", "front-desk=-", "--local-endpoint", f"front-desk={receiver.url}",
        stdin=WEBHOOK_SECRET,
    )  # fmt: skip
    run_cli("connections", "allow", CONNECTION, "communication.create")
    run_cli("triggers", "enable", CONNECTION, "individual_appointment.did_not_arrive")

    step(10, "Staff mark an appointment as did-not-arrive; poll; the automation fires")
    appointment = http("GET", f"{sim}/__sim/records/individual_appointments")["individual_appointments"][0]
    http("PATCH", f"{sim}/__sim/records/individual_appointments/{appointment['id']}", {"did_not_arrive": True})
    run_cli("poll", "--connection", CONNECTION, show=False)
    run_cli("local", "run", "--once", "--stack-state", state, show=False)
    for request in receiver.requests:
        secret_ok = request.headers.get("X-Api-Key") == WEBHOOK_SECRET
        say(f"    webhook received: {request.method} {request.path} {request.body.decode()}")
        say(f"      X-Api-Key header: {'the connection' + chr(39) + 's secret' if secret_ok else 'WRONG'} (not shown)")
    memos = http("GET", f"{sim}/__sim/records/communications")["communications"]
    for memo in memos:
        say(f"    memo {memo['id']} on the patient: {memo['content']!r}")
    run_cli("automations", "list", "--stack-state", state)
    if len(receiver.requests) != 1 or len(memos) != 1:
        say("demo failed: expected one webhook call and one memo from the no-show")
        return False
    say(f"\n  the automation fired: {len(memos)} memo in Cliniko, {len(receiver.requests)} webhook call received.")
    return True


def hook_creates_a_patient(sim: str, workdir: Path, cleanup: ExitStack) -> bool:
    """Step 11: an inbound hook. `local run` serves it on its loopback URL; a website form's signed request
    creates a patient through the hook function, the bus and the patient.create action."""
    from cliniko_connector.hookmodels import PRESETS
    from cliniko_connector.usecases.hooks import sign
    from cliniko_tools.local.moto import terminate

    state = str(workdir / "stack.json")
    step(11, "A website form signs up a patient through an inbound hook (HMAC-signed, over HTTP)")
    (workdir / "signup.yaml").write_text(SIGNUP_MAP, encoding="utf-8")
    run_cli("connections", "allow", CONNECTION, "patient.create")
    added = json.loads(
        run_cli(
            "hooks", "add", "website-signup", "--connection", CONNECTION, "--action", "patient.create",
            "--map", str(workdir / "signup.yaml"), "--preset", "stripe", "--json", "--stack-state", state, show=False,
        )
    )  # fmt: skip
    say(f"    hook website-signup: POST {added['url']} (its secret was printed once, to the form tool)")
    command = [CLI, "local", "run", "--stack-state", state, "--interval", "1"]
    runner = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    cleanup.callback(terminate, runner)
    body = json.dumps(
        {"submission_id": "web-1", "form_id": "signup", "answers": {"first_name": "Mary", "last_name": "Somerville"}}
    ).encode()
    deadline = time.monotonic() + 30
    reply: Any = None
    while reply is None and time.monotonic() < deadline:
        headers = {"Content-Type": "application/json", **sign(PRESETS["stripe"], added["secret"], body)}
        request = urllib.request.Request(added["url"], data=body, method="POST", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
                reply = (response.status, json.loads(response.read()))
        except OSError:
            time.sleep(0.2)  # `local run` is still starting
    if reply is None:
        say("demo failed: the hook's URL did not answer")
        return False
    say(f"    the form got {reply[0]} {reply[1]}")
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        patients = http("GET", f"{sim}/__sim/records/patients")["patients"]
        found = [p for p in patients if p.get("last_name") == "Somerville"]
        time.sleep(0.5)
    terminate(runner)
    run_cli("hooks", "log", "website-signup", "--stack-state", state)
    if len(found) != 1:
        say("demo failed: expected the hook to create one patient")
        return False
    say(f"\n  the hook created patient {found[0]['id']} ({found[0]['notes']!r}) in Cliniko.")
    return True


def main() -> int:
    sys.path.insert(0, str(ROOT / "layers" / "cliniko_connector"))
    from cliniko_tools.local.moto import MotoSubprocess, free_port, terminate
    from cliniko_tools.local.private import write_private

    say("cliniko-connector demo: Cliniko → poller → EventBridge → rule → action → Cliniko, all on 127.0.0.1")
    workdir = Path(tempfile.mkdtemp(prefix="cliniko-demo-"))
    started: list[int] = []
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, True)
        key_file = write_private(workdir / "api-key", DEMO_KEY + "\n")

        step(1, "AWS on loopback: moto server")
        moto = MotoSubprocess()
        endpoint = moto.start()
        cleanup.callback(moto.stop)
        started.append(moto.pid or 0)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_DEFAULT_REGION": "us-east-1",
                "CLINIKO_CONNECTOR_STACK_STATE": str(workdir / "stack.json"),
            }
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "CONNECTIONS_TABLE"):
            os.environ.pop(name, None)
        say(f"    {endpoint}")

        step(2, "Cliniko on loopback: the simulator, seeded with a demo clinic")
        sim_port = free_port()
        simulator = start_simulator(sim_port, key_file)
        cleanup.callback(terminate, simulator)
        started.append(simulator.pid)
        sim = f"http://127.0.0.1:{sim_port}"
        say(f"    {sim}/v1")

        step(3, "The stack from template.yaml (tables, queues, bus, rules), example automation on")
        run_cli(
            "local", "up", "--stack-state", str(workdir / "stack.json"),
            "--parameter", f"ClinikoContactEmail={CONTACT}",
            "--parameter", "EnableExampleAutomations=true",
        )  # fmt: skip
        state = json.loads((workdir / "stack.json").read_text())
        sqs, observer = observe_bus(state)

        step(4, "Connect the clinic (the key comes on stdin, never argv), allow the action, switch triggers on")
        run_cli(
            "connections", "add", "Northside Physio", "--api-key-file", "-", "--base-url", f"{sim}/v1", stdin=DEMO_KEY
        )
        run_cli("connections", "allow", CONNECTION, "medical_alert.create")  # a new connection allows no action
        run_cli("triggers", "enable", CONNECTION, *TRIGGERS)

        step(5, "Clinic staff add three patients in Cliniko")
        created = [
            http("POST", f"{sim}/__sim/records/patients", {"first_name": first, "last_name": last})
            for first, last in (("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"))
        ]
        say(f"    patients {', '.join(p['id'] for p in created)}")

        step(6, "One scheduled cycle: dispatcher → poll worker → bus → ExampleNewPatientAlertRule → action")
        run_cli("local", "run", "--once", "--stack-state", str(workdir / "stack.json"))
        first_events = observed(sqs, observer)
        show_events(first_events)

        step(7, "Staff edit a patient and archive another; poll now")
        http("PATCH", f"{sim}/__sim/records/patients/{created[0]['id']}", {"email": "ada@example.com"})
        http("POST", f"{sim}/__sim/records/patients/{created[2]['id']}/archive")
        run_cli("poll", "--connection", CONNECTION)
        run_cli("local", "run", "--once", "--stack-state", str(workdir / "stack.json"), show=False)
        second_events = observed(sqs, observer)
        show_events(second_events)

        step(8, "What is in Cliniko now, and how the streams stand")
        alerts = http("GET", f"{sim}/__sim/records/medical_alerts")["medical_alerts"]
        patient_ids = {p["id"] for p in created}
        ours = [a for a in alerts if a["patient"]["links"]["self"].rsplit("/", 1)[-1] in patient_ids]
        for alert in ours:
            say(f"    medical alert {alert['id']} on patient {alert['patient']['links']['self'].rsplit('/', 1)[-1]}: "
                f"{alert['name']!r}")  # fmt: skip
        everything = first_events + second_events
        succeeded = [e for e in everything if e["detail-type"] == "Cliniko Action Succeeded"]
        triggers = [e for e in everything if not e["detail-type"].startswith("Cliniko Action")]
        say(
            f"\n  {len(triggers)} trigger events published, {len(succeeded)} actions succeeded, "
            f"{len(ours)} medical alerts created through the whole path."
        )
        run_cli("status", CONNECTION)
        if len(ours) != len(created) or len(succeeded) != len(created):
            say("demo failed: expected one alert per new patient")
            return 1

        if not automation_fires(sim, workdir / "stack.json", cleanup):
            return 1
        if not hook_creates_a_patient(sim, workdir, cleanup):
            return 1
    say(f"  stopped everything the demo started (pids {' '.join(map(str, started))}).")
    say_console()
    return 0


CONSOLE_COMMAND = ".venv/bin/cliniko-connector console --port 8765"


def say_console() -> None:
    """The last thing the demo says: how to see a stack in the browser."""
    say("\nSee it in a browser: bring up the local stack as the README's 'The local stack' shows, then run")
    say(f"  {CONSOLE_COMMAND}")
    say("and open the address it prints (127.0.0.1 only); its write token lets the page redrive and switch triggers.")


def interruptible() -> int:
    """`main`, with Ctrl-C stopping the demo in one line: `main`'s ExitStack has stopped what it started."""
    try:
        return main()
    except KeyboardInterrupt:
        print("\ndemo interrupted: stopped everything it started", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(interruptible())
