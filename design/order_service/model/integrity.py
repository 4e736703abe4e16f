"""What breaks an event stream's integrity: the errors `fold` and `evolve` raise.

They are about the stream, not the business: another order's event, a version that is not the
next one, an event type or schema version `fold` does not know, an event that is not well
formed. Business rules are `decide`'s; the history lint reports those. Standard library only.
"""

from __future__ import annotations

__all__ = [
    "FoldError",
    "ForeignOrder",
    "MalformedEvent",
    "UnknownEventType",
    "UnknownSchemaVersion",
    "VersionOutOfSequence",
]


class FoldError(ValueError):
    """An event that breaks the stream's integrity; names order, event id, version and rule."""

    def __init__(self, order_id: object, event_id: object, version: object, rule: str) -> None:
        super().__init__(f"order {order_id}, event {event_id} (version {version}): {rule}")
        self.order_id, self.event_id, self.version, self.rule = order_id, event_id, version, rule


class ForeignOrder(FoldError):
    """The event belongs to another order than the stream."""


class VersionOutOfSequence(FoldError):
    """The event's version is not the next one: a gap, a duplicate or out of order."""


class UnknownEventType(FoldError):
    """No such event type."""


class UnknownSchemaVersion(FoldError):
    """The schema version is not the current one (upcast old events first)."""


class MalformedEvent(FoldError):
    """A field is missing or of the wrong type; the event model refuses it at the boundary."""
