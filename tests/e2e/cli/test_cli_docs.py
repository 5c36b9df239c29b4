"""The docs say what the program does today: every command line quoted in docs/cli.md and the README (its
local-stack section has a test of its own) parses as the CLI parses it, the transcripts run and print what
is shown, and the docs name only files the repository has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cliniko_tools.cli.main import build_parser
from tests.e2e.cli.conftest import CONNECTION, ROOT, Stack

pytestmark = pytest.mark.e2e

DOCS = [ROOT / "docs" / "cli.md", ROOT / "README.md"]
LOCAL_STACK_SECTION = "## The local stack"  # README: checked by the local stack's own test


def _text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.name == "README.md" and LOCAL_STACK_SECTION in text:
        start = text.index(LOCAL_STACK_SECTION)
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "")
    return text


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """(info string, lines) of every fenced code block."""
    return [(m.group(1), m.group(2).splitlines()) for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S)]


def _is_synopsis(words: list[str]) -> bool:
    return any(ch in " ".join(words) for ch in "[]|…") or any(w.isupper() and len(w) > 1 for w in words)


def quoted_command_lines() -> list[tuple[str, list[str]]]:
    """(where, words after `cliniko-connector`) of every command line in a `sh` block or after a `$ ` prompt."""
    found = []
    for path in DOCS:
        for info, lines in _blocks(_text(path)):
            for line in lines:
                line = line.strip()
                if info != "sh" and not line.startswith("$ "):
                    continue
                line = line.removeprefix("$ ")
                if not line.startswith("cliniko-connector "):
                    continue
                command = re.split(r"\s+#\s|\s+[>|]\s", line, maxsplit=1)[0]  # a comment, a redirection
                command = re.sub(r"\s+\(stderr\)$", "", command)
                found.append((f"{path.name}: {line}", shlex.split(command)[1:]))
    return found


def test_the_docs_quote_commands_at_all() -> None:
    lines = quoted_command_lines()
    assert len(lines) >= 40
    assert {words[0] for _where, words in lines} >= {"connections", "triggers", "status", "actions", "completion"}


@pytest.mark.parametrize(("where", "words"), quoted_command_lines(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_quoted_command_line_is_one_the_cli_accepts(where: str, words: list[str]) -> None:
    parser = build_parser()
    if not _is_synopsis(words):
        parser.parse_args(words)  # a usage error exits 2 and fails the test with its one line
        return
    # A synopsis (`ID`, `[--json]`, `a|b`): its command exists and takes every option it shows.
    path = [w.split("|", 1)[0] for w in words if re.fullmatch(r"[a-z][a-z-]*(\|[a-z][a-z-]*)*", w)]
    current = parser
    for word in path:
        sub = next((a for a in current._actions if a.__class__.__name__ == "_SubParsersAction"), None)
        if sub is None or word not in sub.choices:  # type: ignore[attr-defined]
            break
        current = sub.choices[word]  # type: ignore[attr-defined]
    assert current is not parser, f"{where}: no such command"
    options = {o for w in words for o in re.findall(r"--[a-z][a-z-]*", w)}
    unknown = options - set(current._option_string_actions)
    assert not unknown, f"{where}: {current.prog} has no {', '.join(sorted(unknown))}"


# -- the transcripts: run, and compare what they print ------------------------------------------------

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def shape(line: str) -> str:
    """A line with what changes from run to run (times, numbers, table widths) made the same."""
    line = _TIME.sub("T", line)
    line = re.sub(r"key of .+$", "key of USER", line)  # whose key it is: the account's data
    line = re.sub(r"\d+", "N", line)
    line = re.sub(r"-{2,}", "--", line)
    line = re.sub(r"(?<=\w) {2,}(?=\S)", "  ", line)
    return " ".join(line.split(" ")).rstrip()


def transcripts() -> dict[str, list[str]]:
    """`$ cliniko-connector …` of docs/cli.md → the lines shown after it (up to the next prompt)."""
    out: dict[str, list[str]] = {}
    for info, lines in _blocks(_text(ROOT / "docs" / "cli.md")):
        if info:
            continue
        command: str | None = None
        for line in lines:
            if line.startswith("$ "):
                command = line[2:].split("  #", 1)[0].strip()
                out.setdefault(command, [])
            elif command is not None:
                out[command].append(re.sub(r"\s+\(stderr\)$", "", line))
    return out


# The transcripts a fresh stack can reproduce, in the order they run, with how many leading lines must match.
CHECKED = [
    ('cliniko-connector connections add "Northside Physio" --api-key-file key.txt', 3),
    ("cliniko-connector connections allow northside-physio patient.find medical_alert.create", 2),
    ("cliniko-connector triggers enable northside-physio patient.created patient.updated", 1),
    ("cliniko-connector triggers enable northside-physio patient.creatd", 1),
    ("cliniko-connector connections list", 3),
    ("cliniko-connector poll", 4),
    ("cliniko-connector status", 5),
    (
        "cliniko-connector actions run patient.find --connection northside-physio "
        """--input '{"email": "ada@example.com"}' --idempotency-key try-1""",
        1,
    ),
    (
        """cliniko-connector actions run medical_alert.create --connection northside-physio --input '{"name": ""}'""",
        1,
    ),
]


def test_the_transcripts_in_docs_cli_are_what_the_commands_print(stack: Stack) -> None:
    shown = transcripts()
    problems = []
    repeated: set[str] = set()
    for command, lines in CHECKED:
        assert command in shown, f"docs/cli.md no longer shows `{command}`: update CHECKED"
        words = shlex.split(command)[1:]
        if words[:2] == ["connections", "add"]:
            words += ["--base-url", stack.sim.base_url]
        if words == ["poll"]:
            stack.patients("Ada", "Grace")
        if "ada@example.com" in command and command not in repeated:
            (ada, *_rest) = [p for p in stack.sim.list("patients") if p["first_name"] == "Ada"]
            stack.sim.update("patients", ada["id"], {"email": "ada@example.com"})
        result = stack.cli(*words)
        printed = (result.out + result.err).splitlines()
        expected = [shape(line) for line in shown[command][:lines]]
        actual = [shape(line) for line in printed[:lines]]
        if expected != actual:
            problems.append(f"$ {command}\n  docs: {expected}\n  now:  {actual}")
        repeated.add(command)
    # The same request again: the docs show the second run as well.
    find = next(command for command, _ in CHECKED if "actions run patient.find" in command)
    again = shlex.split(find)[1:]
    second = stack.cli(*again).out.splitlines()
    documented_second = transcripts()[find][1:2]
    if [shape(x) for x in second] != [shape(x) for x in documented_second]:
        problems.append(f"the repeat of actions run: docs {documented_second}, now {second}")
    assert problems == [], "\n".join(problems)
    assert stack.cli("connections", "show", CONNECTION, "--json").json.get("secret_id") is None


# -- files the docs name --------------------------------------------------------------------------


def _docs_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_docs_link_and_name_only_files_in_the_repository() -> None:
    problems = []
    names = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts and ".tools" not in p.parts}
    for doc in _docs_files():
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            if not (doc.parent / target).exists():
                problems.append(f"{doc.name}: link to {target}, which isn't there")
        for name in re.findall(r"\b([A-Z][A-Z_]+\.md)\b", text):
            if name not in names:
                problems.append(f"{doc.name}: names {name}, which isn't in the repository")
        for path in re.findall(r"`((?:tests|docs|scripts|layers|events|functions|bench)/[\w./-]+)`", text):
            if "…" not in path and not (ROOT / path).exists():
                problems.append(f"{doc.name}: names {path}, which isn't there")
    assert problems == [], "\n".join(problems)


def test_docs_cli_keeps_no_note_meant_for_its_authors() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "written to be lifted into the README" not in text
    assert not re.search(r"\b(TODO|FIXME|XXX)\b", text)


def test_every_common_field_of_trigger_events_has_a_meaning_in_docs_events() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    section = text.split("## Common fields of trigger events", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows
    empty = [row for row in rows if not row.split("|")[2].strip()]
    assert empty == []
