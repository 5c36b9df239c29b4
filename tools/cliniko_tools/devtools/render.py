"""Writes (or checks) every file generated from the catalog: `cliniko-connector dev render [--check]`.

Each `Generator` yields relative path → content and names the directories it owns, so files it no longer
generates there (an action removed from the catalog) count as stale. Add a generator to `GENERATORS` to
have `make template` and the up-to-date test cover it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cliniko_tools.devtools import events_doc
from cliniko_tools.devtools.env_json import ENV_JSON_PATH, render_env_json
from cliniko_tools.devtools.sample_events import OWNED_DIRS, render_sample_events
from cliniko_tools.devtools.template import STACKS_DIR, render_stacks


@dataclass(frozen=True)
class Generator:
    name: str
    render: Callable[[], dict[str, str]]
    owned_dirs: tuple[str, ...] = ()
    owned_suffix: str = ".json"


def _template() -> dict[str, str]:
    """template.yaml, the nested stacks' templates under stacks/, and env.json from them."""
    texts = render_stacks()
    return {**texts, ENV_JSON_PATH: render_env_json(texts)}


GENERATORS: list[Generator] = [
    Generator("template", _template, (STACKS_DIR,), ".yaml"),
    Generator("sample events", render_sample_events, OWNED_DIRS),
    Generator("event contract", events_doc.generated_files, ("events/triggers", "docs/schemas")),
]


@dataclass(frozen=True)
class Difference:
    path: str
    kind: str  # "missing", "differs" or "stale"

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}"


def expected_files(generators: list[Generator] | None = None) -> dict[str, str]:
    files: dict[str, str] = {}
    for generator in GENERATORS if generators is None else generators:
        for path, content in generator.render().items():
            if path in files:
                raise ValueError(f"{path} is generated twice")
            files[path] = content
    return files


def _stale(root: Path, expected: dict[str, str], generators: list[Generator]) -> list[str]:
    stale: list[str] = []
    for generator in generators:
        for directory in generator.owned_dirs:
            for path in sorted((root / directory).rglob(f"*{generator.owned_suffix}")):
                relative = path.relative_to(root).as_posix()
                if relative not in expected:
                    stale.append(relative)
    return stale


def check(root: Path, generators: list[Generator] | None = None) -> list[Difference]:
    """What differs between `root` and what the catalog generates (empty when up to date)."""
    generators = GENERATORS if generators is None else generators
    expected = expected_files(generators)
    differences: list[Difference] = []
    for relative, content in expected.items():
        path = root / relative
        if not path.exists():
            differences.append(Difference(relative, "missing"))
        elif path.read_text(encoding="utf-8") != content:
            differences.append(Difference(relative, "differs"))
    differences.extend(Difference(p, "stale") for p in _stale(root, expected, generators))
    return differences


def write(root: Path, generators: list[Generator] | None = None) -> list[Difference]:
    """Bring `root` up to date; returns what was changed."""
    generators = GENERATORS if generators is None else generators
    differences = check(root, generators)
    expected = expected_files(generators)
    for difference in differences:
        path = root / difference.path
        if difference.kind == "stale":
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[difference.path], encoding="utf-8")
    return differences
