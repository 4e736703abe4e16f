"""Builders of commands, ids and clocks for the integration tests: valid by default."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from order_service.model.commands import (
    AddOrderItem,
    CancelOrder,
    DeliverOrder,
    PayOrder,
    PlaceOrder,
    ShipOrder,
)

TRACKING = "JD014600006281230704"


def money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def line(sku: str = "RETRO-CLOCK", quantity: int = 1, amount: str = "79.99") -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price": money(amount)}


def place(order_id: str = "1001", customer_id: str = "C-0042", *lines: dict) -> PlaceOrder:
    return PlaceOrder(order_id=order_id, customer_id=customer_id, lines=list(lines) or [line()])


def add(order_id: str, sku: str = "BRASS-KEY", quantity: int = 1, amount: str = "24.99"):
    return AddOrderItem(order_id=order_id, line=line(sku, quantity, amount))


def pay(order_id: str, amount: str = "79.99") -> PayOrder:
    return PayOrder(order_id=order_id, payment_id=f"PAY-{order_id}", amount=money(amount))


def ship(order_id: str, tracking: str = TRACKING) -> ShipOrder:
    return ShipOrder(order_id=order_id, carrier="DHL", tracking_number=tracking)


def deliver(order_id: str, tracking: str = TRACKING) -> DeliverOrder:
    return DeliverOrder(order_id=order_id, tracking_number=tracking)


def cancel(order_id: str, reason: str = "customer_request") -> CancelOrder:
    return CancelOrder(order_id=order_id, reason=reason)


class TickingClock:
    """Each call is one minute after the previous one, from 2026-11-02T09:15:00Z."""

    def __init__(self, start: datetime = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)) -> None:
        self.next = start

    def __call__(self) -> str:
        now, self.next = self.next, self.next + timedelta(minutes=1)
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def counting_ids(prefix: str = "00000000"):
    """Event ids 00000000-0000-4000-8000-000000000001, ...: repeatable runs."""
    counter = itertools.count(1)
    return lambda: f"{prefix}-0000-4000-8000-{next(counter):012d}"
