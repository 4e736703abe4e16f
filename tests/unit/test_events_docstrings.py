"""The examples in the docstrings run, as they are shown in the API reference.

Every module of the package is collected; each one whose source shows an example (`>>>`)
must have all of its examples found by doctest and passing.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from importlib.resources import files

import order_service
import pytest

MODULES = sorted(
    f"order_service.{module.name}" for module in pkgutil.iter_modules(order_service.__path__)
)
# Modules the design pages present through their examples: they must keep having some.
MUST_HAVE_EXAMPLES = {"order_service.decide", "order_service.events", "order_service.commands"}


def _example_lines(module_name: str) -> int:
    source = files("order_service").joinpath(module_name.rsplit(".", 1)[1] + ".py").read_text()
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
