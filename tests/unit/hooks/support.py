"""A hook receiver on in-memory fakes, and the requests a form tool would send it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cliniko_connector.adapters.memory import (
    InMemoryConnectionStore,
    InMemoryHookLedger,
    InMemoryHookStore,
    InMemorySecretStore,
    RecordingPublisher,
)
from cliniko_connector.hookmodels import PRESETS, Hook, HookAuth, HookMap
from cliniko_connector.models import Connection
from cliniko_connector.usecases.hooks import HookCall, HookReceiver, sign

NOW = 1_800_000_000.0
SECRET = "whsec_test-secret-0123456789"
SOURCE = "cliniko-connector.automation"
PATIENT_MAP = HookMap(
    input={
        "first_name": "$.data.first_name",
        "last_name": "$.data.last_name",
        "email": "$.data.email",
        "notes": "Signed up with form <form_id>",
    },
    idempotency_key="$.submission_id",
)


def make_hook(name: str = "signup", preset: str = "stripe", **changes: Any) -> Hook:
    auth = HookAuth(type="hmac", preset=preset, signature=PRESETS[preset])
    values: dict[str, Any] = {
        "name": name,
        "connection_id": "northside",
        "action": "patient.create",
        "map": PATIENT_MAP,
        "auth": auth,
        "secret_id": f"hooks/{name}",
        "rate_limit_per_minute": 100,
    }
    return Hook(**{**values, **changes})


@dataclass
class Rig:
    receiver: HookReceiver
    secrets: InMemorySecretStore
    hooks: InMemoryHookStore
    ledger: InMemoryHookLedger
    connections: InMemoryConnectionStore
    publisher: RecordingPublisher
    now: list[float] = field(default_factory=lambda: [NOW])
    counter: int = 0

    def call(
        self,
        body: Any,
        *,
        hook: str = "signup",
        headers: dict[str, str] | None = None,
        signed: bool = True,
        timestamp: int | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        data = raw if raw is not None else json.dumps(body).encode()
        sent: dict[str, str] = {}
        if signed:
            definition = self.hooks.get(hook)
            assert definition.auth.signature is not None
            stamp = int(self.now[0]) if timestamp is None else timestamp
            sent.update(sign(definition.auth.signature, SECRET, data, stamp))
        sent.update(headers or {})
        self.counter += 1
        call = HookCall(hook, "POST", {k.lower(): v for k, v in sent.items()}, data, f"req-{self.counter}")
        reply = self.receiver.receive(call)
        return reply.status, reply.body


def rig(*hooks: Hook, allowed: tuple[str, ...] = ("patient.create",), enabled: bool = True) -> Rig:
    secrets = InMemorySecretStore()
    store = InMemoryHookStore()
    for hook in hooks or (make_hook(),):
        secrets.put(hook.secret_id, SECRET)
        store.put(hook.model_copy(update={"secret_id": secrets.arn(hook.secret_id)}))
    status = "active" if enabled else "disabled"
    connection = Connection.model_validate(
        {
            "id": "northside",
            "name": "Northside",
            "secret_id": "k",
            "shard": "au1",
            "allowed_actions": allowed,
            "status": status,
        }
    )
    connections = InMemoryConnectionStore([connection])
    publisher = RecordingPublisher()
    now = [NOW]
    ledger = InMemoryHookLedger(clock=lambda: now[0])
    receiver = HookReceiver(store, ledger, secrets, connections, publisher, SOURCE, clock=lambda: now[0])
    return Rig(receiver, secrets, store, ledger, connections, publisher, now)


def form(**data: Any) -> dict[str, Any]:
    """A form tool's submission."""
    fields = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", **data}
    return {"submission_id": "sub-1", "form_id": "F7", "data": fields}
