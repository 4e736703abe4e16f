"""Old OrderPlaced events are upcast to the current version; the stored event is untouched."""

from __future__ import annotations

import copy
from types import MappingProxyType

import pytest
from event_streams import paid, placed
from order_service.model.events import OrderPlaced, OrderPlacedV1
from order_service.model.fold import MalformedEvent, UnknownSchemaVersion, fold
from order_service.model.upcasting import upcast


def v1_placed() -> dict:
    event = placed(1)
    event["schema_version"] = 1
    event["data"] = {
        "customer_id": "C-0042",
        "currency": "EUR",
        "items": [
            {"sku": "RETRO-CLOCK", "qty": 1, "unit_price_cents": 7999},
            {"sku": "BRASS-KEY", "qty": 2, "unit_price_cents": 2499},
        ],
    }
    return event


def test_a_v1_order_placed_is_a_valid_v1_event():
    OrderPlacedV1.model_validate(v1_placed())


def test_upcasting_v1_gives_a_valid_v2_event_with_money_on_every_line():
    v2 = upcast(v1_placed())
    OrderPlaced.model_validate(v2)
    assert v2["data"]["lines"][1] == {
        "sku": "BRASS-KEY",
        "quantity": 2,
        "unit_price": {"amount": "24.99", "currency": "EUR"},
    }


def test_upcasting_leaves_the_stored_event_as_it_was():
    stored = v1_placed()
    pristine = copy.deepcopy(stored)
    upcast(stored)
    assert stored == pristine


def test_a_current_event_is_returned_as_is_without_a_copy():
    event = placed(1)
    assert upcast(event) is event


def test_a_v1_stream_folds_after_upcasting_to_the_same_state_as_v2():
    v1_stream = [v1_placed(), paid(2, "129.97")]
    v2_stream = [placed(1, *upcast(v1_placed())["data"]["lines"]), paid(2, "129.97")]
    assert fold(map(upcast, v1_stream)) == fold(v2_stream)
    assert fold(map(upcast, v1_stream)).total == "129.97"


def test_a_schema_version_from_the_future_is_refused():
    event = dict(placed(1), schema_version=3)
    with pytest.raises(UnknownSchemaVersion, match="OrderPlaced schema version 3 is unknown"):
        upcast(event)


def test_a_malformed_v1_event_is_refused_as_malformed():
    event = v1_placed()
    del event["data"]["currency"]
    with pytest.raises(MalformedEvent, match="cannot be upcast"):
        upcast(event)


def test_an_unknown_event_type_is_left_for_the_reducer_to_refuse():
    event = {"event_type": "OrderTeleported", "schema_version": 1}
    assert upcast(event) is event


def test_something_that_is_not_an_envelope_is_left_for_the_reducer_to_refuse():
    assert upcast(["not", "an", "event"]) == ["not", "an", "event"]  # type: ignore[arg-type]


def test_an_old_event_in_a_mapping_that_is_not_a_dict_is_upcast_too():
    assert upcast(MappingProxyType(v1_placed())) == upcast(v1_placed())
