"""The Event Bus box, embedded: the relay's publisher, which only rings a doorbell.

Publishing runs no subscriber code. It tells each subscription worker that the store has moved
on (a `threading.Event`), and the worker then reads the events itself, after its own position
(`bus.subscription`). A broker (Kafka) plugs in at the same seam: any object with `publish`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol


class Publisher(Protocol):
    """Where the outbox relay publishes: the embedded bus here, a broker's producer later."""

    def publish(self, event: Mapping[str, Any], position: int) -> None:
        """Publish one event at its global position; return only once it is accepted."""


def publish_in_order(
    publisher: Publisher, events: Sequence[tuple[int, Mapping[str, Any]]]
) -> tuple[int, Exception | None]:
    """Publish `events` in order; return how many of the first were accepted, and the failure.

    A publisher with a `publish_batch` method (a broker's producer) gets the whole batch, so it
    waits for the acknowledgements once; any other gets one `publish` call per event.
    """
    batch = getattr(publisher, "publish_batch", None)
    if batch is not None:
        published: tuple[int, Exception | None] = batch(events)
        return published
    for count, (position, event) in enumerate(events):
        try:
            publisher.publish(event, position)
        except Exception as error:  # the publisher's failure, whatever it is: the rest waits
            return count, error
    return len(events), None


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
