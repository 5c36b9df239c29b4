"""env.json (for `sam local invoke --env-vars env.json`) gives every function each variable template.yaml declares."""

import json
from pathlib import Path

from cliniko_tools.local.stack import assign_physical
from cliniko_tools.local.template import FUNCTION_TYPE, ResolvedTemplate, load_template, resolve_stacks, template_reader

ROOT = Path(__file__).resolve().parents[3]


def test_env_json_covers_every_functions_variables_in_the_template_and_its_nested_stacks() -> None:
    root = ResolvedTemplate(load_template(ROOT / "template.yaml"), {"ClinikoContactEmail": "you@example.com"})
    templates = resolve_stacks(
        root, template_reader(ROOT / "template.yaml"), lambda t: assign_physical(t, "s", "us-east-1", "1", "http://x")
    )
    env = json.loads((ROOT / "env.json").read_text(encoding="utf-8"))
    functions = {logical_id: t for t in templates for logical_id in t.resources(FUNCTION_TYPE)}
    assert len(templates) > 1 and "PollWorkerFunction" in functions and "PatientCreateActionFunction" in functions
    assert set(env) == set(functions)
    for logical_id, template in functions.items():
        declared = template.function_properties(logical_id).get("Environment", {}).get("Variables", {})
        assert set(env[logical_id]) == set(declared), logical_id
        assert all(isinstance(value, str) and value for value in env[logical_id].values()), logical_id


def test_env_json_names_the_local_stacks_resources() -> None:
    env = json.loads((ROOT / "env.json").read_text(encoding="utf-8"))
    worker = env["PollWorkerFunction"]
    assert worker["CONNECTIONS_TABLE"].startswith("cliniko-connector-local-")
    assert worker["POLL_QUEUE_URL"].startswith("http://host.docker.internal:5000/123456789012/")
