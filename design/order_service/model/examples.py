"""A small stream for the docstring examples: order 7, placed, paid and shipped.

Order #1001's events live on the R5 page, their one source; this is not a copy of them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXAMPLE_STREAM"]


def _example_event(
    version: int, event_type: str, schema_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    ids = f"00000000-0000-4000-8000-{version:012d}"
    return {
        "event_id": ids,
        "event_type": event_type,
        "schema_version": schema_version,
        "order_id": "7",
        "version": version,
        "occurred_at": f"2026-11-0{version}T10:00:00Z",
        "data": data,
        "metadata": {"correlation_id": ids, "causation_id": ids},
    }


_LINE = {"sku": "RETRO-CLOCK", "quantity": 2, "unit_price": {"amount": "49.99", "currency": "EUR"}}

EXAMPLE_STREAM: list[dict[str, Any]] = [
    _example_event(1, "OrderPlaced", 2, {"customer_id": "C-7", "lines": [_LINE]}),
    _example_event(
        2, "OrderPaid", 1, {"payment_id": "PAY-7", "amount": {"amount": "99.98", "currency": "EUR"}}
    ),
    _example_event(3, "OrderShipped", 1, {"carrier": "DHL", "tracking_number": "JD7"}),
]
"""Order 7: placed (two RETRO-CLOCKs at 49.99 EUR), paid 99.98 EUR, shipped with DHL."""
