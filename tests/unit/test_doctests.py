"""The examples in the docstrings run, as they are shown in the API reference.

Every module of the package is collected; each one whose source shows an example (`>>>`)
must have all of its examples found by doctest and passing.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import order_service
import pytest

MODULES = sorted(
    module.name
    for module in pkgutil.walk_packages(order_service.__path__, "order_service.")
    if not module.ispkg
)
# Modules the design pages present through their examples: they must keep having some.
MUST_HAVE_EXAMPLES = {
    "order_service.model.decide",
    "order_service.model.events",
    "order_service.model.commands",
}


def _example_lines(module_name: str) -> int:
    source = Path(importlib.util.find_spec(module_name).origin).read_text(encoding="utf-8")
    return sum(line.lstrip().startswith(">>> ") for line in source.splitlines())


def test_the_collector_finds_the_modules_of_the_package():
    assert set(MODULES) >= MUST_HAVE_EXAMPLES
    for name in MUST_HAVE_EXAMPLES:
        assert _example_lines(name) > 0, f"{name} shows no example any more"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_docstring_example_of_the_module_runs(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
    # Each `>>>` line in the source is one example doctest must have run: none hidden or lost.
    assert result.attempted == _example_lines(module_name)
