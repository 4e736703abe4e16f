"""Snapshots: an order's state saved at a version, so a load folds only the events after it.

A snapshot is a cache. It is trusted only if this reducer made it (`REDUCER_VERSION`); any
other is discarded with a WARNING and the stream is replayed from the start, so dropping
every snapshot changes no result. Standard library only.

Examples:
    >>> from order_service.model.examples import EXAMPLE_STREAM
    >>> from order_service.model.fold import fold
    >>> snapshot = take_snapshot(fold(EXAMPLE_STREAM[:2]))
    >>> snapshot.version, snapshot.reducer_version, snapshot.state["status"]
    (2, 1, 'paid')
    >>> resume(snapshot, EXAMPLE_STREAM[2:]) == fold(EXAMPLE_STREAM)
    True
    >>> resume(snapshot, EXAMPLE_STREAM) == fold(EXAMPLE_STREAM)  # the prefix is skipped
    True
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from order_service.model.fold import (
    AMOUNT,
    ForeignOrder,
    Line,
    OrderState,
    VersionOutOfSequence,
    fold,
)
from order_service.model.integrity import FoldError

__all__ = [
    "REDUCER_VERSION",
    "STATUSES",
    "Snapshot",
    "SnapshotRejected",
    "resume",
    "state_from_dict",
    "take_snapshot",
]

log = logging.getLogger(__name__)

REDUCER_VERSION = 1
"""Version of `evolve` and of `OrderState`'s shape; bump it when either changes meaning.

A snapshot made by another version is not trusted: `resume` discards it and replays."""

STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")
"""An order's statuses; `delivered`, `refunded` and an unpaid `cancelled` are final."""


class SnapshotRejected(FoldError):
    """The snapshot does not describe a state this reducer can resume from."""


_STATE_KEYS = (
    "order_id", "version", "status", "customer_id", "lines", "total",
    "payment_id", "carrier", "tracking_number", "cancellation_reason",
)  # fmt: skip


def state_from_dict(state: Mapping[str, Any]) -> OrderState:
    """Rebuild a state from `OrderState.to_dict()`; raises `SnapshotRejected` if it does not fit.

    Examples:
        >>> from order_service.model.examples import EXAMPLE_STREAM
        >>> from order_service.model.fold import fold
        >>> state = fold(EXAMPLE_STREAM)
        >>> state_from_dict(state.to_dict()) == state
        True
    """
    order_id = state.get("order_id") if isinstance(state, Mapping) else None
    version = state.get("version") if isinstance(state, Mapping) else None
    try:
        if set(state) != set(_STATE_KEYS):
            raise ValueError(f"keys must be exactly {sorted(_STATE_KEYS)}")
        currency = state["total"]["currency"]
        lines = []
        cents = 0
        for line in state["lines"]:  # a hundred lines or so: each check is inline
            sku, quantity, price = line["sku"], line["quantity"], line["unit_price"]
            amount = price["amount"]
            if price["currency"] != currency:
                raise ValueError("every amount must be in the order's currency")
            if type(quantity) is not int or quantity < 1:
                raise ValueError(f"quantity of {sku} must be a positive integer")
            if type(amount) is not str or not AMOUNT.fullmatch(amount):
                raise ValueError(f"amount {amount!r} is not a decimal string with two decimals")
            cents += int(amount.replace(".", "")) * quantity
            lines.append(Line(sku, quantity, amount))
        result = OrderState(
            order_id=state["order_id"],
            version=state["version"],
            status=state["status"],
            customer_id=state["customer_id"],
            currency=currency,
            lines=tuple(lines),
            total=state["total"]["amount"],
            payment_id=state["payment_id"],
            carrier=state["carrier"],
            tracking_number=state["tracking_number"],
            cancellation_reason=state["cancellation_reason"],
        )
        if result.status not in STATUSES:
            raise ValueError(f"unknown status {result.status!r}")
        if type(result.version) is not int or result.version < 1:
            raise ValueError("version must be an integer >= 1")
        if f"{cents // 100}.{cents % 100:02d}" != result.total:
            raise ValueError("total is not the sum of the lines")
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SnapshotRejected(order_id, None, version, f"unusable state: {error}") from None
    return result


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A state saved at a version, so a long stream need not be replayed from the start.

    Attributes:
        order_id: The order.
        version: The version of the last event folded into `state`.
        reducer_version: The `REDUCER_VERSION` that produced it; another one is not trusted.
        state: `OrderState.to_dict()` (JSON), kept as data so that a snapshot of an older
            shape can still be read, and then discarded.
    """

    order_id: str
    version: int
    reducer_version: int
    state: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as a JSON-ready dict."""
        return {
            "order_id": self.order_id,
            "version": self.version,
            "reducer_version": self.reducer_version,
            "state": dict(self.state),
        }

    @classmethod
    def from_dict(cls, snapshot: Mapping[str, Any]) -> Snapshot:
        """Read a snapshot from JSON; raises `SnapshotRejected` if a field is missing or wrong."""
        if not isinstance(snapshot, Mapping):
            raise SnapshotRejected(None, None, None, "a snapshot must be a JSON object")
        missing = [
            key
            for key in ("order_id", "version", "reducer_version", "state")
            if key not in snapshot
        ]
        order_id, version = snapshot.get("order_id"), snapshot.get("version")
        if missing:
            raise SnapshotRejected(order_id, None, version, f"snapshot lacks {', '.join(missing)}")
        if type(version) is not int or type(snapshot["reducer_version"]) is not int:
            raise SnapshotRejected(
                order_id, None, version, "snapshot version and reducer_version must be integers"
            )
        if not isinstance(snapshot["state"], Mapping):
            raise SnapshotRejected(order_id, None, version, "snapshot state must be an object")
        return cls(order_id, version, snapshot["reducer_version"], dict(snapshot["state"]))


