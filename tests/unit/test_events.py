"""The event models accept the contract's envelopes and refuse what breaks it, field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from event_streams import paid, placed, shipped
from hypothesis import given, settings
from hypothesis import strategies as st
from order_service.contract.schemas import schema_file_name
from order_service.model.events import (
    CURRENT_SCHEMA_VERSIONS,
    EVENT_MODELS,
    canonical_event,
    parse_event,
)
from pydantic import ValidationError

IDS = "5d1b9a3e-2c4f-4a6b-8d7e-9f0a1b2c3d4e"
VALID = Path(__file__).resolve().parents[2] / "schemas" / "fixtures" / "valid"
ONE_OF_EACH = [  # the valid fixture of each current event type
    json.loads((VALID / schema_file_name(t, v).replace(".schema.json", ".json")).read_text("utf-8"))
    for t, v in CURRENT_SCHEMA_VERSIONS.items()
]


@pytest.mark.parametrize("payload", ONE_OF_EACH, ids=lambda p: p["event_type"])
def test_each_current_event_type_parses_and_dumps_back_to_the_same_json(payload):
    event = parse_event(payload)
    assert type(event) is EVENT_MODELS[(payload["event_type"], payload["schema_version"])]
    assert event.model_dump(mode="json") == payload


def test_every_event_type_has_a_model_and_order_placed_is_at_version_2():
    assert {event_type for event_type, _ in EVENT_MODELS} == set(CURRENT_SCHEMA_VERSIONS)
    assert next(iter(CURRENT_SCHEMA_VERSIONS)) == "OrderPlaced"
    assert CURRENT_SCHEMA_VERSIONS["OrderPlaced"] == 2
    assert ("OrderPlaced", 1) in EVENT_MODELS


def _errors(payload):
    with pytest.raises(ValidationError) as refusal:
        parse_event(payload)
    return {(tuple(str(p) for p in e["loc"][1:]), e["type"]) for e in refusal.value.errors()}


def test_money_as_a_float_is_refused():
    payload = paid(3, "104.98")
    payload["data"]["amount"]["amount"] = 104.98
    assert (("data", "amount", "amount"), "string_type") in _errors(payload)


def test_money_with_one_decimal_is_refused():
    payload = paid(3, "104.9")
    assert (("data", "amount", "amount"), "string_pattern_mismatch") in _errors(payload)


def test_a_timestamp_outside_utc_is_refused():
    payload = placed(1)
    payload["occurred_at"] = "2026-11-02T10:15:00+01:00"
    assert (("occurred_at",), "string_pattern_mismatch") in _errors(payload)


def test_a_date_that_is_not_in_the_calendar_is_refused():
    payload = placed(1)
    payload["occurred_at"] = "2026-02-30T10:15:00Z"
    assert (("occurred_at",), "value_error") in _errors(payload)


def test_an_extra_property_is_refused():
    payload = shipped(4)
    payload["data"]["shipping_address"] = "1 Main Street"
    assert (("data", "shipping_address"), "extra_forbidden") in _errors(payload)


def test_a_missing_event_type_is_refused_not_filled_in():
    payload = placed(1)
    del payload["event_type"]
    assert _errors(payload) == {((), "union_tag_invalid")}


def test_a_negative_quantity_is_refused():
    payload = placed(1)
    payload["data"]["lines"][0]["quantity"] = -1
    assert (("data", "lines", "0", "quantity"), "greater_than_equal") in _errors(payload)


def test_an_envelope_with_an_invalid_order_id_is_refused():
    payload = paid(2)
    payload["order_id"] = "#1001"
    assert (("order_id",), "string_pattern_mismatch") in _errors(payload)


def test_the_discriminator_is_required_in_every_model():
    for model in EVENT_MODELS.values():
        assert model.model_fields["event_type"].is_required()
        assert model.model_fields["schema_version"].is_required()


@pytest.mark.parametrize(
    "occurred_at",
    ["2026-11-02T09:15:00.5Z", "2026-11-02T09:15:00.000Z", "2026-11-02T09:15:00+00:00"],
    ids=["a fraction", "zero fraction", "an offset"],
)
def test_a_timestamp_has_one_spelling_per_instant_whole_seconds_in_utc(occurred_at):
    payload = paid(2)
    payload["occurred_at"] = occurred_at
    assert {loc for loc, _ in _errors(payload)} == {("occurred_at",)}


# canonical_event reads a nested model as a dict and a tuple as a list: its error names that.
_SAME_ERROR = {"model_type": "dict_type", "tuple_type": "list_type"}


def _errors_of(check, payload):
    """The place and kind of each error `check` raises on `payload` (none if it accepts it)."""
    try:
        check(payload)
    except ValidationError as refusal:
        return [(e["loc"], _SAME_ERROR.get(e["type"], e["type"])) for e in refusal.errors()]
    return []


def _assert_canonical_event_agrees_with_the_model(payload):
    errors = _errors_of(canonical_event, payload)
    model_errors = _errors_of(parse_event, payload)
    if not model_errors:
        assert canonical_event(payload) == parse_event(payload).model_dump(mode="json")
    # The same errors, in the same order; only a model's tuple of lines whose item is bad also
    # reports the tuple as too short, a list does not.
    assert errors == [e for e in model_errors if e in errors or e[1] != "too_short"], payload


def _broken_anywhere(payload, data):
    nodes = [((), payload)]
    for path, node in nodes:  # every place in the payload, breadth first
        if isinstance(node, dict):
            nodes.extend(((*path, key), child) for key, child in node.items())
        elif isinstance(node, list):
            nodes.extend(((*path, index), child) for index, child in enumerate(node))
    path, _ = data.draw(st.sampled_from(nodes[1:]), label="path")
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if data.draw(st.booleans(), label="delete") and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        values = [None, True, 1, 2, 2.0, 1.5, "", "x", "12.5", "2026-02-30T10:15:00Z", [], {}]
        parent[path[-1]] = data.draw(st.sampled_from(values), label="value")
    return payload


FIXTURES = sorted((Path(__file__).resolve().parents[2] / "schemas" / "fixtures").rglob("*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_canonical_event_is_the_model_dumped_to_json_with_the_same_errors(path):
    _assert_canonical_event_agrees_with_the_model(json.loads(path.read_text(encoding="utf-8")))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FIXTURES), st.data())
def test_canonical_event_and_the_model_agree_on_every_fixture_broken_anywhere(path, data):
    payload = json.loads(path.read_text(encoding="utf-8"))
    _assert_canonical_event_agrees_with_the_model(_broken_anywhere(payload, data))
