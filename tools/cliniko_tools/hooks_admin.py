"""Managing inbound hooks (`cliniko-connector hooks …`): rows of the state table and secrets under the stack's
prefix. Adding one deploys nothing: the stack's one hook function serves every hook by name."""

from __future__ import annotations

import secrets as random_secrets
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.errors import ConfigurationError, HookNotFound, did_you_mean
from cliniko_connector.hookmodels import HOOK_SECRET_FOLDER, Hook, HookAuth, HookLogEntry, HookMap
from cliniko_connector.ports import ConnectionStore, HookLedger, HookStore, SecretStore
from cliniko_connector.timeutil import to_z, utc_now
from cliniko_tools.cli.context import UsageError

SECRET_BYTES = 32


def new_secret() -> str:
    return random_secrets.token_urlsafe(SECRET_BYTES)


def hook_url(base_url: str | None, name: str) -> str | None:
    """The URL a hook's caller posts to: the stack's hook URL + `hooks/NAME`."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/hooks/{name}"


def load_map(text: str, path: str, action: str) -> HookMap:
    """A map file's text (YAML or JSON): `input` and optionally `idempotency_key`, checked against the action's
    fields. Raises `UsageError` saying where the file is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise UsageError(f"--map {path} is not YAML{at}") from None
    try:
        hook_map = HookMap.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "map"
        raise UsageError(f"--map {path}: {where}: {first['msg']}") from None
    model = ACTIONS[action].input_model
    known = {f.alias or name for name, f in model.model_fields.items()} | set(model.model_fields)
    unknown = sorted(set(hook_map.input) - known)
    if unknown and model.model_config.get("extra") == "forbid":
        raise UsageError(
            f"--map {path}: {action} has no input {unknown[0]!r}{did_you_mean(unknown[0], sorted(known))} "
            f"(see `cliniko-connector actions show {action}`)"
        )
    return hook_map


@dataclass
class HookAdmin:
    hooks: HookStore
    ledger: HookLedger
    secrets: SecretStore
    connections: ConnectionStore

    def add(
        self,
        name: str,
        connection_id: str,
        action: str,
        hook_map: HookMap,
        auth: HookAuth,
        *,
        secret: str | None = None,
        **limits: Any,
    ) -> tuple[Hook, str]:
        """Create the hook and its secret; the secret is returned once and stored only in Secrets Manager."""
        if action not in ACTIONS:
            raise ConfigurationError(f"no action {action!r}{did_you_mean(action, ACTIONS)} (see `actions list`)")
        self.connections.get(connection_id)  # ConnectionNotFound
        try:
            self.hooks.get(name)
        except HookNotFound:
            pass
        else:
            raise ConfigurationError(f"hook {name} exists: `hooks remove {name}` first, or `hooks rotate {name}`")
        value = secret or new_secret()
        values = {k: v for k, v in limits.items() if v is not None}
        # Checked before the secret exists, so a bad name or limit leaves nothing behind.
        draft = Hook(
            name=name,
            connection_id=connection_id,
            action=action,
            map=hook_map,
            auth=auth,
            secret_id="-",  # noqa: S106 (a placeholder id, not a secret)
            **values,
        )
        secret_id = self.secrets.put(HOOK_SECRET_FOLDER + name, value)
        hook = draft.model_copy(update={"secret_id": secret_id, "created_at": to_z(utc_now())})
        self.hooks.put(hook)
        return hook, value

    def rotate(self, name: str, secret: str | None = None) -> str:
        hook = self.hooks.get(name)
        value = secret or new_secret()
        self.secrets.put(HOOK_SECRET_FOLDER + hook.name, value)
        return value

    def remove(self, name: str) -> None:
        hook = self.hooks.get(name)
        self.hooks.delete(name)
        self.secrets.delete(hook.secret_id)
        self.ledger.forget_hook(name)

    def log(self, name: str, limit: int) -> list[HookLogEntry]:
        self.hooks.get(name)
        return self.ledger.recent(name, limit)
