"""The Lambda layer holds what the functions import and nothing else, its dependencies locked with hashes.

The layer is what `sam build` makes of the ConnectorLayer's ContentUri (layers/cliniko_connector/): that tree,
plus what pip installs from its requirements.txt, the lock. The lock's packages are read from the lock and
their importable modules from their installed metadata (the dev environment installs them all).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "cliniko_connector"
PACKAGE = LAYER / "cliniko_connector"
LOCK = LAYER / "requirements.txt"
REQUIREMENTS_IN = LAYER / "requirements.in"

# [project].dependencies that only the tools (CLI, local stack, template generator) import: not in the layer.
TOOLS_ONLY = {"pyyaml", "flask"}
# Never in the layer, whatever pulls them in.
NON_RUNTIME_MODULES = {"cliniko_tools", "moto", "yaml", "_yaml", "pytest", "_pytest", "hypothesis", "tests", "bench"}

# requests' optional character detection: the layer leaves it out (Cliniko answers JSON; adapters/cliniko_http.py).
LEFT_OUT_OF_THE_LOCK = {"charset-normalizer", "chardet"}

# Imports from outside the runtime that are known and have a date to go. Each entry names the file, the module
# and why; the integrator removes it when the reason is gone (`test_known_exceptions_are_still_real` then fails
# until the entry is removed, so none outlives its reason).
KNOWN_NON_RUNTIME_IMPORTS: dict[tuple[str, str], str] = {}


# --------------------------------------------------------------------------- what the layer holds


def _lock_pins() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every requirement in the lock."""
    pins: dict[str, tuple[str, list[str]]] = {}
    text = LOCK.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split(" --hash=")
        name, _, version = requirement.strip().partition("==")
        assert version, f"the lock pins every package to one version: {requirement!r}"
        pins[canonicalize_name(name)] = (version.split(";")[0].strip(), [o.strip() for o in options])
    return pins


def _top_level_modules(distribution: str) -> set[str]:
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        raise AssertionError(f"{distribution} is locked but not installed: run `make venv`") from None
    modules = set()
    for file in files:
        top = file.parts[0]
        if top.endswith((".dist-info", ".egg-info", ".data")) or top in ("..", "__pycache__") or top.startswith("."):
            continue
        if len(file.parts) == 1:
            if file.suffix == ".py" or file.suffix in (".so", ".pyd"):
                modules.add(top.split(".")[0])
        else:
            modules.add(top)
    return modules


def _tree_modules() -> set[str]:
    """The top-level modules of the ContentUri tree (SAM copies it as it is)."""
    found = set()
    for path in LAYER.iterdir():
        if path.name == "__pycache__":
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            found.add(path.name)
        elif path.suffix == ".py":
            found.add(path.stem)
    return found


@cache
def layer_modules() -> frozenset[str]:
    modules = _tree_modules()
    for name in _lock_pins():
        modules |= _top_level_modules(name)
    return frozenset(modules)


def test_the_layer_file_list_is_the_runtime_package_and_its_locked_dependencies() -> None:
    # The layer really is computed from the tree and the lock (so the next test can fail).
    expected = {"cliniko_connector", "boto3", "botocore", "pydantic", "requests", "aws_lambda_powertools"}
    assert expected <= layer_modules()
    tree_files = {p.name for p in LAYER.iterdir() if p.name != "__pycache__"}
    assert tree_files == {"cliniko_connector", "requirements.in", "requirements.txt", "Makefile"}


# --------------------------------------------------------------------------- how the layer is built


