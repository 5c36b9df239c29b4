"""Fakes for the action unit tests: a Cliniko that must not be called, and a scripted one that records calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cliniko_connector.adapters.memory import InMemoryConnectionStore, RecordingPublisher
from cliniko_connector.catalog.actions import ACTIONS, Action
from cliniko_connector.errors import ClinikoNotFound
from cliniko_connector.models import Connection
from cliniko_connector.ports import ClinikoApi, Page, Params
from cliniko_connector.usecases.actions import ActionRunner

# Allows every action: these tests are about what an allowed action does (the boundary has its own tests).
CONNECTION = Connection(id="clinic", name="Clinic", secret_id="unused", shard="au1", allowed_actions=tuple(ACTIONS))


class ForbiddenCliniko:
    """Fails the test on any call: invalid input must never reach Cliniko."""

    def request(self, method: str, path: str, **_: Any) -> Any:
        raise AssertionError(f"Cliniko was called: {method} {path}")

    def list_page(self, path_or_url: str, **_: Any) -> Page:
        raise AssertionError(f"Cliniko was called: GET {path_or_url}")

    def iter_records(self, path: str, **_: Any) -> Iterator[dict[str, Any]]:
        raise AssertionError(f"Cliniko was called: GET {path}")


@dataclass
class Call:
    method: str
    path: str
    params: list[tuple[str, str]]
    json: dict[str, Any] | None


@dataclass
class ScriptedCliniko:
    """`answers[(method, path)]`: a value to return or an exception to raise; unknown GETs of one record are
    404s. `lists[path]`: the pages a list answers with (every filter ignored; the test checks `calls`)."""

    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    lists: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        json: Mapping[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        self.calls.append(Call(method, path, list(params), dict(json) if json is not None else None))
        answer = self.answers.get((method, path))
        if answer is None and method == "GET":
            raise ClinikoNotFound(f"GET {path}: no such record", status=404)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def list_page(self, path_or_url: str, *, params: Params = (), deadline: float | None = None) -> Page:
        path, _, page_no = path_or_url.partition("#page=")
        self.calls.append(Call("GET", path_or_url, list(params), None))
        pages = self.lists.get(path, [[]])
        index = int(page_no or 1) - 1
        next_url = f"{path}#page={index + 2}" if index + 1 < len(pages) else None
        return Page(records=pages[index], total_entries=sum(map(len, pages)), next_url=next_url)

    def iter_records(
        self, path: str, *, params: Params = (), deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        page = self.list_page(path, params=params, deadline=deadline)
        while True:
            yield from page.records
            if not page.next_url:
                return
            page = self.list_page(page.next_url, deadline=deadline)


def make_runner(
    action: Action, api: ClinikoApi | None = None, *, api_for: Callable[[Connection], ClinikoApi] | None = None
) -> tuple[ActionRunner, RecordingPublisher]:
    publisher = RecordingPublisher()
    runner = ActionRunner(
        action=action,
        connections=InMemoryConnectionStore([CONNECTION]),
        api_for=api_for or (lambda _: api if api is not None else ForbiddenCliniko()),
        publisher=publisher,
        event_source="cliniko",
    )
    return runner, publisher
