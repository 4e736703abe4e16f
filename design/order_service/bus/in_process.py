"""The Event Bus box, embedded: the relay's publisher, which only rings a doorbell.

Publishing runs no subscriber code. It tells each subscription worker that the store has moved
on (a `threading.Event`), and the worker then reads the events itself, after its own position
(`bus.subscription`). A broker (Kafka) plugs in at the same seam: any object with `publish`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol


class Publisher(Protocol):
    """Where the outbox relay publishes: the embedded bus here, a broker's producer later."""

    def publish(self, event: Mapping[str, Any], position: int) -> None:
        """Publish one event at its global position; return only once it is accepted."""


class Bus:
    """Wake every subscription on each publish; the event itself is read from the store.

    Examples:
        >>> woken = []
        >>> bus = Bus()
        >>> bus.subscribe("audit", lambda: woken.append("audit"))
        >>> bus.publish({"event_type": "OrderPlaced"}, 1)
        >>> woken, bus.head
        (['audit'], 1)
    """

    def __init__(self) -> None:
        self.subscribers: dict[str, Callable[[], None]] = {}
        self.head = 0
        """The highest position published so far."""

    def subscribe(self, name: str, wake: Callable[[], None]) -> None:
        """Add a subscription's wake-up call under a unique name; it must not block."""
        if name in self.subscribers:
            raise ValueError(f"a subscriber named {name!r} is already subscribed")
        self.subscribers[name] = wake

    def publish(self, event: Mapping[str, Any], position: int) -> None:
        """Note the new head and wake every subscription."""
        self.head = max(self.head, position)
        for wake in self.subscribers.values():
            wake()
