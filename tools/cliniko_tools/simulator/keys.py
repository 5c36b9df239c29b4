"""The API keys the simulator accepts, and the Cliniko user each one acts as."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

from cliniko_tools.simulator.store import Store


def key_hash(key: str) -> str:
    """What the simulator shows of a key (logs, control surface): a sha256 prefix, never the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class ApiKeys:
    """Accepted keys, each with a user of its own (the first key may be the seed's account owner)."""

    def __init__(self, store: Store, keys: Iterable[str], owner: int | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        ordered = [keys] if isinstance(keys, str) else list(dict.fromkeys(keys))
        self.accepted: frozenset[str] = frozenset(ordered)
        self._users: dict[str, int] = {}
        for index, key in enumerate(ordered):
            if index == 0 and owner is not None:
                self._users[key] = owner
                continue
            self._users[key] = self._new_user()

    def accepts(self, key: str | None) -> bool:
        return key is not None and key in self.accepted

    def user_for(self, key: str) -> int | None:
        return self._users.get(key)

    def _new_user(self) -> int:
        number = len(self._users) + 1
        user = self._store.create(
            "users",
            {
                "first_name": "API",
                "last_name": f"User {number}",
                "email": f"api-user-{number}@simulator.example",
                "role": "administrator",
            },
            staff=True,
        )
        return int(user["id"])

    def add(self, key: str) -> bool:
        """Accept `key` from now on (a key added before, then revoked, gets its user back); False if it
        was already accepted."""
        with self._lock:
            if key in self.accepted:
                return False
            if key not in self._users:
                self._users[key] = self._new_user()
            self.accepted = self.accepted | {key}
            return True

    def revoke(self, key: str) -> bool:
        """Answer 401 to `key` from now on, as Cliniko does for a revoked key; False if it wasn't accepted."""
        with self._lock:
            if key not in self.accepted:
                return False
            self.accepted = self.accepted - {key}
            return True
