"""A command's limits are its event's, and the event model owns the rule across lines.

`PlaceOrder.lines` is `OrderPlacedData.lines`' type: 1 to 100 lines, every unit price in one
currency. The currency rule spans lines, which no JSON Schema states: the schema accepts a
mixed order, the model (`parse_event`, `canonical_event`) and `orders validate` refuse it.
"""

from __future__ import annotations

import io
import json
import sys

import pytest
from order_service.contract.validation import event_problems, validate_event
from order_service.entrypoints.cli import main
from order_service.model.commands import InvalidCommand, PlaceOrder, parse_command
from order_service.model.events import OrderPlacedData, canonical_event, parse_event
from order_service.model.examples import EXAMPLE_STREAM
from pydantic import ValidationError


def lines(count: int, currency: str = "EUR") -> list[dict]:
    price = {"amount": "1.00", "currency": currency}
    return [{"sku": f"SKU-{n}", "quantity": 1, "unit_price": price} for n in range(count)]


def placed(order_lines: list[dict]) -> dict:
    first = EXAMPLE_STREAM[0]
    return {**first, "data": {**first["data"], "lines": order_lines}}


MIXED = lines(1) + lines(1, "USD")


def test_place_orders_lines_are_the_events_lines_limits_and_all():
    command = PlaceOrder.model_json_schema()["properties"]["lines"]
    event = OrderPlacedData.model_json_schema()["properties"]["lines"]
    assert {**command, "description": ""} == {**event, "description": ""}
    assert (command["minItems"], command["maxItems"]) == (1, 100)
    assert (
        PlaceOrder.model_fields["lines"].metadata == OrderPlacedData.model_fields["lines"].metadata
    )


@pytest.mark.parametrize(("count", "valid"), [(0, False), (1, True), (100, True), (101, False)])
def test_a_place_order_takes_1_to_100_lines_as_the_event_does(count, valid):
    payload = {"type": "PlaceOrder", "order_id": "7", "customer_id": "C-7", "lines": lines(count)}
    if valid:
        assert len(parse_command(payload).lines) == count
        assert canonical_event(placed(lines(count)))["data"]["lines"] == lines(count)
    else:
        with pytest.raises(InvalidCommand, match="lines: "):
            parse_command(payload)
        with pytest.raises(ValidationError):
            canonical_event(placed(lines(count)))


def test_a_place_order_in_two_currencies_is_refused_naming_the_lines():
    payload = {"type": "PlaceOrder", "order_id": "7", "customer_id": "C-7", "lines": MIXED}
    with pytest.raises(InvalidCommand, match="lines: every unit price of an order is in one"):
        parse_command(payload)


@pytest.mark.parametrize("check", [parse_event, canonical_event], ids=lambda f: f.__name__)
def test_the_event_model_refuses_an_order_placed_in_two_currencies_at_data_lines(check):
    with pytest.raises(ValidationError) as refused:
        check(placed(MIXED))
    [error] = refused.value.errors()
    assert (error["loc"][1:], error["type"]) == (("data", "lines"), "one_currency")
    assert error["msg"].endswith("line 1 is priced in USD, line 0 in EUR")


def test_the_schema_cannot_state_one_currency_and_orders_validate_reports_it_from_the_model():
    assert validate_event(placed(MIXED)) == []  # the JSON Schema alone lets it through
    [problem] = event_problems(placed(MIXED))
    assert (problem.pointer, problem.keyword) == ("/data/lines", "one_currency")
    original, stdout = sys.stdin, io.StringIO()
    sys.stdin = io.StringIO(json.dumps(placed(MIXED)))
    try:
        status = main(["validate", "-"], stdout, io.StringIO())
    finally:
        sys.stdin = original
    assert status == 1
    assert "/data/lines: every unit price of an order is in one currency" in stdout.getvalue()
