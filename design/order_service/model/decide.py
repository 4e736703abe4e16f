"""The decision: `decide(state, command) -> events`, where every business rule is written once.

This is Jérémie Chassaing's Decider pattern (see the link below): `decide` turns a command
and the current state into new events, or a rejection; `evolve` (in `order_service.model.fold`)
applies an event to a state and checks no rule; `None` is the initial state. `decide` does
not call `evolve`. It is pure: ids and the clock are passed in, so the same inputs always give
the same events. Commands are read by attribute (the pydantic models of
`order_service.model.commands`, or any object with the same attributes); the event model checks
each new event once, on its way into the store. Standard library only.

<https://thinkbeforecoding.com/post/2021/12/17/functional-event-sourcing-decider>

Examples:
    >>> from types import SimpleNamespace as Command
    >>> ids = iter(["00000000-0000-4000-8000-000000000001"])
    >>> price = Command(amount="79.99", currency="EUR")
    >>> [placed] = decide(None, Command(
    ...     type="PlaceOrder", order_id="1001", customer_id="C-0042",
    ...     command_id="00000000-0000-4000-8000-0000000000c1", correlation_id=None,
    ...     lines=[Command(sku="RETRO-CLOCK", quantity=1, unit_price=price)]),
    ...     new_id=lambda: next(ids), now="2026-11-02T09:15:00Z")
    >>> placed["event_type"], placed["version"], placed["metadata"]["causation_id"][-2:]
    ('OrderPlaced', 1, 'c1')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from order_service.model.fold import CURRENT_SCHEMA_VERSIONS, OrderState
from order_service.model.money import amount, cents

__all__ = ["COMMAND_BEHIND", "MAX_TOTAL_CENTS", "CommandRejected", "NoSuchOrder", "decide"]

COMMAND_BEHIND = {
    "OrderPlaced": "PlaceOrder",
    "OrderItemAdded": "AddOrderItem",
    "OrderPaid": "PayOrder",
    "OrderShipped": "ShipOrder",
    "OrderDelivered": "DeliverOrder",
    "OrderCancelled": "CancelOrder",
    "OrderRefunded": "RefundOrder",
}
"""The command each event type is the outcome of; its fields are the event's `data`.

