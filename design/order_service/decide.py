"""The decision: `decide(state, command) -> events`, pure.

Given the order's current state (None if it does not exist) and a command, return the new
events, or raise `CommandRejected` naming the order and the rule. Nothing is read or written
here: ids and the clock are passed in, so the same inputs always give the same events.

Examples:
    >>> from order_service.commands import PlaceOrder
    >>> ids = iter(["00000000-0000-4000-8000-000000000001"])
    >>> [placed] = decide(None, PlaceOrder(
    ...     order_id="1001", customer_id="C-0042",
    ...     command_id="00000000-0000-4000-8000-0000000000c1",
    ...     lines=[{"sku": "RETRO-CLOCK", "quantity": 1,
    ...             "unit_price": {"amount": "79.99", "currency": "EUR"}}]),
    ...     new_id=lambda: next(ids), now="2026-11-02T09:15:00Z")
    >>> placed["event_type"], placed["version"], placed["metadata"]["causation_id"][-2:]
    ('OrderPlaced', 1, 'c1')
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from order_service.commands import (
    AddOrderItem,
    CancelOrder,
    Command,
    DeliverOrder,
    PayOrder,
    PlaceOrder,
    ShipOrder,
)
from order_service.events import (
    OrderCancelledData,
    OrderDeliveredData,
    OrderItemAddedData,
    OrderLine,
    OrderPaidData,
    OrderPlacedData,
    OrderShippedData,
    new_event,
)
from order_service.reducer import OrderState, ReducerError, evolve

__all__ = ["CommandRejected", "decide"]


class CommandRejected(ValueError):
    """The command is valid in form but not allowed now; nothing is appended.

    Attributes:
        order_id: The order the command was for.
        command: The command's type, e.g. "ShipOrder".
        rule: The rule it broke, in a few words.
    """

    def __init__(self, order_id: str, command: str, rule: str) -> None:
        super().__init__(f"order {order_id}: {command} rejected: {rule}")
        self.order_id = order_id
        self.command = command
        self.rule = rule


def _check_line(state: OrderState, command: Command, line: OrderLine) -> None:
    price = line.unit_price
    if price.currency != state.currency:
        raise CommandRejected(
            state.order_id, command.type,
            f"{line.sku} is priced in {price.currency}, the order is in {state.currency}",
        )  # fmt: skip
    for known in state.lines:
        if known.sku == line.sku and known.unit_price != price.amount:
            raise CommandRejected(
                state.order_id, command.type,
                f"{line.sku} is already ordered at {known.unit_price}, not {price.amount}",
            )  # fmt: skip


def _data(state: OrderState | None, command: Command) -> BaseModel:
    """The rules of the order's life, one branch per command; returns the new event's data."""
    name = command.type
    if isinstance(command, PlaceOrder):
        if state is not None:
            raise CommandRejected(command.order_id, name, "the order already exists")
        currencies = {line.unit_price.currency for line in command.lines}
        if len(currencies) > 1:
            raise CommandRejected(
                command.order_id, name, f"lines in several currencies: {sorted(currencies)}"
            )
        return OrderPlacedData(customer_id=command.customer_id, lines=command.lines)
    if state is None:
        raise CommandRejected(command.order_id, name, "no such order")
    if state.status in ("delivered", "cancelled"):
        raise CommandRejected(state.order_id, name, f"the order is already {state.status}")
    if isinstance(command, AddOrderItem):
        if state.status != "placed":
            raise CommandRejected(
                state.order_id, name, f"lines can be added before payment only ({state.status})"
            )
        _check_line(state, command, command.line)
        return OrderItemAddedData(line=command.line)
    if isinstance(command, PayOrder):
        if state.status != "placed":
            raise CommandRejected(state.order_id, name, f"the order is already {state.status}")
        paid, total = command.amount, state.total
        if paid.currency != state.currency or Decimal(paid.amount) != Decimal(total):
            raise CommandRejected(
                state.order_id, name,
                f"paid {paid.amount} {paid.currency}, the total is {total} {state.currency}",
            )  # fmt: skip
        return OrderPaidData(payment_id=command.payment_id, amount=command.amount)
    if isinstance(command, ShipOrder):
        if state.status != "paid":
            raise CommandRejected(
                state.order_id, name, f"only a paid order ships; the order is {state.status}"
            )
        return OrderShippedData(carrier=command.carrier, tracking_number=command.tracking_number)
    if isinstance(command, DeliverOrder):
        if state.status != "shipped":
            raise CommandRejected(
                state.order_id, name, f"only a shipped order is delivered ({state.status})"
            )
        if command.tracking_number != state.tracking_number:
            raise CommandRejected(
                state.order_id, name,
                f"parcel {command.tracking_number} is not the one shipped "
                f"({state.tracking_number})",
            )  # fmt: skip
        return OrderDeliveredData(tracking_number=command.tracking_number)
    if isinstance(command, CancelOrder):
        if state.status not in ("placed", "paid"):
            raise CommandRejected(
                state.order_id, name, f"a {state.status} order can no longer be cancelled"
            )
        return OrderCancelledData(reason=command.reason)
    raise TypeError(f"decide does not know the command {command!r}")


# --8<-- [start:decide]
def decide(
    state: OrderState | None, command: Command, *, new_id: Callable[[], str], now: str
) -> list[dict[str, Any]]:
    """Return the events that carry out `command` on `state`, or raise `CommandRejected`.

    Args:
        state: the order as folded from its events; None if it has none.
        command: a validated command for that order.
        new_id: returns a fresh event id (a UUID string).
        now: the time the events occur at, RFC 3339 UTC.
    """
    if state is not None and state.order_id != command.order_id:
        raise ValueError(f"state of order {state.order_id} for a command to {command.order_id}")
    event = new_event(
        _data(state, command),
        order_id=command.order_id,
        version=(0 if state is None else state.version) + 1,
        occurred_at=now,
        event_id=new_id(),
        correlation_id=command.correlation_id or command.command_id,
        causation_id=command.command_id,
    )
    try:  # the reducer is the last word: decide never emits an event it would refuse
        evolve(state, event)
    except ReducerError as error:
        raise CommandRejected(command.order_id, command.type, error.rule) from None
    return [event]


# --8<-- [end:decide]
