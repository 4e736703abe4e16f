"""One contract, three readers that agree: `orders validate`, the event model, `orders derive`.

Payloads are drawn from the valid fixtures with one field replaced by a value from the edge of
the contract (2.0, true, "2", a fractional or offset timestamp...). For each, the three verdicts
must be the same.
"""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from order_service.contract.validation import validate_event
from order_service.entrypoints.cli import EXIT_OK, main
from order_service.model.events import parse_event
from pydantic import ValidationError

VALID = Path(__file__).resolve().parents[2] / "schemas" / "fixtures" / "valid"
# OrderPlaced starts a stream: derive's verdict on it alone is about the event, not a history.
FIRST_EVENTS = [json.loads((VALID / name).read_text("utf-8"))
                for name in ("order-placed.v1.json", "order-placed.v2.json")]  # fmt: skip

EDGE = (
    [1, 2, 0, -1, 2.0, 1.0, 1.5, True, False, None, "1", "2", 1000, 1001, 10**12,
     "2026-11-02T09:15:00Z", "2026-11-02T09:15:00.5Z", "2026-11-02T09:15:00.000Z",
     "2026-11-02T09:15:00+00:00", "2026-11-02T24:00:00Z", "2026-02-30T09:15:00Z",
     "12.50", "12.5", "012.50", 12.5, "EUR", "eur"]
)  # fmt: skip
EDGE_VALUES = st.sampled_from(EDGE)


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


@st.composite
def edge_events(draw):
    event = copy.deepcopy(draw(st.sampled_from(FIRST_EVENTS)))
    path = draw(st.sampled_from(sorted(_paths(event), key=str)))
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = draw(EDGE_VALUES)
    return event


def _exit(command: str, payload) -> int:
    original, sys.stdin = sys.stdin, io.StringIO(json.dumps(payload))
    try:
        return main([command, "-"], io.StringIO(), io.StringIO())
    finally:
        sys.stdin = original


def _model_accepts(payload) -> bool:
    try:
        parse_event(payload)
    except ValidationError:
        return False
    return True


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(edge_events())
def test_validate_the_event_model_and_derive_give_one_verdict(payload):
    schema = validate_event(payload) == []
    assert schema == _model_accepts(payload), payload
    assert (_exit("validate", payload) == EXIT_OK) == schema
    if payload["version"] == 1 or not schema:  # alone, a valid event at version 2 is a gap
        assert (_exit("derive", payload) == EXIT_OK) == schema, payload


def test_the_edge_values_include_the_ones_that_once_split_the_verdicts():
    for value in (2.0, True, "2026-11-02T09:15:00.5Z"):
        assert any(type(edge) is type(value) and edge == value for edge in EDGE)
