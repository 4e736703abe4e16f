"""The history lint: each event replayed as the command that would have caused it, today.

`check_history(events)` folds the events with `evolve` and, before each one, asks `decide`
whether the command behind it (`OrderPaid` <- `PayOrder` with the same payment...) would be
allowed in the state reached so far. So every business rule is written once, in `decide`, and
a history today's rules refuse (ship before pay, pay another amount than the total, deliver
another parcel, add a line after payment) is reported, event by event. `evolve` never refuses
a fact, so the check goes on after a broken rule and reports every one; it stops only where
the stream itself breaks (a `FoldError`). Standard library only.

A linter for hand-written or imported streams, not a verdict on stored facts: events were
accepted under the rules of their day, and it assumes each came from exactly one command of
the same shape (not so for an event a policy or a timeout emits, or one of two events from
one command). `orders derive` folds first and prints its findings beside the state.

Examples:
    >>> from order_service.model.examples import EXAMPLE_STREAM
    >>> check_history(EXAMPLE_STREAM)
    []
    >>> placed, paid, shipped = EXAMPLE_STREAM
    >>> shipped_unpaid = {**shipped, "version": 2}
    >>> [problem] = check_history([placed, shipped_unpaid])
    >>> problem.version, problem.pointer, problem.rule
    (2, '/event_type', 'only a paid order ships; the order is placed')
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from order_service.model.decide import CommandRejected, decide
from order_service.model.fold import OrderState, evolve
from order_service.model.integrity import FoldError

__all__ = ["COMMAND_BEHIND", "HistoryProblem", "check_history"]

COMMAND_BEHIND = {
    "OrderPlaced": "PlaceOrder",
    "OrderItemAdded": "AddOrderItem",
    "OrderPaid": "PayOrder",
    "OrderShipped": "ShipOrder",
    "OrderDelivered": "DeliverOrder",
    "OrderCancelled": "CancelOrder",
    "OrderRefunded": "RefundOrder",
}
"""The command each event type is the outcome of; its fields are the event's `data`."""


@dataclass(frozen=True, slots=True)
class HistoryProblem:
    """One broken rule, with the event it is in.

    Attributes:
        index: The event's position in the history, from 0.
        event_id: The event's id (None if it has none).
        version: The event's version.
        pointer: JSON pointer (RFC 6901) into the event: the field that breaks the rule,
            `/event_type` when the event could not happen in the order's status, "" when
            the stream itself is broken.
        rule: The rule, in words.
    """

    index: int
    event_id: object
    version: object
    pointer: str
    rule: str

    def __str__(self) -> str:
        where = f"{self.pointer}: " if self.pointer else ""
        return f"event {self.event_id} (version {self.version}): {where}{self.rule}"


def _attributes(value: Any) -> Any:
    """JSON objects as objects read by attribute, as `decide` reads commands."""
    if isinstance(value, Mapping):
        return SimpleNamespace(**{key: _attributes(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_attributes(item) for item in value]
    return value


def _command_behind(event: Mapping[str, Any]) -> Any:
    metadata = event.get("metadata") or {}
    command = _attributes(event["data"])
    command.type = COMMAND_BEHIND[event["event_type"]]
    command.order_id = event["order_id"]
    command.command_id = metadata.get("causation_id") or event.get("event_id")
    command.correlation_id = metadata.get("correlation_id")
    return command


def check_history(
    events: Iterable[Mapping[str, Any]], state: OrderState | None = None
) -> list[HistoryProblem]:
    """Every rule the history breaks, in order; `[]` for a valid history.

    `events` are one order's events, oldest first, at their current schema version (upcast
    old ones first); `state` is the state they follow (None: they start the order).
    """
    problems: list[HistoryProblem] = []
    for index, event in enumerate(events):
        try:
            after = evolve(state, event)
        except FoldError as broken:  # the stream itself is broken: nothing after it folds
            problems.append(HistoryProblem(index, broken.event_id, broken.version, "", broken.rule))
            break
        event_id, version = event.get("event_id"), event["version"]
        try:
            decide(
                state,
                _command_behind(event),
                new_id=itertools.repeat(str(event_id)).__next__,  # the id is not compared
                now=event["occurred_at"],
            )
        except CommandRejected as rejected:
            pointer = f"/data{rejected.pointer}" if rejected.pointer else "/event_type"
            problems.append(HistoryProblem(index, event_id, version, pointer, rejected.rule))
        except (KeyError, AttributeError, TypeError, ValueError) as error:
            rule = f"malformed event: {error!r}"
            problems.append(HistoryProblem(index, event_id, version, "/data", rule))
        state = after
    return problems
