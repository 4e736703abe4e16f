"""The measured order: placed, N-3 lines added, paid, shipped; deterministic ids and times.

Every contender stores and rebuilds this same order, so they must all derive the same
summary (version, status, total, line count); the benchmark checks that after each timed run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

CURRENCY = "EUR"
PLACED_LINE: dict[str, Any] = {
    "sku": "RETRO-CLOCK",
    "quantity": 1,
    "unit_price": {"amount": "9.99", "currency": CURRENCY},
}
ADDED_PRICE = "2.50"
DISTINCT_SKUS = 100
"""Added lines cycle through 100 SKUs: the order's state stays the size of a real basket."""

_NAMESPACE = uuid.UUID("5d1f3c2a-9b7e-4e21-8c4f-0a6b2d9e7f13")
_START = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)


def added_line(index: int) -> dict[str, Any]:
    """The line of the `index`-th OrderItemAdded (0-based)."""
    return {
        "sku": f"SKU-{index % DISTINCT_SKUS:03d}",
        "quantity": 1 + index % 3,
        "unit_price": {"amount": ADDED_PRICE, "currency": CURRENCY},
    }


def total(n_events: int) -> Decimal:
    """The order total after all its lines."""
    added: Decimal = sum(
        Decimal(ADDED_PRICE) * added_line(i)["quantity"] for i in range(n_events - 3)
    )
    return Decimal(PLACED_LINE["unit_price"]["amount"]) + added


def expected_summary(n_events: int) -> dict[str, Any]:
    """What every contender must derive for an order of `n_events` events."""
    return {
        "version": n_events,
        "status": "shipped",
        "total": f"{total(n_events):.2f}",
        "lines": 1 + min(n_events - 3, DISTINCT_SKUS),
    }


def _id(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(map(str, parts))))


def envelope(
    order_id: str, version: int, event_type: str, data: dict[str, Any], *, schema_version: int = 1
) -> dict[str, Any]:
    """One event of the contract, with ids and a time derived from (order, version)."""
    return {
        "event_id": _id(order_id, version),
        "event_type": event_type,
        "schema_version": schema_version,
        "order_id": order_id,
        "version": version,
        "occurred_at": (_START + timedelta(seconds=version)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
        "metadata": {
            "correlation_id": _id(order_id, "request"),
            "causation_id": _id(order_id, version, "cause"),
        },
    }


def order_events(order_id: str, n_events: int) -> list[dict[str, Any]]:
    """The envelopes: OrderPlaced, `n_events` - 3 OrderItemAdded, OrderPaid, OrderShipped."""
    if n_events < 4:
        raise ValueError(f"an order of this workload has at least 4 events, not {n_events}")
    events = [
        envelope(
            order_id,
            1,
            "OrderPlaced",
            {"customer_id": "C-42", "lines": [PLACED_LINE]},
            schema_version=2,
        )
    ]
    events += [
        envelope(order_id, 2 + i, "OrderItemAdded", {"line": added_line(i)})
        for i in range(n_events - 3)
    ]
    amount = {"amount": f"{total(n_events):.2f}", "currency": CURRENCY}
    events.append(
        envelope(order_id, n_events - 1, "OrderPaid", {"payment_id": "PAY-7731", "amount": amount})
    )
    events.append(
        envelope(
            order_id, n_events, "OrderShipped", {"carrier": "DHL", "tracking_number": "TRACK-0001"}
        )
    )
    return events
