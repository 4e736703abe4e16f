"""Differential, second half: payloads broken anywhere are judged alike by schema and model.

Split from `test_schemas_differential.py` (whose helpers and docstring it shares) so that the
two slowest hypothesis files run on different xdist workers.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from order_service.contract.schemas import schema_file_name
from order_service.contract.validation import validator_for
from order_service.model.events import parse_event
from test_schemas_differential import (
    CASES,
    ODD_VALUES,
    SCHEMAS,
    SETTINGS,
    _model_accepts,
    _model_verdict,
    _paths,
    _schema,
    payloads,
)


@pytest.mark.slow
@pytest.mark.parametrize("key", CASES, ids=[schema_file_name(*k) for k in CASES])
def test_a_payload_broken_anywhere_is_judged_alike_by_schema_and_model(key):
    schema = _schema(key)
    validator = validator_for(schema)

    @SETTINGS
    @given(payloads(key), st.data())
    def check(payload, data):
        broken = copy.deepcopy(payload)
        path = data.draw(st.sampled_from(list(_paths(broken))[1:]), label="path")
        parent = broken
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans(), label="delete") and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(ODD_VALUES, label="value")
        schema_accepts = validator.is_valid(broken)
        assert _model_accepts(key, broken) == schema_accepts, broken

    check()


FIXTURES = sorted((SCHEMAS / "fixtures").rglob("*.json"))


@pytest.mark.slow
def test_any_event_schema_and_parse_event_agree_on_every_fixture_broken_anywhere():
    validator = validator_for(json.loads((SCHEMAS / "order-event.schema.json").read_text()))
    assert {path.parent.name for path in FIXTURES} == {"valid", "invalid"}

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(FIXTURES), st.data())
    def check(path, data):
        broken = json.loads(path.read_text(encoding="utf-8"))
        where = data.draw(st.sampled_from(list(_paths(broken))[1:]), label="path")
        parent = broken
        for step in where[:-1]:
            parent = parent[step]
        if data.draw(st.booleans(), label="delete") and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = data.draw(ODD_VALUES | st.sampled_from([1, 2, 3]), label="value")
        assert _model_verdict(parse_event, broken) == validator.is_valid(broken), broken

    check()
