"""The event models accept the contract's envelopes and refuse what breaks it, field by field."""

from __future__ import annotations

import pytest
from event_streams import cancelled, delivered, item_added, paid, placed, shipped
from order_service.events import (
    CURRENT_SCHEMA_VERSIONS,
    EVENT_MODELS,
    EVENT_TYPES,
    Money,
    OrderLine,
    OrderPaidData,
    OrderPlaced,
    OrderPlacedData,
    new_event,
    parse_event,
)
from pydantic import ValidationError

IDS = "5d1b9a3e-2c4f-4a6b-8d7e-9f0a1b2c3d4e"
ONE_OF_EACH = [placed(1), item_added(2), paid(3, "104.98"), shipped(4), delivered(5), cancelled(4)]


@pytest.mark.parametrize("payload", ONE_OF_EACH, ids=lambda p: p["event_type"])
def test_each_current_event_type_parses_and_dumps_back_to_the_same_json(payload):
    event = parse_event(payload)
    assert type(event) is EVENT_MODELS[(payload["event_type"], payload["schema_version"])]
    assert event.model_dump(mode="json") == payload


def test_the_event_types_are_the_lifecycle_with_order_placed_at_version_2():
    assert EVENT_TYPES == (
        "OrderPlaced",
        "OrderItemAdded",
        "OrderPaid",
        "OrderShipped",
        "OrderDelivered",
        "OrderCancelled",
    )
    assert CURRENT_SCHEMA_VERSIONS["OrderPlaced"] == 2
    assert ("OrderPlaced", 1) in EVENT_MODELS


def test_events_are_frozen():
    event = parse_event(placed(1))
    with pytest.raises(ValidationError, match="frozen"):
        event.version = 2  # type: ignore[misc]


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


def test_new_event_wraps_data_with_its_type_and_version():
    data = OrderPlacedData(
        customer_id="C-0042",
        lines=(
            OrderLine(
                sku="RETRO-CLOCK", quantity=1, unit_price=Money(amount="79.99", currency="EUR")
            ),
        ),
    )
    event = new_event(data, order_id="1001", version=1, correlation_id=IDS, causation_id=IDS,
                      occurred_at="2026-11-02T09:15:00Z", event_id=IDS)  # fmt: skip
    assert (event["event_type"], event["schema_version"]) == ("OrderPlaced", 2)
    assert OrderPlaced.model_validate(event).data == data
    assert (event["occurred_at"], event["event_id"]) == ("2026-11-02T09:15:00Z", IDS)


def test_new_event_refuses_an_invalid_envelope():
    data = OrderPaidData(payment_id="PAY-1", amount=Money(amount="1.00", currency="EUR"))
    with pytest.raises(ValidationError, match="order_id"):
        new_event(data, order_id="#1001", version=1, correlation_id=IDS, causation_id=IDS,
                  occurred_at="2026-11-02T09:15:00Z", event_id=IDS)  # fmt: skip


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
    with pytest.raises(ValidationError, match="occurred_at"):
        new_event(
            OrderPaidData(payment_id="PAY-1", amount=Money(amount="1.00", currency="EUR")),
            order_id="1001", version=2, correlation_id=IDS, causation_id=IDS,
            occurred_at=occurred_at, event_id=IDS,
        )  # fmt: skip
