"""How much of Cliniko's API the catalog covers, against the official spec (`tests/fixtures/cliniko-openapi.json`).

    python -m cliniko_tools.devtools.coverage [--check] [--root DIR]

writes (or checks) `docs/coverage.md`: every resource of the spec with the triggers and actions built on it
and the spec operation each uses, then every non-deprecated write operation and every `updated_at`-filtered
list the catalog does not cover, each with the reason (`NOT_COVERED`, `NOT_STREAMED` below).
`tests/unit/test_spec_coverage.py` fails when a spec operation is neither covered nor listed with a reason.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cliniko_connector.catalog.actions import ACTIONS, Action, Archive, Cancel, Create, Delete, Unarchive, Update
from cliniko_connector.catalog.triggers import STREAMS

SPEC_PATH = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "cliniko-openapi.json"
DOC_PATH = "docs/coverage.md"
WRITE_METHODS = ("post", "patch", "put", "delete")

# Write operations of the spec that are not actions, and why: (METHOD, path) -> reason.
NOT_COVERED: dict[tuple[str, str], str] = {
    ("POST", "/patient_attachments"): (
        "a binary upload: the file goes to S3 through the presigned post of "
        "`GET /patients/{patient_id}/attachment_presigned_post` first, which an EventBridge-driven action can't "
        "carry (events are at most 256 KB of JSON)"
    ),
    ("PATCH", "/patients/{patient_id}/referral_source"): (
        "not built yet (issue 15): a patient's one referral source lives under the patient "
        "(`/patients/{patient_id}/referral_source`), a path no generic operation addresses yet, and the simulator "
        "doesn't serve referral sources"
    ),
}
# Not built yet: what is left of issue 15, listed so the docs say so rather than pretend.
_NOT_YET = "not built yet (issue 15)"

# Actions beyond the spec's one-to-one operations that clinics ask for (issue 15), not in the catalog, and why.
NOT_OFFERED: dict[str, str] = {
    "patient_form.send": (
        "the API can't send a form: the spec has no send operation, and it doesn't say that `POST /patient_forms` "
        "emails the patient (UNCONFIRMED either way). An automation can create it with `patient_form.create` and "
        "send the form's `url` (in the result's record) with its own email, SMS or webhook step"
    ),
    "patient.find_or_create": _NOT_YET + ": needs a generic find-then-create operation (one write at most)",
    "appointment.find_available_times": _NOT_YET + ": the simulator doesn't serve `available_times` yet",
    "invoice.outstanding_for_patient": _NOT_YET + ": `invoice.find` by `patient_id` and `status` 10 finds one",
    "product.stock_low": _NOT_YET
    + " (a trigger): needs a typed per-connection threshold; `product.updated` with `stock_level` in "
    "`changed_fields` is the way today",
}

# Resources whose list filters on `updated_at` but which have no trigger stream, and why.
NOT_STREAMED: dict[str, str] = dict.fromkeys(
    (
        "concession_prices",
        "daily_availabilities",
        "referral_source_types",
        "referral_sources",
    ),
    _NOT_YET,
)


@dataclass(frozen=True)
class SpecOperation:
    method: str
    path: str
    operation_id: str
    tag: str


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def operations() -> list[SpecOperation]:
    """Every operation of the spec, deprecated ones left out."""
    out = []
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            if method in ("get", *WRITE_METHODS) and not op.get("deprecated"):
                out.append(SpecOperation(method.upper(), path, op.get("operationId", ""), (op.get("tags") or [""])[0]))
    return out


def write_operations() -> list[SpecOperation]:
    return [op for op in operations() if op.method.lower() in WRITE_METHODS]


def list_filters(path: str) -> set[str]:
    """The `q[]` filters `GET path` documents."""
    op = spec()["paths"].get(path, {}).get("get", {})
    names: set[str] = set()
    for param in op.get("parameters", []):
        if param.get("name") == "q[]":
            names |= set(re.findall(r"^\| (\w+) \|", param.get("description", ""), flags=re.MULTILINE))
    return names


def updated_at_resources() -> list[str]:
    """Top-level collections whose list filters on `updated_at`: the resources a stream can follow."""
    return sorted(
        path[1:]
        for path, item in spec()["paths"].items()
        if path.count("/") == 1 and "get" in item and "updated_at" in list_filters(path)
    )


def writes_of(action: Action) -> set[tuple[str, str]]:
    """The spec write operations (METHOD, path) an action makes."""
    op = action.operation
    if isinstance(op, Create):
        return {("POST", op.path)}
    if isinstance(op, Update):
        return {("PATCH", f"{op.path}/{{id}}")}
    if isinstance(op, Archive):
        return {("POST", f"{op.path}/{{id}}/archive")}
    if isinstance(op, Unarchive):
        return {("POST", f"{op.path}/{{id}}/unarchive")}
    if isinstance(op, Cancel):
        return {("PATCH", f"{op.path}/{{id}}/cancel")}
    if isinstance(op, Delete):
        return {("DELETE", f"{op.path}/{{id}}")}
    return set()


def covered_writes() -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for action in ACTIONS.values():
        for key in writes_of(action):
            out.setdefault(key, []).append(action.name)
    return out


def uncovered_writes() -> list[tuple[str, str]]:
    """Non-deprecated write operations that are neither an action nor listed with a reason."""
    covered = covered_writes()
    return [
        (op.method, op.path)
        for op in write_operations()
        if (op.method, op.path) not in covered and (op.method, op.path) not in NOT_COVERED
    ]


def unstreamed_resources() -> list[str]:
    streamed = {s.resource for s in STREAMS}
    return [r for r in updated_at_resources() if r not in streamed and r not in NOT_STREAMED]


# --------------------------------------------------------------------------- the document


def _resource_of_path(path: str) -> str:
    return path.split("/")[1]


def render() -> str:
    streams = {s.resource: s for s in STREAMS}
    by_resource: dict[str, list[Action]] = {}
    for action in ACTIONS.values():
        by_resource.setdefault(action.resource, []).append(action)
    resources = sorted({_resource_of_path(op.path) for op in operations()} | set(by_resource) | set(streams))
    lines = [
        "# Coverage of the Cliniko API",
        "",
        "Generated from the catalog and the official OpenAPI spec (`tests/fixtures/cliniko-openapi.json`) by",
        "`python -m cliniko_tools.devtools.coverage` (`make template`); do not edit by hand.",
        "",
        f"The spec has {len(operations())} non-deprecated operations, {len(write_operations())} of them writes; "
        f"{len(updated_at_resources())} resources list with an `updated_at` filter. The catalog has "
        f"{len(streams)} trigger streams ({sum(len(s.triggers) for s in STREAMS)} triggers) and "
        f"{len(ACTIONS)} actions.",
        "",
        "## By resource",
        "",
        "| resource | triggers (one stream: `GET /<resource>?q[]=updated_at:>…`) | actions and the calls they make |",
        "| --- | --- | --- |",
    ]
    for resource in resources:
        stream = streams.get(resource)
        triggers = "<br>".join(f"`{t.name}`" for t in stream.triggers) if stream else ""
        actions = "<br>".join(
            f"`{a.name}`: {a.operation.calls().replace('|', '\\|')}"
            for a in sorted(by_resource.get(resource, []), key=lambda a: a.name)
        )
        if triggers or actions:
            lines.append(f"| `{resource}` | {triggers} | {actions} |")
    lines += [
        "",
        "## Write operations that are not actions",
        "",
        "| operation | why not |",
        "| --- | --- |",
    ]
    lines += [f"| `{method} {path}` | {reason} |" for (method, path), reason in sorted(NOT_COVERED.items())]
    lines += [
        "",
        "## Actions and triggers asked for beyond the spec's operations, not in the catalog",
        "",
        "| name | why not |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {reason} |" for name, reason in sorted(NOT_OFFERED.items())]
    lines += [
        "",
        "## Resources with an `updated_at` filter and no trigger stream",
        "",
        "| resource | why not |",
        "| --- | --- |",
    ]
    lines += [f"| `{resource}` | {reason} |" for resource, reason in sorted(NOT_STREAMED.items())]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed document is out of date")
    parser.add_argument("--root", default=".", help="the repository root")
    args = parser.parse_args(argv)
    path = Path(args.root) / DOC_PATH
    text = render()
    missing_writes, missing_streams = uncovered_writes(), unstreamed_resources()
    for method, spec_path in missing_writes:
        sys.stderr.write(f"not covered and no reason given: {method} {spec_path}\n")
    for resource in missing_streams:
        sys.stderr.write(f"no stream and no reason given: {resource}\n")
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            sys.stderr.write(f"{DOC_PATH} is out of date: run python -m cliniko_tools.devtools.coverage\n")
            return 1
        return 1 if missing_writes or missing_streams else 0
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
