"""Finds ask Cliniko for hidden records exactly where the official spec says an endpoint can include them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cliniko_connector.catalog.actions import ACTIONS, Find, Get
from cliniko_connector.catalog.hidden import HIDDEN_FILTERS, STATES

SPEC = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "cliniko-openapi.json").read_text())
HIDDEN = {f"{state}_at" for state in STATES}


def spec_hidden(path: str) -> set[str] | None:
    """The hidden-state filters the spec documents on `GET path` (None when the spec has no such GET)."""
    operation: dict[str, Any] | None = SPEC["paths"].get(path, {}).get("get")
    if operation is None:
        return None
    queries = [p for p in operation.get("parameters", []) if p.get("name") == "q[]"]
    names = {n for p in queries for n in re.findall(r"^\| (\w+) \|", p.get("description", ""), flags=re.MULTILINE)}
    return names & HIDDEN


def catalog_paths() -> set[str]:
    paths: set[str] = set()
    for action in ACTIONS.values():
        op = action.operation
        if isinstance(op, Get):
            paths |= {path for _, path in op.paths()}
        elif isinstance(op, Find):
            paths |= {op.path} | ({op.inactive} if op.inactive else set())
            paths |= {op.via.path} if op.via else set()
    return paths


@pytest.mark.parametrize("path", sorted(HIDDEN_FILTERS))
def test_the_table_is_what_the_spec_documents_for_the_list_and_the_get_by_id(path: str) -> None:
    listed = spec_hidden(path)
    assert listed is not None, f"the spec has no GET {path}"
    assert set(HIDDEN_FILTERS[path]) == listed
    by_id = spec_hidden(f"{path}/{{id}}")
    if by_id is not None:
        assert set(HIDDEN_FILTERS[path]) == by_id


def test_every_spec_collection_that_can_hide_records_is_in_the_table() -> None:
    # Top-level collections only (`/patients`, not `/patients/{patient_id}/invoices`): those are what actions use.
    collections = {p for p in SPEC["paths"] if p.count("/") == 1 and (spec_hidden(p) or spec_hidden(f"{p}/{{id}}"))}
    assert collections <= set(HIDDEN_FILTERS)


def test_every_path_a_lookup_reads_is_in_the_table() -> None:
    assert catalog_paths() <= set(HIDDEN_FILTERS)


def test_lookups_by_id_ask_for_every_hidden_state_the_spec_allows() -> None:
    calls = {
        name: ACTIONS[name].operation.calls() for name in ("appointment.find", "patient.find", "practitioner.find")
    }
    assert (
        "/individual_appointments/{id}?q[]=archived_at:*&q[]=deleted_at:*&q[]=cancelled_at:*`"
        in calls["appointment.find"]
    )
    assert "/group_appointments/{id}?q[]=archived_at:*&q[]=deleted_at:*`" in calls["appointment.find"]
    assert "/patients/{id}?q[]=archived_at:*`" in calls["patient.find"]
    assert "/practitioners/{id}`" in calls["practitioner.find"]  # the spec documents none there
