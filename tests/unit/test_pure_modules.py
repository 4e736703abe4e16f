"""The Decider's modules import the standard library only, so they also run in a browser (Pyodide).

Checked from the source of each module and of every `order_service` module it imports.
"""

from __future__ import annotations

import ast
import sys
from importlib.resources import files

import pytest

PURE = ("fold", "integrity", "decide", "history", "snapshots", "upcasting", "examples", "clock")


def _imports(module: str) -> set[str]:
    tree = ast.parse(files("order_service").joinpath(f"{module}.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_the_module_imports_the_standard_library_and_pure_modules_only(module):
    imported = _imports(module)
    ours = {name.removeprefix("order_service.") for name in imported if name.startswith("order_")}
    others = {name.split(".")[0] for name in imported if not name.startswith("order_")}
    assert ours <= set(PURE), f"{module} imports {sorted(ours - set(PURE))}"
    assert others <= sys.stdlib_module_names | {"__future__"}, sorted(others)


def test_decide_does_not_call_evolve_or_fold():
    tree = ast.parse(files("order_service").joinpath("decide.py").read_text(encoding="utf-8"))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
              for alias in node.names}  # fmt: skip
    assert "_decide" in names  # the walk sees the names the code uses
    assert not names & {"evolve", "fold"}
