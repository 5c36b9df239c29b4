"""Inbound hooks over real HTTP on the local stack: a form tool's signed request creates a patient in the Cliniko
simulator through the hook function, the bus and the action function; every attack gets its status and creates
nothing."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cliniko_connector.hookmodels import PRESETS
from cliniko_connector.usecases.hooks import sign
from cliniko_tools.cli.completion import complete
from cliniko_tools.local.function_url import serving_function_urls
from tests.e2e.cli.conftest import CONNECTION, Stack

MAP = """\
# A form tool's submission → patient.create
input:
  first_name: $.form_response.answers.first_name
  last_name: $.form_response.answers.last_name
  email: $.form_response.answers.email
  notes: "Signed up with form <form_response.form_id>"
idempotency_key: $.event_id
"""


def submission(event_id: str = "evt-1", **answers: Any) -> dict[str, Any]:
    fields = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", **answers}
    return {"event_id": event_id, "form_response": {"form_id": "F7", "answers": fields}}


@pytest.fixture
def hooked(stack: Stack, tmp_path: Path) -> Iterator[tuple[Stack, dict[str, Any]]]:
    """The clinic connected (patient.create allowed), a hook `signup` with the stripe-like scheme, served."""
    stack.connect("patient.create")
    (tmp_path / "signup.yaml").write_text(MAP, encoding="utf-8")
    added = stack.cli(
        "hooks", "add", "signup", "--connection", CONNECTION, "--action", "patient.create",
        "--map", str(tmp_path / "signup.yaml"), "--preset", "stripe", "--json",
    )  # fmt: skip
    assert added.code == 0, added.err
    with serving_function_urls(stack.runner) as urls:
        assert added.json["url"] == urls["HookFunction"] + "hooks/signup"
        yield stack, added.json


def post(
    url: str, body: bytes, secret: str | None, *, timestamp: int | None = None, **headers: str
) -> requests.Response:
    sent = {"Content-Type": "application/json", **headers}
    if secret is not None:
        sent |= sign(PRESETS["stripe"], secret, body, int(time.time()) if timestamp is None else timestamp)
    return requests.post(url, data=body, headers=sent, timeout=10)


def patients_named(stack: Stack, last_name: str) -> list[dict[str, Any]]:
    return [p for p in stack.sim.list("patients") if p.get("last_name") == last_name]


def test_a_form_tools_signed_request_creates_a_patient_over_real_http(hooked: tuple[Stack, dict[str, Any]]) -> None:
    stack, hook = hooked
    body = json.dumps(submission()).encode()
    reply = post(hook["url"], body, hook["secret"])
    assert reply.status_code == 202, reply.text
    request_id = reply.json()["request_id"]
    stack.run()  # the action request, from the bus's rule queue into the patient.create function
    (patient,) = patients_named(stack, "Lovelace")
    assert patient["first_name"] == "Ada" and patient["notes"] == "Signed up with form F7"
    # The form tool sends it again with a new signature (its own retry): the event id is the idempotency key.
    assert post(hook["url"], body, hook["secret"], timestamp=int(time.time()) + 1).status_code == 202
    stack.run()
    assert len(patients_named(stack, "Lovelace")) == 1
    outcomes = stack.cli("hooks", "log", "signup", "--json").json
    assert {"request_id": request_id, "status": 202, "error": None}.items() <= outcomes[-1].items()
    shown = stack.cli("hooks", "show", "signup", "--json").json
    assert shown["url"] == hook["url"] and "secret" not in shown and hook["secret"] not in json.dumps(shown)


def test_attacks_over_http_get_their_status_and_create_nothing(hooked: tuple[Stack, dict[str, Any]]) -> None:
    stack, hook = hooked
    body = json.dumps(submission(last_name="Mallory")).encode()
    assert post(hook["url"], body, "a-guessed-secret-value").status_code == 401
    assert post(hook["url"], body, None).status_code == 401
    assert post(hook["url"], body, hook["secret"], timestamp=int(time.time()) - 3600).status_code == 401
    signed = sign(PRESETS["stripe"], hook["secret"], body, int(time.time()))
    headers = {"Content-Type": "application/json", **signed}
    assert requests.post(hook["url"], data=body, headers=headers, timeout=10).status_code == 202
    replay = requests.post(hook["url"], data=body, headers=headers, timeout=10)
    assert replay.status_code == 401 and "replay" in replay.json()["message"]
    tampered = body.replace(b"Mallory", b"Mallory2")
    assert requests.post(hook["url"], data=tampered, headers=headers, timeout=10).status_code == 401
    assert post(hook["url"], b"x" * 70_000, hook["secret"]).status_code == 413
    assert post(hook["url"], b"{not json", hook["secret"]).status_code == 400
    missing = post(hook["url"], json.dumps({"event_id": "e9", "form_response": {}}).encode(), hook["secret"])
    assert missing.status_code == 400 and "last_name" in missing.json()["fields"]
    assert post(hook["url"].replace("signup", "nobody"), body, hook["secret"]).status_code == 401
    stack.run()
    assert len(patients_named(stack, "Mallory")) == 1  # the one signed request, once
    assert len(patients_named(stack, "Mallory2")) == 0
    statuses = [entry["status"] for entry in stack.cli("hooks", "log", "signup", "--json").json]
    assert sorted(set(statuses)) == [202, 400, 401, 413]


def test_a_hook_for_an_action_the_connection_disallows_is_403(hooked: tuple[Stack, dict[str, Any]]) -> None:
    stack, hook = hooked
    assert stack.cli("connections", "disallow", CONNECTION, "patient.create").code == 0
    reply = post(hook["url"], json.dumps(submission(last_name="Blocked")).encode(), hook["secret"])
    assert reply.status_code == 403 and reply.json()["error"] == "ActionNotAllowed"
    stack.run()
    assert patients_named(stack, "Blocked") == []


def test_fuzzed_bodies_over_http_get_202_or_400_never_a_server_error(hooked: tuple[Stack, dict[str, Any]]) -> None:
    _stack, hook = hooked
    rng = random.Random(17)
    odd: list[Any] = [None, 0, True, "", "x" * 500, [], {}, {"a": [1]}, "💥", 1e308]
    for i in range(30):
        answers = {k: rng.choice([*odd, "Ada"]) for k in ("first_name", "last_name", "email") if rng.random() > 0.2}
        body: Any = {"event_id": rng.choice([f"f{i}", None, 5, {}]), "form_response": {"answers": answers}}
        if rng.random() < 0.2:
            body = rng.choice(odd)
        reply = post(hook["url"], json.dumps(body).encode(), hook["secret"], timestamp=int(time.time()) + i)
        assert reply.status_code in (202, 400), (reply.status_code, reply.text)


def test_rotate_and_remove(hooked: tuple[Stack, dict[str, Any]]) -> None:
    stack, hook = hooked
    rotated = stack.cli("hooks", "rotate", "signup", "--json")
    assert rotated.code == 0 and rotated.json["secret"] != hook["secret"]
    assert complete("si", ["hooks", "rotate"]) == ["signup"]  # shell completion knows the stack's hooks
    assert "patient.create" in complete("patient.c", ["hooks", "add", "x", "--action"])
    listed = stack.cli("hooks", "list")
    assert "signup" in listed.out and hook["secret"] not in listed.out
    assert stack.cli("hooks", "remove", "signup", "--yes").code == 0
    assert post(hook["url"], json.dumps(submission()).encode(), rotated.json["secret"]).status_code == 401
    assert stack.cli("hooks", "show", "signup").code != 0
