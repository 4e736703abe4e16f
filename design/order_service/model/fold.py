"""An order's state is a left fold of its events: `evolve` applies one, `fold` applies them all.

`evolve` applies a fact and checks no business rule (those are `decide`'s), so a rule tightened
tomorrow never makes yesterday's orders unloadable; it refuses only what breaks the stream
(`order_service.model.integrity`). Events are envelope dicts; standard library only.

    >>> from order_service.model.examples import EXAMPLE_STREAM
    >>> state = fold(EXAMPLE_STREAM)
    >>> state.status, state.version, state.total
    ('shipped', 3, '99.98')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from order_service.model.integrity import (  # the errors a stream can break, re-exported here
    FoldError,  # noqa: F401
    ForeignOrder,
    MalformedEvent,
    UnknownEventType,
    UnknownSchemaVersion,
    VersionOutOfSequence,
)
from order_service.model.money import AMOUNT, amount, cents

CURRENT_SCHEMA_VERSIONS = dict(  # the schema version evolve applies; older ones are upcast first
    OrderPlaced=2, OrderItemAdded=1, OrderPaid=1, OrderShipped=1, OrderDelivered=1,
    OrderCancelled=1, OrderRefunded=1,
)  # fmt: skip
STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")
"""An order's statuses; `delivered`, `refunded` and an unpaid `cancelled` are final."""


class Line(NamedTuple):
    """One line of the order: a SKU, its quantity and its unit price (in the order's currency)."""

    sku: str
    quantity: int
    unit_price: str


@dataclass(frozen=True, slots=True)
class OrderState:
    """What an order is after its events. Amounts are decimal strings, e.g. "129.97"."""

    order_id: str
    version: int
    status: str  # one of STATUSES
    customer_id: str
    currency: str
    lines: tuple[Line, ...]
    total: str
    payment_id: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    cancellation_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The state as a JSON-ready dict, money as `{"amount", "currency"}` objects."""
        state = {name: getattr(self, name) for name in self.__slots__}
        money = state.pop("currency")  # the other keys keep their order, two replaced below
        state["lines"] = [
            {"sku": sku, "quantity": quantity, "unit_price": {"amount": price, "currency": money}}
            for sku, quantity, price in self.lines
        ]
        state["total"] = {"amount": self.total, "currency": money}
        return state


def _add_line(order: dict[str, Any], line: Mapping[str, Any]) -> None:
    sku, quantity, price = line["sku"], line["quantity"], line["unit_price"]["amount"]
    if type(quantity) is not int or not AMOUNT.fullmatch(price):
        raise TypeError(f"line {sku}: quantity must be an integer, unit price a decimal string")
    known = order["lines"].get(sku)  # a SKU ordered again adds to its line, at its first price
    if known:
        quantity, price = known[0] + quantity, known[1]
    order["lines"][sku] = (quantity, price)  # the working form: `Line`s are made once, frozen


def _apply(order: dict[str, Any], kind: str, data: Mapping[str, Any]) -> None:
    if kind == "OrderPlaced":
        order.update(customer_id=data["customer_id"], lines={}, status="placed")
        order["currency"] = data["lines"][0]["unit_price"]["currency"]
        for line in data["lines"]:
            _add_line(order, line)
    elif kind == "OrderItemAdded":
        _add_line(order, data["line"])
    elif kind == "OrderPaid":
        order.update(payment_id=data["payment_id"], status="paid")
    elif kind == "OrderShipped":
        order.update(carrier=data["carrier"], tracking_number=data["tracking_number"])
        order["status"] = "shipped"
    elif kind == "OrderDelivered":
        order["status"] = "delivered"
    elif kind == "OrderCancelled":
        order.update(cancellation_reason=data["reason"], status="cancelled")
    elif kind == "OrderRefunded":
        order["status"] = "refunded"
    else:  # an event type in CURRENT_SCHEMA_VERSIONS that has no branch above
        raise NotImplementedError(f"evolve has no branch for {kind}")


def _step(order: dict[str, Any] | None, event: Any) -> dict[str, Any]:
    try:
        event_id, version, kind = event["event_id"], event["version"], event["event_type"]
        order_id, schema, data = event["order_id"], event["schema_version"], event["data"]
    except (KeyError, TypeError) as error:  # a field missing, or not an object at all
        rule = f"malformed event: {type(error).__name__} {error}"
        raise MalformedEvent(order and order["order_id"], None, None, rule) from None
    if order is not None and order_id != order["order_id"]:
        rule = f"event belongs to order {order_id}, not {order['order_id']}"
        raise ForeignOrder(order["order_id"], event_id, version, rule)
    expected = 1 if order is None else order["version"] + 1
    if type(version) is not int or version != expected:  # True == 1 and 2.0 == 2, not in JSON
        rule = f"expected version {expected}, got {version!r} (a gap, duplicate or reordering)"
        raise VersionOutOfSequence(order_id, event_id, version, rule)
    if kind not in CURRENT_SCHEMA_VERSIONS:
        raise UnknownEventType(order_id, event_id, version, f"unknown event type {kind!r}")
    if type(schema) is not int or schema != CURRENT_SCHEMA_VERSIONS[kind]:
        rule = f"{kind} schema version {schema!r} is not the current one; upcast it first"
        raise UnknownSchemaVersion(order_id, event_id, version, rule)
    order = order or _thawed(OrderState(order_id, 0, "", "", "", (), "0.00"))
    try:
        _apply(order, kind, data)
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        raise MalformedEvent(order_id, event_id, version, f"malformed event: {error}") from None
    order["version"] = version
    return order


def _frozen(order: dict[str, Any]) -> OrderState:
    lines = tuple(Line(sku, quantity, price) for sku, (quantity, price) in order["lines"].items())
    total = amount(sum(cents(line.unit_price) * line.quantity for line in lines))
    return OrderState(**{**order, "lines": lines, "total": total})


def _thawed(state: OrderState) -> dict[str, Any]:
    order = {name: getattr(state, name) for name in OrderState.__slots__ if name != "total"}
    return {**order, "lines": {sku: (quantity, price) for sku, quantity, price in state.lines}}


def evolve(state: OrderState | None, event: Mapping[str, Any]) -> OrderState:
    """The state after `event` (`state` is None before the first event, and is not changed)."""
    return _frozen(_step(None if state is None else _thawed(state), event))


def fold(events: Iterable[Mapping[str, Any]], state: OrderState | None = None) -> OrderState | None:
    """Fold events, oldest first, onto `state` (None: from the start); None if there are none."""
    order = None if state is None else _thawed(state)
    for event in events:
        order = _step(order, event)
    return None if order is None else _frozen(order)