def _build_commands() -> str:
    """What `sam build` runs for the layer (its Makefile's target), printed by `make -n`, not run."""
    out = subprocess.run(
        ["make", "-n", "-C", str(LAYER), "build-ConnectorLayer", "ARTIFACTS_DIR=/artifacts", "PYTHON=python3.12"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.replace("\\\n", " ")


def test_the_template_builds_the_layer_with_its_makefile() -> None:
    layer = yaml.safe_load((ROOT / "template.yaml").read_text(encoding="utf-8"))["Resources"]["ConnectorLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["ContentUri"].rstrip("/") == LAYER.relative_to(ROOT).as_posix()


def test_the_layer_build_installs_exactly_the_lock_with_its_hashes_and_copies_only_the_package() -> None:
    commands = _build_commands()
    install = next(line for line in commands.splitlines() if " pip install " in line)
    for option in ("--require-hashes", "--no-deps", "--only-binary=:all:", "-r requirements.txt"):
        assert option in install
    assert '--target "/artifacts/python"' in install
    copies = [line for line in commands.splitlines() if "copytree" in line]
    assert len(copies) == 1 and "'cliniko_connector'" in copies[0] and "__pycache__" in copies[0]
    assert "-m compileall" in commands  # through `make bytecode`: the next test runs it


def test_the_layer_build_ships_bytecode_that_needs_no_source_timestamp(tmp_path: Path) -> None:
    # A read-only /opt: a module without its .pyc is compiled on every cold start. Hash-based .pyc files stay
    # valid whatever mtime the layer's zip gives the sources.
    site = tmp_path / "python"
    shutil.copytree(PACKAGE, site / "cliniko_connector", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        ["make", "-s", "-C", str(LAYER), "bytecode", f"ARTIFACTS_DIR={tmp_path}", f"PYTHON={sys.executable}"],
        check=True,
        capture_output=True,
    )
    sources = sorted(site.rglob("*.py"))
    assert sources
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        header = compiled.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER, source
        assert int.from_bytes(header[4:8], "little") == 0b01, f"{source}: not hash-based, unchecked"


def test_the_layer_holds_no_tools_test_or_dev_module() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev_and_tools = [Requirement(r).name for r in pyproject["project"]["optional-dependencies"]["dev"]]
    dev_and_tools += sorted(TOOLS_ONLY)
    forbidden = set(NON_RUNTIME_MODULES)
    for distribution in dev_and_tools:
        try:
            forbidden |= _top_level_modules(distribution)
        except AssertionError:
            continue  # stub-only or not installed: nothing of it can be in the layer through this environment
    # Shared with the runtime (moto needs boto3 too): only what the tools alone bring is forbidden.
    forbidden -= {m for name in _lock_pins() if name not in dev_and_tools for m in _top_level_modules(name)}
    forbidden |= NON_RUNTIME_MODULES
    assert not layer_modules() & forbidden


def test_the_lock_is_pinned_and_hashed_for_pip_require_hashes() -> None:
    pins = _lock_pins()
    assert pins
    for name, (version, hashes) in pins.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), name
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def _pyproject_runtime() -> dict[str, Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements if canonicalize_name(r.name) not in TOOLS_ONLY}


def test_requirements_in_is_pyprojects_runtime_dependencies() -> None:
    lines = [line.split("#", 1)[0].strip() for line in REQUIREMENTS_IN.read_text(encoding="utf-8").splitlines()]
    layer = {canonicalize_name(r.name): r for r in map(Requirement, filter(None, lines))}
    assert {n: str(r) for n, r in layer.items()} == {n: str(r) for n, r in _pyproject_runtime().items()}


def test_the_lock_covers_every_runtime_dependency_and_its_extras() -> None:
    pins = _lock_pins()
    for name, requirement in _pyproject_runtime().items():
        assert name in pins, f"{name} is a runtime dependency but not in the lock: run `make lock`"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), f"{name}=={pins[name][0]}"
        for extra in requirement.extras:
            for needed in map(Requirement, metadata.requires(name) or []):
                if needed.marker is not None and needed.marker.evaluate({"extra": extra}):
                    assert canonicalize_name(needed.name) in pins, f"{name}[{extra}] needs {needed.name}"
    # What the tools alone need stays out.
    assert not TOOLS_ONLY & set(pins)


# --------------------------------------------------------------------------- what the runtime imports


def _imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at any depth (a function's lazy import too), but not under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def _runtime_files() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), path
    for path in sorted((ROOT / "functions").glob("*/app.py")):
        yield f"functions/{path.parent.name}/app.py", path


def _outside_imports(allowed: set[str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for name, path in _runtime_files():
        for module in _imports(path):
            top = module.split(".")[0]
            if top not in allowed:
                found[(name, top)] = module
    return found


def test_the_runtime_imports_only_the_standard_library_itself_and_the_lock() -> None:
    allowed = set(sys.stdlib_module_names) | set(layer_modules())
    unexpected = {k: v for k, v in _outside_imports(allowed).items() if k not in KNOWN_NON_RUNTIME_IMPORTS}
    assert not unexpected, f"imports the layer can't satisfy (file, module): {sorted(unexpected)}"


def test_usecases_and_the_rest_of_the_runtime_import_nothing_from_moto_the_tools_or_yaml() -> None:
    forbidden = {"moto", "cliniko_tools", "yaml"}
    found = {k for k in _outside_imports(set(sys.stdlib_module_names) | {"cliniko_connector"}) if k[1] in forbidden}
    assert not found - KNOWN_NON_RUNTIME_IMPORTS.keys(), sorted(found - KNOWN_NON_RUNTIME_IMPORTS.keys())


def test_usecases_reach_aws_only_through_ports_no_sdk_import() -> None:
    """Use-cases speak to ports: the AWS SDK (and moto) stay in adapters/, at any depth of a use-case module."""
    sdk = {"boto3", "botocore", "moto"}
    found = {
        k
        for k in _outside_imports(set(sys.stdlib_module_names) | {"cliniko_connector"})
        if k[0].startswith("usecases/") and k[1] in sdk
    }
    assert any(name.startswith("usecases/") for name, _ in _runtime_files())
    assert not found - KNOWN_NON_RUNTIME_IMPORTS.keys(), sorted(found - KNOWN_NON_RUNTIME_IMPORTS.keys())


def test_known_exceptions_are_still_real() -> None:
    found = _outside_imports(set(sys.stdlib_module_names) | set(layer_modules()))
    stale = set(KNOWN_NON_RUNTIME_IMPORTS) - set(found)
    assert not stale, f"no longer imported, remove from KNOWN_NON_RUNTIME_IMPORTS: {sorted(stale)}"


def test_the_import_check_sees_lazy_imports_and_skips_type_checking_ones(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import moto\n"
        "def f():\n    from yaml import safe_load\n    import cliniko_tools.cli\n",
        encoding="utf-8",
    )
    assert set(_imports(module)) == {"typing", "yaml", "cliniko_tools.cli"}


def test_an_action_function_imports_its_own_input_model_and_no_other() -> None:
    import subprocess

    probe = (
        "import sys\n"
        "from cliniko_connector.catalog.actions import ACTIONS\n"
        "ACTIONS['patient.create'].input_model\n"
        "print(sorted(m for m in sys.modules if m.startswith('cliniko_connector.catalog.inputs.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["['cliniko_connector.catalog.inputs.base',", "'cliniko_connector.catalog.inputs.patients']"]


def test_the_lock_leaves_out_requests_character_detection() -> None:
    assert not LEFT_OUT_OF_THE_LOCK & set(_lock_pins())


def test_the_cliniko_client_loads_quietly_and_decodes_json_without_character_detection() -> None:
    # As in the layer: neither detection library importable, and any warning an error.
    probe = """
import sys, warnings

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("chardet", "charset_normalizer"):
            raise ImportError(name)

sys.meta_path.insert(0, Absent())
warnings.simplefilter("error")
from cliniko_connector.adapters import cliniko_http
import requests

assert requests.compat.chardet is None
answer = requests.models.Response()
answer.status_code, answer._content = 200, '{"first_name": "Zoë"}'.encode()
assert answer.json() == {"first_name": "Zoë"}
"""
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
