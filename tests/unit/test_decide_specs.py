"""`decide` as specifications: given these events, when this command, then these events (or no).

Each test reads as one rule of an order's life. `spec` folds the given events, decides the
command, and compares the new events (type and data, at the next version, each valid for the
event model) or the rejection's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from event_streams import (
    cancelled,
    delivered,
    envelope,
    item_added,
    line,
    money,
    paid,
    placed,
    shipped,
)
from order_service.model.commands import parse_command
from order_service.model.decide import CommandRejected, decide
from order_service.model.events import parse_event
from order_service.model.fold import fold

NOW = "2026-11-02T09:15:00Z"


@dataclass(frozen=True)
class Rejected:
    """`then`: the command is rejected for this rule, and nothing happens."""

    rule: str


def spec(given: list[dict[str, Any]], when: dict[str, Any], then: list[tuple] | Rejected) -> None:
    """Given `given` (events), when `when` (a command payload), then `then`."""
    state = fold(given)
    command = parse_command({"order_id": "1001", **when})
    try:
        events = decide(state, command, new_id=lambda: "00000000-0000-4000-8000-0000000000ff",
                        now=NOW)  # fmt: skip
    except CommandRejected as rejected:
        assert then == Rejected(rejected.rule)
        return
    assert not isinstance(then, Rejected), f"expected {then}, got {events}"
    for event in events:
        parse_event(event)  # every event decided is valid for the event model
    assert [e["version"] for e in events] == list(range(len(given) + 1, len(given) + 1 + len(then)))
    assert [(e["event_type"], e["data"]) for e in events] == then


# --8<-- [start:specs]
def test_an_order_is_paid_when_the_payment_is_its_total():
    spec(
        given=[placed(1, line("RETRO-CLOCK", 2, "49.99"))],
        when={"type": "PayOrder", "payment_id": "PAY-1", "amount": money("99.98")},
        then=[("OrderPaid", {"payment_id": "PAY-1", "amount": money("99.98")})],
    )


def test_an_order_cannot_ship_before_it_is_paid():
    spec(
        given=[placed(1)],
        when={"type": "ShipOrder", "carrier": "DHL", "tracking_number": "JD1"},
        then=Rejected("only a paid order ships; the order is placed"),
    )


# --8<-- [end:specs]


def test_an_order_is_placed_with_its_lines():
    spec(
        given=[],
        when={"type": "PlaceOrder", "customer_id": "C-0042", "lines": [line()]},
        then=[("OrderPlaced", {"customer_id": "C-0042", "lines": [line()]})],
    )


def test_an_order_is_placed_once():
    spec(
        given=[placed(1)],
        when={"type": "PlaceOrder", "customer_id": "C-0042", "lines": [line()]},
        then=Rejected("the order already exists"),
    )


def test_a_payment_other_than_the_total_is_refused():
    spec(
        given=[placed(1), item_added(2)],
        when={"type": "PayOrder", "payment_id": "PAY-1", "amount": money("79.99")},
        then=Rejected("paid 79.99 EUR, the total is 104.98 EUR"),
    )


def test_a_line_is_added_before_payment():
    spec(
        given=[placed(1)],
        when={"type": "AddOrderItem", "line": line("BRASS-KEY", 2, "24.99")},
        then=[("OrderItemAdded", {"line": line("BRASS-KEY", 2, "24.99")})],
    )


def test_no_line_is_added_after_payment():
    spec(
        given=[placed(1), paid(2)],
        when={"type": "AddOrderItem", "line": line("BRASS-KEY")},
        then=Rejected("lines can be added before payment only (paid)"),
    )


def test_a_known_sku_keeps_its_price():
    spec(
        given=[placed(1)],
        when={"type": "AddOrderItem", "line": line("RETRO-CLOCK", 1, "69.99")},
        then=Rejected("RETRO-CLOCK is already ordered at 79.99, not 69.99"),
    )


def test_an_order_keeps_one_currency():
    spec(
        given=[placed(1)],
        when={
            "type": "AddOrderItem",
            "line": {**line("GLOBE"), "unit_price": money("1.00", "USD")},
        },
        then=Rejected("GLOBE is priced in USD, the order is in EUR"),
    )


def test_an_order_total_stays_payable():
    spec(
        given=[placed(1, line("GOLD-BAR", 1000, "9999999.99"))],
        when={"type": "AddOrderItem", "line": line("GOLD-BAR", 1, "9999999.99")},
        then=Rejected("the total would exceed 9999999999.99, the largest payable amount"),
    )


def test_a_paid_order_ships():
    spec(
        given=[placed(1), paid(2)],
        when={"type": "ShipOrder", "carrier": "DHL", "tracking_number": "JD1"},
        then=[("OrderShipped", {"carrier": "DHL", "tracking_number": "JD1"})],
    )


def test_the_parcel_shipped_is_the_one_delivered():
    spec(
        given=[placed(1), paid(2), shipped(3)],
        when={"type": "DeliverOrder", "tracking_number": "JD2"},
        then=Rejected("parcel JD2 is not the one shipped (JD1)"),
    )


def test_a_shipped_order_is_delivered():
    spec(
        given=[placed(1), paid(2), shipped(3)],
        when={"type": "DeliverOrder", "tracking_number": "JD1"},
        then=[("OrderDelivered", {"tracking_number": "JD1"})],
    )


def test_a_paid_order_can_be_cancelled():
    spec(
        given=[placed(1), paid(2)],
        when={"type": "CancelOrder", "reason": "out_of_stock"},
        then=[("OrderCancelled", {"reason": "out_of_stock"})],
    )


def test_a_shipped_order_cannot_be_cancelled():
    spec(
        given=[placed(1), paid(2), shipped(3)],
        when={"type": "CancelOrder", "reason": "customer_request"},
        then=Rejected("a shipped order can no longer be cancelled"),
    )


def test_nothing_happens_to_a_delivered_order():
    spec(
        given=[placed(1), paid(2), shipped(3), delivered(4)],
        when={"type": "CancelOrder", "reason": "customer_request"},
        then=Rejected("the order is already delivered"),
    )


def test_no_command_reaches_an_order_that_was_never_placed():
    spec(
        given=[],
        when={"type": "PayOrder", "payment_id": "PAY-1", "amount": money("1.00")},
        then=Rejected("no such order"),
    )


REFUND = {"type": "RefundOrder", "refund_id": "REF-1", "amount": money("79.99")}


def test_a_cancelled_order_that_was_paid_is_refunded_its_total():
    spec(
        given=[placed(1), paid(2), cancelled(3)],
        when=REFUND,
        then=[("OrderRefunded", {"refund_id": "REF-1", "amount": money("79.99")})],
    )


def test_a_refund_is_the_total_paid():
    spec(
        given=[placed(1), paid(2), cancelled(3)],
        when={**REFUND, "amount": money("10.00")},
        then=Rejected("refunded 10.00 EUR, the total is 79.99 EUR"),
    )


def test_an_order_cancelled_before_payment_has_nothing_to_refund():
    spec(
        given=[placed(1), cancelled(2)],
        when=REFUND,
        then=Rejected("the order was never paid: there is nothing to refund"),
    )


def test_a_paid_order_is_cancelled_before_it_is_refunded():
    spec(
        given=[placed(1), paid(2)],
        when=REFUND,
        then=Rejected("only a cancelled order is refunded; the order is paid"),
    )


def test_an_order_is_refunded_once():
    refunded = envelope(4, "OrderRefunded", {"refund_id": "REF-1", "amount": money("79.99")})
    spec(
        given=[placed(1), paid(2), cancelled(3), refunded],
        when=REFUND,
        then=Rejected("the order is already refunded"),
    )


def test_a_cancelled_order_takes_no_other_command():
    spec(
        given=[placed(1), paid(2), cancelled(3)],
        when={"type": "ShipOrder", "carrier": "DHL", "tracking_number": "JD1"},
        then=Rejected("the order is already cancelled"),
    )
