"""Builders of event envelopes for the unit tests: small, valid by default, easy to break."""

from __future__ import annotations

import copy
from typing import Any

CURRENCY = "EUR"


def money(amount: str, currency: str = CURRENCY) -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def line(sku: str = "RETRO-CLOCK", quantity: int = 1, price: str = "79.99") -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price": money(price)}


def envelope(
    version: int, event_type: str, data: dict[str, Any], *, order_id: str = "1001", schema: int = 1
) -> dict[str, Any]:
    event_id = f"00000000-0000-4000-8000-{int(order_id) * 1000 + version:012d}"
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": schema,
        "order_id": order_id,
        "version": version,
        "occurred_at": "2026-11-02T09:15:00Z",
        "data": data,
        "metadata": {"correlation_id": event_id, "causation_id": event_id},
    }


def placed(version: int = 1, *lines: dict[str, Any], order_id: str = "1001") -> dict[str, Any]:
    return envelope(
        version,
        "OrderPlaced",
        {"customer_id": "C-0042", "lines": list(lines) or [line()]},
        order_id=order_id,
        schema=2,
    )


def item_added(version: int, added: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return envelope(
        version, "OrderItemAdded", {"line": added or line("BRASS-KEY", 1, "24.99")}, **kw
    )


def paid(version: int, amount: str = "79.99", **kw: Any) -> dict[str, Any]:
    return envelope(version, "OrderPaid", {"payment_id": "PAY-1", "amount": money(amount)}, **kw)


def shipped(version: int, **kw: Any) -> dict[str, Any]:
    return envelope(version, "OrderShipped", {"carrier": "DHL", "tracking_number": "JD1"}, **kw)


def delivered(version: int, tracking: str = "JD1", **kw: Any) -> dict[str, Any]:
    return envelope(version, "OrderDelivered", {"tracking_number": tracking}, **kw)


def cancelled(version: int, **kw: Any) -> dict[str, Any]:
    return envelope(version, "OrderCancelled", {"reason": "customer_request"}, **kw)


def refunded(version: int, amount: str = "79.99", **kw: Any) -> dict[str, Any]:
    return envelope(version, "OrderRefunded", {"refund_id": "REF-1", "amount": money(amount)}, **kw)


def lifecycle(*steps: str) -> list[dict[str, Any]]:
    """Envelopes for step names, versions 1..n, e.g. lifecycle("placed", "paid", "shipped").

    Payments pay the running total, so the stream is valid whenever the steps are.
    """
    events: list[dict[str, Any]] = []
    total = 0  # cents; every payment pays the running total, even in an illegal stream
    for version, step in enumerate(steps, start=1):
        if step == "placed":
            events.append(placed(version))
            total += 7999
        elif step == "item_added":
            events.append(item_added(version))
            total += 2499
        elif step == "paid":
            events.append(paid(version, f"{total // 100}.{total % 100:02d}"))
        elif step == "refunded":
            events.append(refunded(version, f"{total // 100}.{total % 100:02d}"))
        else:
            events.append(
                {"shipped": shipped, "delivered": delivered, "cancelled": cancelled}[step](version)
            )
    return events


def deep(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return copy.deepcopy(events)
