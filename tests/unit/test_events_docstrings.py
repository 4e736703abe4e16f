"""The examples in the docstrings run, as they are shown in the API reference.

The event model's modules, and the pipeline's modules that have examples (bus, commands, decide).
"""

from __future__ import annotations

import doctest
import importlib

import pytest

# Examples (>>> lines) per module; adding or removing one means updating this table.
EXPECTED_EXAMPLES = {
    "order_service.events": 4,
    "order_service.reducer": 13,
    "order_service.upcasting": 5,
    "order_service.schemas": 3,
    "order_service.validation": 3,
    "order_service.bus": 5,
    "order_service.commands": 2,
    "order_service.decide": 4,
    "order_service.derivation": 4,
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED_EXAMPLES))
def test_the_docstring_examples_of_the_module_run_and_are_all_counted(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
    assert result.attempted == EXPECTED_EXAMPLES[module_name]
