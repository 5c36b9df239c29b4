"""The catalog against the official spec: every non-deprecated write operation is an action or is listed in
docs/coverage.md with the reason it is not; every resource whose list filters on `updated_at` has a trigger
stream or is listed with the reason it has none; and the document is what the catalog and the spec make."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.catalog.triggers import STREAMS, TRIGGERS, ResourceStream
from cliniko_tools.devtools import coverage

ROOT = Path(__file__).resolve().parents[2]
SPEC_WRITES = {(op.method, op.path) for op in coverage.write_operations()}


def test_every_write_operation_of_the_spec_is_an_action_or_listed_with_a_reason() -> None:
    assert coverage.uncovered_writes() == []


def test_every_resource_listed_by_updated_at_has_a_stream_or_is_listed_with_a_reason() -> None:
    assert coverage.unstreamed_resources() == []


def test_nothing_is_listed_as_not_covered_that_an_action_covers_or_the_spec_lacks() -> None:
    listed = set(coverage.NOT_COVERED)
    assert listed <= SPEC_WRITES, listed - SPEC_WRITES
    assert not listed & set(coverage.covered_writes())
    assert all(reason.strip() for reason in coverage.NOT_COVERED.values())


def test_what_is_listed_as_not_offered_is_neither_an_action_nor_a_trigger() -> None:
    assert not set(coverage.NOT_OFFERED) & (set(ACTIONS) | set(TRIGGERS))
    assert all(reason.strip() for reason in coverage.NOT_OFFERED.values())


def test_nothing_is_listed_as_not_streamed_that_has_a_stream_or_no_updated_at_filter() -> None:
    listed = set(coverage.NOT_STREAMED)
    assert listed <= set(coverage.updated_at_resources())
    assert not listed & {s.resource for s in STREAMS}
    assert all(reason.strip() for reason in coverage.NOT_STREAMED.values())


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.resource)
def test_every_stream_follows_a_list_the_spec_filters_on_updated_at(stream: ResourceStream) -> None:
    assert stream.resource in coverage.updated_at_resources()


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_write_an_action_makes_is_a_non_deprecated_spec_operation(name: str) -> None:
    assert coverage.writes_of(ACTIONS[name]) <= SPEC_WRITES


def test_the_committed_coverage_document_is_what_the_catalog_and_the_spec_make() -> None:
    committed = (ROOT / coverage.DOC_PATH).read_text(encoding="utf-8")
    assert committed == coverage.render(), "run `make template` and commit docs/coverage.md"


def test_the_document_names_every_action_and_every_trigger() -> None:
    text = coverage.render()
    for name in ACTIONS:
        assert f"`{name}`" in text
    for stream in STREAMS:
        for trigger in stream.triggers:
            assert f"`{trigger.name}`" in text
