"""docs/automations.md carries the action table generated from the catalog and the trigger paths generated
from the event schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_tools.automations.schema import leaf_paths
from cliniko_tools.devtools import actions_doc
from cliniko_tools.devtools import trigger_paths_doc as paths
from cliniko_tools.devtools.actions_doc import (
    BEGIN,
    DOC_PATH,
    END,
    committed_section,
    input_fields,
    render_actions_doc,
    splice,
)

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_action_table_matches_the_catalog() -> None:
    document = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    assert committed_section(document) == render_actions_doc(), (
        "run `python -m cliniko_tools.devtools.actions_doc` and commit docs/automations.md"
    )


def test_every_action_and_every_input_field_is_in_the_table() -> None:
    table = render_actions_doc()
    assert table.startswith(BEGIN) and table.endswith(END)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(ACTIONS)
    for action in ACTIONS.values():
        (row,) = [r for r in rows if r.startswith(f"| `{action.name}` |")]
        for name, required, _ in input_fields(action):
            assert (f"**`{name}`**" if required else f"`{name}`") in row
    assert "**`from`**" in table and "from_" not in table


def test_the_docs_cover_the_examples_and_the_three_input_shapes() -> None:
    document = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    for text in (
        "Patient Created",
        "Individual Appointment Cancelled",
        "InputTransformer",
        "Cliniko Action Requested",
        "MedicalAlertCreateActionFunction",
        "CommunicationCreateActionFunction",
        "`DELETE`",
    ):
        assert text in document


def test_splice_replaces_only_the_generated_section(tmp_path: Path) -> None:
    document = f"# Title\n\nintro\n\n{paths.BEGIN}\nstale\n{paths.END}\n\n{BEGIN}\nstale\n{END}\n\noutro\n"
    updated = splice(document)
    assert updated.startswith("# Title\n\nintro\n\n") and updated.endswith("\n\noutro\n")
    assert committed_section(updated) == render_actions_doc()
    assert committed_section(updated, paths.BEGIN, paths.END) == paths.render_trigger_paths()
    with pytest.raises(ValueError, match="markers"):
        splice("no markers here")
    (tmp_path / "docs").mkdir()
    (tmp_path / DOC_PATH).write_text(document, encoding="utf-8")
    assert actions_doc.main(["--check", "--root", str(tmp_path)]) == 1
    assert actions_doc.main(["--root", str(tmp_path)]) == 0
    assert actions_doc.main(["--check", "--root", str(tmp_path)]) == 0


def test_the_committed_trigger_paths_are_every_path_validate_accepts_for_every_trigger() -> None:
    document = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    section = committed_section(document, paths.BEGIN, paths.END)
    assert section == paths.render_trigger_paths(), "run `make template`"
    for trigger in TRIGGERS:
        assert f"`{trigger}`" in section
        for path, _ in leaf_paths(trigger):
            shown = path.removeprefix("$.detail.data.") if path.startswith("$.detail.data.") else path
            assert f"`{shown}`" in section or f"`{path.removeprefix('$.detail.')}`" in section, (trigger, path)
