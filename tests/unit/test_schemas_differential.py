"""Differential: what a schema accepts, its model accepts; what a model refuses, its schema refuses.

Payloads come from hypothesis-jsonschema (generated from each committed schema file), then
some are broken at a random place; schema and model must agree on every one of them, but for
one named rule no JSON Schema can state: an order's unit prices are in one currency
(`CROSS_FIELD_RULES`). Mixed currencies are not excluded from the generator: a payload the
schema accepts may be refused by the model for that rule alone, and then its lines must
really be in two currencies (`_model_verdict` checks it).

Timestamps are drawn by `DATE_TIMES`, not hypothesis-jsonschema's `date-time` strategy alone:
see its docstring (alone, it made each case slow and ran few of its examples).
"""

from __future__ import annotations

import json
import re
import warnings
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning
from hypothesis_jsonschema import from_schema
from hypothesis_jsonschema._from_schema import STRING_FORMATS
from order_service.contract.schemas import schema_file_name
from order_service.model.events import EVENT_MODELS
from pydantic import ValidationError

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CASES = sorted(EVENT_MODELS, key=lambda key: schema_file_name(*key))
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""`filter_too_much` stays on: a generator that throws most payloads away fails, not slows."""
ODD_VALUES = st.sampled_from(
    [None, True, 0, -1, 2.0, 1.5, "", "x", "12.5", "2026-11-02T09:15:00+01:00", [], {}]
)


def _schema(key):
    return json.loads((SCHEMAS / schema_file_name(*key)).read_text(encoding="utf-8"))


_LIBRARY_DATE_TIMES = STRING_FORMATS["date-time"]
DATE_TIMES = st.one_of(
    _LIBRARY_DATE_TIMES.map(lambda text: re.sub(r"\.[0-9]+", "", text)), _LIBRARY_DATE_TIMES
)
"""hypothesis-jsonschema's `date-time` strings, half of them with the fraction of a second
dropped: the same set of strings (the library also draws whole seconds), drawn differently.

Alone, the library draws a fraction of a second 12 times in 13 and an offset other than `Z`
half the time, and keeps what matches the field's pattern (UTC, whole seconds): about 1 draw
in 26. Hypothesis retries a filter 3 times and then throws the whole payload away, so a case
ran 3 or 4 of its 25 examples in 26 s of CPU. Here the pattern keeps about 1 draw in 3, and a
schema whose pattern let an offset or a fraction through is still caught. The pattern filter
and jsonschema's format check still apply to every draw."""


@cache
def payloads(key):
    """The strategy for payloads of `key`'s committed schema, built once per process."""
    with warnings.catch_warnings():
        # hypothesis-jsonschema warns that it is told to override a standard format: it is.
        warnings.filterwarnings("ignore", "Overriding standard format", HypothesisWarning)
        return from_schema(_schema(key), custom_formats={"date-time": DATE_TIMES})


CROSS_FIELD_RULES = {"one_currency"}
"""The model's rules across fields, which a JSON Schema cannot state (`contract.validation`)."""


def _mixed_currencies(payload) -> bool:
    lines = payload["data"]["lines"]
    return len({line["unit_price"]["currency"] for line in lines}) > 1


def _model_verdict(validate, payload) -> bool:
    """The model's verdict on what a schema can state: a refusal for a cross-field rule alone
    counts as acceptance, after checking that the payload does break that rule."""
    try:
        validate(payload)
    except ValidationError as error:
        if {item["type"] for item in error.errors()} <= CROSS_FIELD_RULES:
            assert _mixed_currencies(payload), payload
            return True
        return False
    return True


def _model_accepts(key, payload) -> bool:
    return _model_verdict(EVENT_MODELS[key].model_validate, payload)


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


@pytest.mark.slow
@pytest.mark.parametrize("key", CASES, ids=[schema_file_name(*k) for k in CASES])
def test_payloads_generated_from_the_schema_are_accepted_by_the_model(key):
    @SETTINGS
    @given(payloads(key))
    def check(payload):
        assert _model_accepts(key, payload), payload

    check()
