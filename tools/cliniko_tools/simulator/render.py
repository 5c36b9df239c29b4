"""Records to the JSON Cliniko sends: string ids, ``Z`` timestamps, link objects, absolute URLs."""

from __future__ import annotations

from typing import Any

from cliniko_tools.simulator.schema import Record, ResourceDef
from cliniko_tools.simulator.timefmt import format_datetime

# (mode, out key, attribute, target, default) per rendered field, computed once per resource.
Plan = list[tuple[str, str, str, str | None, Any]]
_plans: dict[int, Plan] = {}


def _plan(rdef: ResourceDef) -> Plan:
    plan = _plans.get(id(rdef))
    if plan is None:
        plan = []
        for f in rdef.fields:
            if not f.render:
                continue
            mode = {"ref": "ref", "datetime": "dt", "ids": "ids"}.get(f.kind, "plain")
            if f.name == "id":
                mode = "id"
            plan.append((mode, f.out_key, f.name, f.target, f.default))
        for key, template in rdef.collections:
            plan.append(("collection", key, template, None, None))
        _plans[id(rdef)] = plan
    return plan


def render(rdef: ResourceDef, rec: Record, base: str, self_resource: str | None = None) -> dict[str, Any]:
    """The API representation of ``rec``; ``self_resource`` overrides the path in ``links.self``."""
    rid = rec["id"]
    out: dict[str, Any] = {}
    get = rec.get
    for mode, key, attr, target, default in _plan(rdef):
        if mode == "plain":
            value = get(attr)
            out[key] = default if value is None else value
        elif mode == "dt":
            out[key] = format_datetime(get(attr))
        elif mode == "ref":
            ref = get(attr)
            if ref is not None:  # absent relations are left out rather than rendered as null
                out[key] = {"links": {"self": f"{base}/{target}/{ref}"}}
        elif mode == "id":
            out[key] = str(rid)
        elif mode == "ids":
            value = get(attr)
            out[key] = [str(v) for v in value] if value is not None else default
        else:  # collection link
            out[key] = {"links": {"self": f"{base}/{attr.format(id=rid)}"}}
    out["links"] = {"self": f"{base}/{self_resource or rdef.name}/{rid}"}
    return out