The command classes read their `event` from here, and `history` replays an event as this command."""

MAX_TOTAL_CENTS = 9_999_999_999_99
"""The largest order total, 9999999999.99: the largest amount the contract lets a payment carry."""


class CommandRejected(ValueError):
    """The command is valid in form but not allowed now; nothing is appended.

    Attributes:
        order_id: The order the command was for.
        command: The command's type, e.g. "ShipOrder".
        rule: The rule it broke, in a few words.
        pointer: JSON pointer to the offending field of the command (the same path in the
            event's `data`), e.g. "/amount"; "" when the rule is about the order's status.
    """

    def __init__(self, order_id: str, command: str, rule: str, pointer: str = "") -> None:
        super().__init__(f"order {order_id}: {command} rejected: {rule}")
        self.order_id = order_id
        self.command = command
        self.rule = rule
        self.pointer = pointer


class NoSuchOrder(CommandRejected):
    """The command is for an order that has no events: the rule is "no such order"."""


def _line(line: Any) -> dict[str, Any]:
    price = line.unit_price
    return {
        "sku": line.sku,
        "quantity": line.quantity,
        "unit_price": {"amount": price.amount, "currency": price.currency},
    }


# --8<-- [start:line_rules]
def _check_lines(
    reject: Callable[[str, str], CommandRejected],
    state: OrderState | None,
    currency: str,
    lines: Iterable[tuple[str, dict[str, Any]]],
) -> None:
    """One currency per order, one price per SKU, a total that can still be paid."""
    prices = {} if state is None else {line.sku: line.unit_price for line in state.lines}
    total = 0 if state is None else cents(state.total)
    for pointer, line in lines:
        sku, price = line["sku"], line["unit_price"]
        if price["currency"] != currency:
            raise reject(
                f"{sku} is priced in {price['currency']}, the order is in {currency}",
                f"{pointer}/unit_price/currency",
            )
        known = prices.setdefault(sku, price["amount"])
        if known != price["amount"]:
            raise reject(
                f"{sku} is already ordered at {known}, not {price['amount']}",
                f"{pointer}/unit_price/amount",
            )
        total += cents(price["amount"]) * line["quantity"]
        if total > MAX_TOTAL_CENTS:
            raise reject(
                f"the total would exceed {amount(MAX_TOTAL_CENTS)}, the largest payable amount",
                f"{pointer}/quantity",
            )


# --8<-- [end:line_rules]


def _the_total(
    reject: Callable[[str, str], CommandRejected], state: OrderState, money: Any, done: str
) -> dict[str, str]:
    """A payment, or its refund, is the order's whole total, in its currency."""
    if (money.amount, money.currency) != (state.total, state.currency):
        raise reject(
            f"{done} {money.amount} {money.currency}, the total is {state.total} {state.currency}",
            "/amount/currency" if money.currency != state.currency else "/amount/amount",
        )
    return {"amount": money.amount, "currency": money.currency}


# --8<-- [start:rules]
def _decide(state: OrderState | None, command: Any) -> tuple[str, dict[str, Any]]:
    """The rules of an order's life, one branch per command: the new event's type and data."""
    name = command.type

    def reject(rule: str, pointer: str = "") -> CommandRejected:
        return CommandRejected(command.order_id, name, rule, pointer)

    if name == "PlaceOrder":
        if state is not None:
            raise reject("the order already exists")
        lines = [_line(line) for line in command.lines]
        currency = lines[0]["unit_price"]["currency"]
        _check_lines(
            reject, None, currency, ((f"/lines/{i}", line) for i, line in enumerate(lines))
        )
        return "OrderPlaced", {"customer_id": command.customer_id, "lines": lines}
    if state is None:
        raise NoSuchOrder(command.order_id, name, "no such order")
    status = state.status
    if status in ("delivered", "refunded") or (status == "cancelled" and name != "RefundOrder"):
        raise reject(f"the order is already {status}")
    if name == "AddOrderItem":
        if status != "placed":
            raise reject(f"lines can be added before payment only ({status})")
        line = _line(command.line)
        _check_lines(reject, state, state.currency, [("/line", line)])
        return "OrderItemAdded", {"line": line}
    if name == "PayOrder":
        if status != "placed":
            raise reject(f"the order is already {status}")
        amount = _the_total(reject, state, command.amount, "paid")
        return "OrderPaid", {"payment_id": command.payment_id, "amount": amount}
    if name == "ShipOrder":
        if status != "paid":
            raise reject(f"only a paid order ships; the order is {status}")
        return "OrderShipped", {
            "carrier": command.carrier,
            "tracking_number": command.tracking_number,
        }
    if name == "DeliverOrder":
        if status != "shipped":
            raise reject(f"only a shipped order is delivered ({status})")
        if command.tracking_number != state.tracking_number:
            raise reject(
                f"parcel {command.tracking_number} is not the one shipped "
                f"({state.tracking_number})",
                "/tracking_number",
            )
        return "OrderDelivered", {"tracking_number": command.tracking_number}
    if name == "CancelOrder":
        if status not in ("placed", "paid"):
            raise reject(f"a {status} order can no longer be cancelled")
        return "OrderCancelled", {"reason": command.reason}
    if name == "RefundOrder":
        if status != "cancelled":
            raise reject(f"only a cancelled order is refunded; the order is {status}")
        if state.payment_id is None:
            raise reject("the order was never paid: there is nothing to refund")
        amount = _the_total(reject, state, command.amount, "refunded")
        return "OrderRefunded", {"refund_id": command.refund_id, "amount": amount}
    raise TypeError(f"decide does not know the command {name!r}")


# --8<-- [end:rules]


# --8<-- [start:decide]
def decide(
    state: OrderState | None, command: Any, *, new_id: Callable[[], str], now: str
) -> list[dict[str, Any]]:
    """Return the events that carry out `command` on `state`, or raise `CommandRejected`.

    Args:
        state: the order as folded from its events; None if it has none.
        command: a command for that order (see `order_service.model.commands`), read by attribute.
        new_id: returns a fresh event id (a UUID string).
        now: the time the events occur at, RFC 3339 UTC.
    """
    if state is not None and state.order_id != command.order_id:
        raise ValueError(f"state of order {state.order_id} for a command to {command.order_id}")
    event_type, data = _decide(state, command)
    return [
        {
            "event_id": new_id(),
            "event_type": event_type,
            "schema_version": CURRENT_SCHEMA_VERSIONS[event_type],
            "order_id": command.order_id,
            "version": (0 if state is None else state.version) + 1,
            "occurred_at": now,
            "data": data,
            "metadata": {
                "correlation_id": command.correlation_id or command.command_id,
                "causation_id": command.command_id,
            },
        }
    ]


# --8<-- [end:decide]
