"""decide(state, command) -> events: the rules of an order's life, checked without a database."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from order_service.model.commands import (
    AddOrderItem,
    CancelOrder,
    DeliverOrder,
    InvalidCommand,
    PayOrder,
    PlaceOrder,
    ShipOrder,
    parse_command,
)
from order_service.model.decide import CommandRejected, NoSuchOrder, decide
from order_service.model.events import parse_event
from order_service.model.fold import evolve
from pydantic import ValidationError

NOW = "2026-11-02T09:15:00Z"
COMMAND_ID = "c0000000-0000-4000-8000-000000000001"


def line(sku: str = "RETRO-CLOCK", quantity: int = 1, amount: str = "79.99", currency="EUR"):
    return {
        "sku": sku,
        "quantity": quantity,
        "unit_price": {"amount": amount, "currency": currency},
    }


def ids():
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def run(state, command):
    """Decide, then fold the events into the state, as the handler would."""
    for event in decide(state, command, new_id=ids(), now=NOW):
        state = evolve(state, event)
    return state


PLACE = PlaceOrder(
    order_id="1001", customer_id="C-0042", command_id=COMMAND_ID,
    lines=[line(), line("BRASS-KEY", 2, "24.99")],
)  # fmt: skip
PAY = PayOrder(
    order_id="1001", payment_id="PAY-7731", amount={"amount": "129.97", "currency": "EUR"}
)
SHIP = ShipOrder(order_id="1001", carrier="DHL", tracking_number="JD014600006281230704")
DELIVER = DeliverOrder(order_id="1001", tracking_number="JD014600006281230704")


@pytest.fixture
def placed():
    return run(None, PLACE)


@pytest.fixture
def paid(placed):
    return run(placed, PAY)


@pytest.fixture
def shipped(paid):
    return run(paid, SHIP)


def test_placing_an_order_emits_one_valid_order_placed_event_caused_by_the_command():
    [event] = decide(None, PLACE, new_id=ids(), now=NOW)
    parse_event(event)  # valid against the event model
    assert event["event_type"] == "OrderPlaced"
    assert event["version"] == 1
    assert event["occurred_at"] == NOW
    assert event["event_id"] == "00000000-0000-4000-8000-000000000001"
    assert event["metadata"] == {"correlation_id": COMMAND_ID, "causation_id": COMMAND_ID}
    assert event["data"]["customer_id"] == "C-0042"


def test_decide_is_pure_the_same_inputs_give_the_same_events_and_the_state_is_unchanged(placed):
    before = placed.to_dict()
    first = decide(placed, PAY, new_id=ids(), now=NOW)
    second = decide(placed, PAY, new_id=ids(), now=NOW)
    assert first == second
    assert placed.to_dict() == before


def test_the_next_event_takes_the_version_after_the_state(paid):
    [event] = decide(paid, SHIP, new_id=ids(), now=NOW)
    assert (event["event_type"], event["version"]) == ("OrderShipped", 3)


def test_a_whole_life_placed_item_added_paid_shipped_delivered_ends_delivered(placed):
    state = run(placed, AddOrderItem(order_id="1001", line=line("BRASS-KEY", 1, "24.99")))
    assert state.total == "154.96"
    pay = PayOrder(
        order_id="1001", payment_id="PAY-1", amount={"amount": "154.96", "currency": "EUR"}
    )
    state = run(run(run(state, pay), SHIP), DELIVER)
    assert (state.status, state.version) == ("delivered", 5)


@pytest.mark.parametrize(
    ("state_name", "command", "rule"),
    [
        ("none", PAY, "no such order"),
        ("placed", PLACE, "the order already exists"),
        ("placed", SHIP, "only a paid order ships; the order is placed"),
        ("placed", DELIVER, "only a shipped order is delivered (placed)"),
        ("paid", PAY, "the order is already paid"),
        ("paid", AddOrderItem(order_id="1001", line=line()),
         "lines can be added before payment only (paid)"),
        ("shipped", CancelOrder(order_id="1001", reason="customer_request"),
         "a shipped order can no longer be cancelled"),
        ("delivered", CancelOrder(order_id="1001", reason="customer_request"),
         "the order is already delivered"),
        ("cancelled", PAY, "the order is already cancelled"),
    ],
)  # fmt: skip
def test_a_command_out_of_turn_is_rejected_naming_the_order_and_the_rule(
    state_name, command, rule, placed, paid, shipped
):
    states = {
        "none": None,
        "placed": placed,
        "paid": paid,
        "shipped": shipped,
        "delivered": run(shipped, DELIVER),
        "cancelled": run(placed, CancelOrder(order_id="1001", reason="out_of_stock")),
    }
    with pytest.raises(CommandRejected) as rejected:
        decide(states[state_name], command, new_id=ids(), now=NOW)
    assert rejected.value.rule == rule
    assert str(rejected.value) == f"order 1001: {command.type} rejected: {rule}"


@pytest.mark.parametrize(
    "command", [PAY, SHIP, DELIVER, AddOrderItem(order_id="1001", line=line())]
)
def test_a_command_for_an_order_with_no_events_raises_no_such_order(command):
    # Typed, so a caller (the HTTP API's 404) needs no second look at the store.
    with pytest.raises(NoSuchOrder) as rejected:
        decide(None, command, new_id=ids(), now=NOW)
    assert isinstance(rejected.value, CommandRejected)
    assert (rejected.value.order_id, rejected.value.rule) == ("1001", "no such order")


def test_an_order_that_exists_is_not_no_such_order(placed):
    with pytest.raises(CommandRejected) as rejected:
        decide(placed, PLACE, new_id=ids(), now=NOW)
    assert not isinstance(rejected.value, NoSuchOrder)


def test_paying_an_amount_other_than_the_total_is_rejected(placed):
    short = PayOrder(
        order_id="1001", payment_id="PAY-1", amount={"amount": "129.96", "currency": "EUR"}
    )
    with pytest.raises(CommandRejected, match=r"paid 129\.96 EUR, the total is 129\.97 EUR"):
        decide(placed, short, new_id=ids(), now=NOW)


def test_paying_the_total_in_another_currency_is_rejected(placed):
    usd = PayOrder(
        order_id="1001", payment_id="PAY-1", amount={"amount": "129.97", "currency": "USD"}
    )
    with pytest.raises(CommandRejected, match=r"paid 129\.97 USD"):
        decide(placed, usd, new_id=ids(), now=NOW)


def test_a_line_in_another_currency_is_rejected(placed):
    add = AddOrderItem(order_id="1001", line=line("GLOBE", 1, "10.00", "USD"))
    with pytest.raises(CommandRejected, match="GLOBE is priced in USD, the order is in EUR"):
        decide(placed, add, new_id=ids(), now=NOW)


def test_an_order_placed_in_two_currencies_is_refused_by_the_command_model():
    # The event model's rule, on the event's own `lines` type: the command never reaches decide.
    with pytest.raises(ValidationError) as refused:
        PlaceOrder(
            order_id="7", customer_id="C-7", lines=[line(), line("GLOBE", 1, "10.00", "USD")]
        )
    [error] = refused.value.errors()
    assert (error["loc"], error["type"]) == (("lines",), "one_currency")
    assert "line 1 is priced in USD, line 0 in EUR" in error["msg"]


def test_decide_still_rejects_an_order_placed_in_two_currencies_read_by_attribute():
    # What `check_history` hands decide for a stored event: no command model on the way.
    def price(amount, currency):
        return SimpleNamespace(amount=amount, currency=currency)

    mixed = SimpleNamespace(
        type="PlaceOrder", order_id="7", customer_id="C-7", command_id=COMMAND_ID,
        correlation_id=None, lines=[
            SimpleNamespace(sku="RETRO-CLOCK", quantity=1, unit_price=price("79.99", "EUR")),
            SimpleNamespace(sku="GLOBE", quantity=1, unit_price=price("10.00", "USD")),
        ],
    )  # fmt: skip
    with pytest.raises(CommandRejected, match="GLOBE is priced in USD, the order is in EUR") as no:
        decide(None, mixed, new_id=ids(), now=NOW)
    assert no.value.pointer == "/lines/1/unit_price/currency"


def test_a_sku_already_ordered_at_another_price_is_rejected(placed):
    add = AddOrderItem(order_id="1001", line=line("RETRO-CLOCK", 1, "69.99"))
    with pytest.raises(
        CommandRejected, match=r"RETRO-CLOCK is already ordered at 79\.99, not 69\.99"
    ):
        decide(placed, add, new_id=ids(), now=NOW)


def test_delivering_a_parcel_other_than_the_one_shipped_is_rejected(shipped):
    wrong = DeliverOrder(order_id="1001", tracking_number="OTHER-PARCEL")
    with pytest.raises(CommandRejected, match="parcel OTHER-PARCEL is not the one shipped"):
        decide(shipped, wrong, new_id=ids(), now=NOW)


def test_a_state_of_another_order_is_refused(placed):
    with pytest.raises(ValueError, match="state of order 1001 for a command to 1002"):
        decide(placed, PayOrder(order_id="1002", payment_id="P", amount=PAY.amount), new_id=ids(),
               now=NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"type": "PayOrder", "order_id": "1001", "payment_id": "PAY-1",
          "amount": {"amount": 129.97, "currency": "EUR"}}, "PayOrder/amount/amount"),
        ({"type": "PlaceOrder", "order_id": "1001", "customer_id": "C-1", "lines": []},
         "PlaceOrder/lines"),
        ({"type": "ShipOrder", "order_id": "#1001", "carrier": "DHL", "tracking_number": "X"},
         "ShipOrder/order_id"),
        ({"type": "ShipOrder", "order_id": "1001", "carrier": "DHL"}, "ShipOrder/tracking_number"),
        ({"type": "TeleportOrder", "order_id": "1001"}, "(root)"),
        ({"type": "CancelOrder", "order_id": "1001", "reason": "bored"}, "CancelOrder/reason"),
        ({"type": "AddOrderItem", "order_id": "1001", "line": {"sku": "RETRO-CLOCK",
          "quantity": -1, "unit_price": {"amount": "1.00", "currency": "EUR"}}},
         "AddOrderItem/line/quantity"),
    ],
)  # fmt: skip
def test_a_malformed_command_is_refused_with_the_field_that_is_wrong(payload, where):
    with pytest.raises(InvalidCommand) as refused:
        parse_command(payload)
    assert f"{where}: " in str(refused.value)
