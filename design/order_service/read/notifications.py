"""A side effect on the bus: tell the customer their order shipped.

It stands in for an e-mail gateway: messages go to a list. It subscribes to the live bus
only; a replay rebuilds the read model without the bus, so no customer hears twice about an
old parcel. Under at-least-once delivery it ignores an event id it has handled already
(in memory here; a real gateway would keep those ids in its own store).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ShippingNotifier:
    """Send one message per `OrderShipped` event (a bus subscriber)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._handled: set[str] = set()

    def __call__(self, event: Mapping[str, Any], position: int) -> None:
        """Send the message for a shipped order; anything else is ignored."""
        if event["event_type"] != "OrderShipped" or event["event_id"] in self._handled:
            return
        self._handled.add(event["event_id"])
        data = event["data"]
        self.sent.append(
            f"order {event['order_id']} shipped with {data['carrier']}, "
            f"tracking number {data['tracking_number']}"
        )
