"""A side effect: tell the customer their order shipped (a subscriber, see `bus.subscription`).

It stands in for an e-mail gateway: each message is a row of `notifications` in the notifier's
own database, keyed by the event id and written in the same transaction as the notifier's
tracking record, so a message is sent once however often the event is read. A replay rebuilds
the read model without the subscribers, so no customer hears twice about an old parcel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from order_service.infra.database import backend_of

NOTIFIER = "shipping_notifier"
"""The notifier's name in `tracking` and `parked_events`."""


class ShippingNotifier:
    """Send one message per `OrderShipped` event."""

    name = NOTIFIER

    def __init__(self, conn: Any) -> None:
        """`conn`: the notifier's own database (`notifications.sql` is created there)."""
        self.conn = conn
        backend_of(conn).create(conn, "notifications")

    def apply(self, event: Mapping[str, Any], position: int) -> None:
        """Send the message for a shipped order; anything else is ignored."""
        if event["event_type"] != "OrderShipped":
            return
        data = event["data"]
        self.conn.execute(
            "INSERT INTO notifications (event_id, position, order_id, message) "
            "VALUES (?, ?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING",
            (
                event["event_id"],
                position,
                event["order_id"],
                f"order {event['order_id']} shipped with {data['carrier']}, "
                f"tracking number {data['tracking_number']}",
            ),
        )

    def sent(self) -> list[str]:
        """The messages sent so far, oldest first."""
        return [
            message
            for (message,) in self.conn.execute(
                "SELECT message FROM notifications ORDER BY position"
            )
        ]