def take_snapshot(state: OrderState) -> Snapshot:
    """Snapshot `state` with this reducer's version."""
    return Snapshot(state.order_id, state.version, REDUCER_VERSION, state.to_dict())


def resume(snapshot: Snapshot | None, events: Iterable[Mapping[str, Any]]) -> OrderState | None:
    """Fold `events` on top of `snapshot`; None if there is nothing to fold.

    `events` may be the whole stream (the events the snapshot holds are skipped, after
    checking their order id and sequence) or only the events after it. A snapshot made by
    another `REDUCER_VERSION` is discarded with a WARNING log line on
    `order_service.model.snapshots`; `events` must then be the whole stream. Raises a `FoldError`.
    """
    stream: Iterator[Mapping[str, Any]] = iter(events)
    if snapshot is None or snapshot.reducer_version != REDUCER_VERSION:
        if snapshot is not None:
            log.warning(
                "snapshot of order %s at version %s was made by reducer version %s, this is "
                "version %s: discarded, replaying the stream from version 1",
                snapshot.order_id,
                snapshot.version,
                snapshot.reducer_version,
                REDUCER_VERSION,
            )
            first = next(stream, None)
            if first is None:
                return None
            order_id = first.get("order_id") if isinstance(first, Mapping) else None
            if order_id != snapshot.order_id:
                raise ForeignOrder(
                    snapshot.order_id,
                    first.get("event_id") if isinstance(first, Mapping) else None,
                    first.get("version") if isinstance(first, Mapping) else None,
                    f"event belongs to order {order_id}, not {snapshot.order_id}",
                )
            stream = chain((first,), stream)
        return fold(stream)
    state = state_from_dict(snapshot.state)
    if state.order_id != snapshot.order_id or state.version != snapshot.version:
        raise SnapshotRejected(
            snapshot.order_id,
            None,
            snapshot.version,
            f"snapshot state is order {state.order_id} at version {state.version}",
        )
    after = list(_after(state, stream))
    return fold(after, state) if after else state  # nothing after it: the snapshot's state


def _after(state: OrderState, stream: Iterator[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Skip the events a snapshot already holds, checking they form a contiguous prefix."""
    previous: int | None = None
    for event in stream:
        version = event.get("version") if isinstance(event, Mapping) else None
        if type(version) is not int or version > state.version:
            if previous is not None and previous != state.version:
                # A prefix was given but stops short: [1, 4] for a snapshot at 3 lacks 2 and 3.
                raise VersionOutOfSequence(
                    state.order_id,
                    event.get("event_id") if isinstance(event, Mapping) else None,
                    version,
                    f"events before the snapshot stop at version {previous}, "
                    f"the snapshot is at version {state.version}",
                )
            yield event
            yield from stream
            return
        if event.get("order_id") != state.order_id:
            raise ForeignOrder(
                state.order_id,
                event.get("event_id"),
                version,
                f"event belongs to order {event.get('order_id')}, not {state.order_id}",
            )
        if previous is not None and version != previous + 1:
            raise VersionOutOfSequence(
                state.order_id,
                event.get("event_id"),
                version,
                f"events before the snapshot are out of sequence: {previous} then {version}",
            )
        previous = version
    if previous is not None and previous != state.version:
        raise VersionOutOfSequence(
            state.order_id, None, previous, "stream ends before the snapshot's version"
        )
