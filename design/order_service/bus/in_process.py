"""The Event Bus box: an in-process publish/subscribe, standing in for Kafka.

Handlers run synchronously, in subscription order. A handler that raises stops the publish
and the exception reaches the publisher (the outbox relay), which then does not mark the
event sent: it is delivered again on the next run. Nothing is swallowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Handler = Callable[[Mapping[str, Any], int], None]
"""A subscriber: called with the event envelope and its global position (Kafka's offset)."""


class Bus:
    """Deliver each published event to every subscriber.

    Examples:
        >>> seen = []
        >>> bus = Bus()
        >>> bus.subscribe("audit", lambda event, position: seen.append(position))
        >>> bus.publish({"event_type": "OrderPlaced"}, 1)
        >>> seen
        [1]
    """

    def __init__(self) -> None:
        self.subscribers: dict[str, Handler] = {}

    def subscribe(self, name: str, handler: Handler) -> None:
        """Add a handler under a unique name (the name shows in errors and on the page)."""
        if name in self.subscribers:
            raise ValueError(f"a subscriber named {name!r} is already subscribed")
        self.subscribers[name] = handler

    def publish(self, event: Mapping[str, Any], position: int) -> None:
        """Call every subscriber; the first exception propagates to the publisher."""
        for handler in self.subscribers.values():
            handler(event, position)
