"""The package's folders are R2's boxes, and each box imports only what the diagram lets it.

Checked from the source (an AST walk of every module's imports), so a wrong import fails here
before it runs anywhere.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import order_service
import pytest

PACKAGE = Path(order_service.__file__).parent
MODULES = {
    info.name.removeprefix("order_service."): Path(
        info.module_finder.path,  # type: ignore[union-attr]  # a FileFinder for a folder
        info.name.rsplit(".", 1)[1] + ".py",
    )
    for info in pkgutil.walk_packages(order_service.__path__, "order_service.")
    if not info.ispkg
}
BOXES = ("model", "write", "bus", "read", "contract", "entrypoints", "infra")

# The model's modules that the playground runs in the browser: the standard library only.
BROWSER = {"fold", "integrity", "money", "decide", "history", "snapshots", "upcasting", "examples"}


def _imports(module: str) -> set[str]:
    """The `order_service` modules `module` imports, without the prefix."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name.removeprefix("order_service.") for name in names if name in _ALL}


_ALL = {f"order_service.{name}" for name in MODULES}


def test_every_module_lives_in_a_box_folder_but_the_composition_root():
    assert "model.fold" in MODULES and "write.store" in MODULES  # the walk finds the package
    loose = {name for name in MODULES if name.split(".")[0] not in BOXES}
    assert loose == {"app"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("model.")))
def test_the_model_imports_nothing_outside_the_model(module):
    outside = {name for name in _imports(module) if not name.startswith("model.")}
    assert outside == set(), f"{module} imports {sorted(outside)}"


@pytest.mark.parametrize("module", sorted(BROWSER))
def test_the_browser_modules_import_the_standard_library_and_each_other_only(module):
    tree = ast.parse(MODULES[f"model.{module}"].read_text(encoding="utf-8"))
    others = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            others.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            others.add(node.module.split(".")[0])
    others.discard("order_service")
    assert others <= sys.stdlib_module_names | {"__future__"}, sorted(others)
    ours = {name.removeprefix("model.") for name in _imports(f"model.{module}")}
    assert ours <= BROWSER, f"{module} imports {sorted(ours - BROWSER)}"


def test_the_queries_import_nothing_from_the_projector():
    assert "read.read_model" in _imports("read.queries")  # the walk sees what queries import
    assert "read.projections" not in _imports("read.queries")


@pytest.mark.parametrize("box", ["model", "write", "read", "contract", "infra", "bus"])
def test_no_box_imports_an_entry_point(box):
    for module in (m for m in MODULES if m.startswith(f"{box}.")):
        entry = {name for name in _imports(module) if name.startswith("entrypoints.")}
        assert entry == set(), f"{module} imports {sorted(entry)}"


def test_decide_does_not_call_evolve_or_fold():
    tree = ast.parse(MODULES["model.decide"].read_text(encoding="utf-8"))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
              for alias in node.names}  # fmt: skip
    assert "_decide" in names  # the walk sees the names the code uses
    assert not names & {"evolve", "fold"}


@pytest.mark.slow
def test_orders_validate_loads_the_model_and_the_contract_only(tmp_path):
    event = tmp_path / "event.json"
    event.write_text("{}", encoding="utf-8")
    modules = tmp_path / "modules.json"
    program = (
        "import json, pathlib, sys; from order_service.entrypoints.cli import main;"
        "status = main(['validate', sys.argv[1]]);"
        "pathlib.Path(sys.argv[2]).write_text(json.dumps(sorted(sys.modules)));"
        "sys.exit(status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, event, modules], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr  # it did validate, and found the empty event invalid
    assert "event.json" in done.stdout
    loaded = {
        name.removeprefix("order_service.")
        for name in json.loads(modules.read_text(encoding="utf-8"))
        if name.startswith("order_service.")
    }
    boxes = {name.split(".")[0] for name in loaded}
    assert "contract.validation" in loaded
    assert boxes <= {"model", "contract", "entrypoints"}, sorted(loaded)
    assert {name for name in loaded if name.startswith("entrypoints.")} == {"entrypoints.cli"}
