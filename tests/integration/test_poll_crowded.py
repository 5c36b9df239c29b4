"""A bulk import (many records to a second) is read on bounded pages that skip each page's last second when
the next page's total proves it whole: about one request per page, and still every record once, whether
Cliniko honours `sort` or not, whether a second fits the pages or not, and with changes made meanwhile."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from cliniko_tools.simulator import Simulator, SimulatorBehaviour
from tests.integration.test_sort_not_honoured import Run, start

pytestmark = pytest.mark.integration

PAGE = 10


@pytest.fixture(
    params=[SimulatorBehaviour(), SimulatorBehaviour(honour_sort=False), SimulatorBehaviour.strict()],
    ids=["sort-honoured", "sort-ignored", "strict"],
)
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    yield from start(request.param, page_size=PAGE)


def bulk_import(sim: Simulator, n: int, per_second: int, *, vary: random.Random | None = None) -> list[str]:
    """`n` records, `per_second` to a second (or, with `vary`, anywhere from one to `per_second`)."""
    ids: list[str] = []
    left = 0
    for index in range(n):
        if left == 0:
            sim.clock.advance(1)
            left = vary.randint(1, per_second) if vary else per_second
        left -= 1
        ids.append(str(sim.create("patients", {"first_name": f"P{index}", "last_name": "Imported"})["id"]))
    return ids


def test_a_bulk_import_is_read_in_about_one_request_per_page_and_published_once(run: Run) -> None:
    ids = bulk_import(run.sim, 300, per_second=PAGE // 2)  # every page would re-read half of itself

    result = run.poll()

    assert run.published("patient.created") == Counter(ids)
    assert result.caught_up
    if run.sim.behaviour.honour_sort:
        assert result.pages <= 1.1 * len(ids) / PAGE


@pytest.mark.parametrize("per_second", [7, 13])
def test_seconds_that_do_not_fit_the_pages_are_still_read_whole(run: Run, per_second: int) -> None:
    ids = bulk_import(run.sim, 150, per_second=per_second, vary=random.Random(per_second))

    result = run.poll()

    assert run.published("patient.created") == Counter(ids)
    assert result.caught_up


def test_changes_made_while_a_bulk_import_is_read_are_each_published(run: Run) -> None:
    ids = bulk_import(run.sim, 150, per_second=PAGE // 2)
    rng = random.Random(3)
    changed: list[str] = []
    created: list[str] = []

    def meanwhile(step: str) -> None:
        published = sorted({str(e.detail["id"]) for e in run.bus.events} & set(ids))
        if step != "fetched" or not published:
            return
        rid = rng.choice(published)  # published already: its change must be published too
        run.sim.update("patients", rid, {"notes": f"changed {len(changed)}"})
        changed.append(rid)
        created.append(str(run.sim.create("patients", {"first_name": "New", "last_name": "Meanwhile"})["id"]))

    run.poller.checkpoint_hook = meanwhile
    run.poll()
    run.poller.checkpoint_hook = lambda step: None
    run.sim.clock.advance(1)
    run.poll()

    assert run.published("patient.created") == Counter(ids + created)
    assert set(run.published("patient.updated")) == set(changed)
