"""The reducer: an order's state is a left fold of its events.

`evolve(state, event)` applies one event; `fold(events, snapshot=None)` applies a stream.
Both are pure and strict: an event that breaks a rule raises a `ReducerError` naming the
order, the event id, its version and the rule, and no state comes out of a rejected stream.

Events are envelope dicts (parsed JSON) at their current schema version: old versions are
upcast first (see `order_service.upcasting`). The reducer builds no model per event and
parses no timestamp, so replaying a long stream costs little more than reading it.

Examples:
    >>> from order_service.reducer import EXAMPLE_STREAM, fold
    >>> state = fold(EXAMPLE_STREAM)
    >>> state.status, state.version, state.total
    ('shipped', 3, '99.98')
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any, NamedTuple

__all__ = [
    "EXAMPLE_STREAM",
    "REDUCER_VERSION",
    "STATUSES",
    "ForeignOrder",
    "IllegalTransition",
    "InvariantBroken",
    "Line",
    "MalformedEvent",
    "OrderState",
    "ReducerError",
    "Snapshot",
    "SnapshotRejected",
    "UnknownEventType",
    "UnknownSchemaVersion",
    "VersionOutOfSequence",
    "evolve",
    "fold",
    "take_snapshot",
]

log = logging.getLogger(__name__)

REDUCER_VERSION = 1
"""Version of the reducer and of `OrderState`'s shape; bump it when either changes meaning.

A snapshot made by another version is not trusted: `fold` discards it and replays."""

STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled")
"""An order's statuses; `delivered` and `cancelled` are final."""

_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,9})\.[0-9]{2}")
_AMOUNT_MATCH = _AMOUNT.fullmatch
# Line's own __new__ is a Python function; tuple.__new__ builds the same value in C.
_new_tuple = tuple.__new__


# --- errors ---------------------------------------------------------------------------------


class ReducerError(ValueError):
    """An event (or snapshot) the reducer refuses; the message names order, event, version, rule.

    Attributes:
        order_id: The order the refused event belongs to (or the stream's order).
        event_id: The refused event's id, or None for a snapshot.
        version: The refused event's version (or the snapshot's).
        rule: The rule broken, in a few words.
    """

    def __init__(self, order_id: object, event_id: object, version: object, rule: str) -> None:
        self.order_id = order_id
        self.event_id = event_id
        self.version = version
        self.rule = rule
        super().__init__(f"order {order_id}, event {event_id} (version {version}): {rule}")


class IllegalTransition(ReducerError):
    """The event cannot happen in the order's current status (ship before pay, pay twice...)."""


class ForeignOrder(ReducerError):
    """The event (or snapshot) belongs to another order than the stream."""


class VersionOutOfSequence(ReducerError):
    """The event's version is not the next one: a gap, a duplicate or out of order."""


class UnknownEventType(ReducerError):
    """The reducer does not know the event type."""


class UnknownSchemaVersion(ReducerError):
    """The event's schema version is not the current one (upcast old events first)."""


class InvariantBroken(ReducerError):
    """The event breaks a rule on its content (paid amount differs from the total...)."""


class MalformedEvent(ReducerError):
    """The event lacks a field or has one of the wrong type; validate at the boundary."""


class SnapshotRejected(ReducerError):
    """The snapshot's content does not describe a state this reducer can resume from."""


# --- state ----------------------------------------------------------------------------------


class Line(NamedTuple):
    """One line of the order: a SKU, its quantity and its unit price (in the order's currency)."""

    sku: str
    quantity: int
    unit_price: str


@dataclass(frozen=True, slots=True)
class OrderState:
    """What an order is after its events: the fold's result. Amounts are decimal strings.

    Attributes:
        order_id: The order.
        version: The version of the last event folded in.
        status: One of `STATUSES`.
        customer_id: The customer reference.
        currency: ISO 4217 code of every amount of the order.
        lines: The lines, in the order they were first added.
        total: The sum of the lines, e.g. "129.97".
        payment_id: Set when paid.
        carrier: Set when shipped.
        tracking_number: Set when shipped.
        cancellation_reason: Set when cancelled.
    """

    order_id: str
    version: int
    status: str
    customer_id: str
    currency: str
    lines: tuple[Line, ...]
    total: str
    payment_id: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    cancellation_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready dict, money as `{"amount", "currency"}` objects."""
        money = self.currency
        return {
            "order_id": self.order_id,
            "version": self.version,
            "status": self.status,
            "customer_id": self.customer_id,
            "lines": [
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": {"amount": line.unit_price, "currency": money},
                }
                for line in self.lines
            ],
            "total": {"amount": self.total, "currency": money},
            "payment_id": self.payment_id,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "cancellation_reason": self.cancellation_reason,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> OrderState:
        """Rebuild a state from `to_dict`'s output; raises `SnapshotRejected` if it does not fit.

        Examples:
            >>> state = fold(EXAMPLE_STREAM)
            >>> OrderState.from_dict(state.to_dict()) == state
            True
        """
        order_id = state.get("order_id") if isinstance(state, Mapping) else None
        version = state.get("version") if isinstance(state, Mapping) else None
        try:
            expected = set(_STATE_KEYS)
            if set(state) != expected:
                raise ValueError(f"keys must be exactly {sorted(expected)}")
            currency = state["total"]["currency"]
            lines = []
            for line in state["lines"]:
                if line["unit_price"]["currency"] != currency:
                    raise ValueError("every amount must be in the order's currency")
                if type(line["quantity"]) is not int or line["quantity"] < 1:
                    raise ValueError(f"quantity of {line['sku']} must be a positive integer")
                lines.append(Line(line["sku"], line["quantity"], line["unit_price"]["amount"]))
            result = cls(
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
            if not isinstance(result.version, int) or result.version < 1:
                raise ValueError("version must be an integer >= 1")
            cents = sum(_cents(line.unit_price) * line.quantity for line in result.lines)
            if _format_cents(cents) != result.total:
                raise ValueError("total is not the sum of the lines")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise SnapshotRejected(order_id, None, version, f"unusable state: {error}") from None
        return result


_STATE_KEYS = (
    "order_id",
    "version",
    "status",
    "customer_id",
    "lines",
    "total",
    "payment_id",
    "carrier",
    "tracking_number",
    "cancellation_reason",
)


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
        if not isinstance(version, int) or not isinstance(snapshot["reducer_version"], int):
            raise SnapshotRejected(
                order_id, None, version, "snapshot version and reducer_version must be integers"
            )
        if not isinstance(snapshot["state"], Mapping):
            raise SnapshotRejected(order_id, None, version, "snapshot state must be an object")
        return cls(order_id, version, snapshot["reducer_version"], dict(snapshot["state"]))


def take_snapshot(state: OrderState) -> Snapshot:
    """Snapshot `state` with this reducer's version.

    Examples:
        >>> snapshot = take_snapshot(fold(EXAMPLE_STREAM[:2]))
        >>> snapshot.version, snapshot.reducer_version, snapshot.state["status"]
        (2, 1, 'paid')
        >>> fold(EXAMPLE_STREAM[2:], snapshot) == fold(EXAMPLE_STREAM)
        True
    """
    return Snapshot(state.order_id, state.version, REDUCER_VERSION, state.to_dict())


# --- the fold -------------------------------------------------------------------------------


class _Draft:
    """The state being folded: mutable and private, so a long stream is not copied per event."""

    __slots__ = (
        "cancellation_reason",
        "carrier",
        "currency",
        "customer_id",
        "lines",
        "order_id",
        "payment_id",
        "status",
        "tracking_number",
        "version",
    )

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.version = 0
        self.status: str | None = None
        self.customer_id = ""
        self.currency = ""
        # SKU -> Line; a dict keeps insertion order and adding a line is O(1), not a copy.
        self.lines: dict[str, Line] = {}
        self.payment_id: str | None = None
        self.carrier: str | None = None
        self.tracking_number: str | None = None
        self.cancellation_reason: str | None = None

    @classmethod
    def resume(cls, state: OrderState) -> _Draft:
        draft = cls(state.order_id)
        draft.version = state.version
        draft.status = state.status
        draft.customer_id = state.customer_id
        draft.currency = state.currency
        draft.lines = {line.sku: line for line in state.lines}
        draft.payment_id = state.payment_id
        draft.carrier = state.carrier
        draft.tracking_number = state.tracking_number
        draft.cancellation_reason = state.cancellation_reason
        return draft

    def total_cents(self) -> int:
        # Summed when asked (payment, freezing), not per added line: replay stays cheap.
        return sum(int(line[2].replace(".", "")) * line[1] for line in self.lines.values())

    def freeze(self) -> OrderState:
        return OrderState(
            order_id=self.order_id,
            version=self.version,
            status=self.status or "",
            customer_id=self.customer_id,
            currency=self.currency,
            lines=tuple(self.lines.values()),
            total=_format_cents(self.total_cents()),
            payment_id=self.payment_id,
            carrier=self.carrier,
            tracking_number=self.tracking_number,
            cancellation_reason=self.cancellation_reason,
        )


def _cents(amount: str) -> int:
    if type(amount) is not str or not _AMOUNT.fullmatch(amount):
        raise ValueError(f"amount {amount!r} is not a decimal string with two decimals")
    return int(amount.replace(".", ""))


def _format_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _refuse(
    kind: type[ReducerError], draft: _Draft, event: Mapping[str, Any], rule: str
) -> ReducerError:
    return kind(draft.order_id, event.get("event_id"), event.get("version"), rule)


def _add_line(draft: _Draft, event: Mapping[str, Any], line: Mapping[str, Any]) -> None:
    """Check one line against the draft, then add it (the checks come before any change)."""
    sku = line["sku"]
    quantity = line["quantity"]
    price = line["unit_price"]
    amount = price["amount"]
    if type(amount) is not str or _AMOUNT_MATCH(amount) is None:
        raise ValueError(f"amount {amount!r} is not a decimal string with two decimals")
    if type(quantity) is not int or quantity < 1:
        raise _refuse(
            InvariantBroken, draft, event, f"quantity of {sku} must be a positive integer"
        )
    if price["currency"] != draft.currency:
        raise _refuse(
            InvariantBroken,
            draft,
            event,
            f"{sku} is priced in {price['currency']}, the order in {draft.currency}",
        )
    known = draft.lines.get(sku)
    if known is None:
        draft.lines[sku] = _new_tuple(Line, (sku, quantity, amount))
    elif known.unit_price != amount:
        raise _refuse(
            InvariantBroken,
            draft,
            event,
            f"{sku} is already ordered at {known.unit_price}, not {amount}",
        )
    else:
        draft.lines[sku] = _new_tuple(Line, (sku, known.quantity + quantity, amount))


def _order_placed(draft: _Draft, event: Mapping[str, Any]) -> None:
    data = event["data"]
    lines = data["lines"]
    if not lines:
        raise _refuse(InvariantBroken, draft, event, "an order is placed with at least one line")
    draft.customer_id = data["customer_id"]
    draft.currency = lines[0]["unit_price"]["currency"]
    # A rejected event leaves no trace: the draft is discarded along with the exception.
    for line in lines:
        _add_line(draft, event, line)
    draft.status = "placed"


def _order_item_added(draft: _Draft, event: Mapping[str, Any]) -> None:
    _add_line(draft, event, event["data"]["line"])


# --8<-- [start:order_paid]
def _order_paid(draft: _Draft, event: Mapping[str, Any]) -> None:
    data = event["data"]
    paid = data["amount"]
    total = _format_cents(draft.total_cents())
    if paid["currency"] != draft.currency or paid["amount"] != total:
        raise _refuse(
            InvariantBroken,
            draft,
            event,
            f"paid {paid['amount']} {paid['currency']} but the total is {total} {draft.currency}",
        )
    draft.payment_id = data["payment_id"]
    draft.status = "paid"


# --8<-- [end:order_paid]


def _order_shipped(draft: _Draft, event: Mapping[str, Any]) -> None:
    data = event["data"]
    draft.carrier = data["carrier"]
    draft.tracking_number = data["tracking_number"]
    draft.status = "shipped"


def _order_delivered(draft: _Draft, event: Mapping[str, Any]) -> None:
    tracking_number = event["data"]["tracking_number"]
    if tracking_number != draft.tracking_number:
        raise _refuse(
            InvariantBroken,
            draft,
            event,
            f"delivered parcel {tracking_number} is not the one shipped ({draft.tracking_number})",
        )
    draft.status = "delivered"


def _order_cancelled(draft: _Draft, event: Mapping[str, Any]) -> None:
    draft.cancellation_reason = event["data"]["reason"]
    draft.status = "cancelled"


# --8<-- [start:transitions]
# event_type -> (schema version folded, statuses it may follow, transition).
# None as a status means "no event yet": only OrderPlaced starts a stream.
_TRANSITIONS: dict[str, tuple[int, frozenset[str | None], Any]] = {
    "OrderPlaced": (2, frozenset({None}), _order_placed),
    "OrderItemAdded": (1, frozenset({"placed"}), _order_item_added),
    "OrderPaid": (1, frozenset({"placed"}), _order_paid),
    "OrderShipped": (1, frozenset({"paid"}), _order_shipped),
    "OrderDelivered": (1, frozenset({"shipped"}), _order_delivered),
    "OrderCancelled": (1, frozenset({"placed", "paid"}), _order_cancelled),
}
# --8<-- [end:transitions]


def _illegal(draft: _Draft, event: Mapping[str, Any], allowed: frozenset[str | None]) -> str:
    event_type = event["event_type"]
    if draft.status is None:
        return f"illegal transition: {event_type} before the order was placed"
    if draft.status in ("delivered", "cancelled"):
        return f"illegal transition: {event_type} after the order was {draft.status}"
    if event_type == "OrderPlaced":
        return "illegal transition: the order was already placed"
    wanted = " or ".join(sorted(status for status in allowed if status))
    return f"illegal transition: {event_type} needs status {wanted}, the order is {draft.status}"


def _version_rule(draft: _Draft, version: object) -> str:
    expected = draft.version + 1
    if type(version) is not int:
        return f"version {version!r} is not an integer"
    if version > expected:
        return f"version gap: expected version {expected}, got {version}"
    if version == draft.version:
        return f"duplicate version {version}: already folded"
    return f"out-of-order version {version}: expected version {expected}"


# --8<-- [start:fold_loop]
def _fold_into(draft: _Draft, events: Iterable[Mapping[str, Any]]) -> _Draft:
    # The replay path: locals over attributes, one dict lookup for dispatch, no copies.
    transitions = _TRANSITIONS
    order_id = draft.order_id
    expected = draft.version + 1
    event: Mapping[str, Any] = {}
    try:
        for event in events:
            if event["order_id"] != order_id:
                raise _refuse(
                    ForeignOrder,
                    draft,
                    event,
                    f"event belongs to order {event['order_id']}, not {order_id}",
                )
            version = event["version"]
            # `type(...) is not int`: True == 1 and 2.0 == 2 in Python, never in the contract.
            if version != expected or type(version) is not int:
                draft.version = expected - 1
                raise _refuse(VersionOutOfSequence, draft, event, _version_rule(draft, version))
            entry = transitions.get(event["event_type"])
            if entry is None:
                raise _refuse(
                    UnknownEventType, draft, event, f"unknown event type {event['event_type']!r}"
                )
            if event["schema_version"] != entry[0] or type(event["schema_version"]) is not int:
                raise _refuse(
                    UnknownSchemaVersion,
                    draft,
                    event,
                    f"{event['event_type']} schema version {event['schema_version']!r} is not "
                    f"the current {entry[0]}; upcast it first",
                )
            if draft.status not in entry[1]:
                raise _refuse(IllegalTransition, draft, event, _illegal(draft, event, entry[1]))
            entry[2](draft, event)
            expected += 1
    except ReducerError:
        raise
    except KeyError as error:
        raise _malformed(draft, event, f"missing field {error.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise _malformed(draft, event, str(error)) from None
    draft.version = expected - 1
    return draft


# --8<-- [end:fold_loop]


def _malformed(draft: _Draft, event: object, rule: str) -> ReducerError:
    if isinstance(event, Mapping):
        return _refuse(MalformedEvent, draft, event, f"malformed event: {rule}")
    return MalformedEvent(draft.order_id, None, None, f"malformed event: not an object ({rule})")


def evolve(state: OrderState | None, event: Mapping[str, Any]) -> OrderState:
    """Apply one event to a state (None before the first event) and return the new state.

    Pure: `state` is not changed. Raises a `ReducerError` if the event breaks a rule.

    Examples:
        >>> placed, paid, shipped = EXAMPLE_STREAM
        >>> evolve(evolve(None, placed), paid).status
        'paid'
        >>> try:
        ...     evolve(evolve(None, placed), shipped)
        ... except ReducerError as error:
        ...     print(f"{type(error).__name__} at version {error.version}: {error.rule}")
        VersionOutOfSequence at version 3: version gap: expected version 2, got 3
    """
    if state is None:
        draft = _Draft(event.get("order_id") if isinstance(event, Mapping) else None)  # type: ignore[arg-type]
    else:
        draft = _Draft.resume(state)
    return _fold_into(draft, (event,)).freeze()


def fold(
    events: Iterable[Mapping[str, Any]], snapshot: Snapshot | None = None
) -> OrderState | None:
    """Fold an order's events, oldest first, into its state; None if there is nothing to fold.

    With a `snapshot`, folding resumes from it: `events` may be the whole stream (events up
    to the snapshot's version are skipped, after checking their order id and sequence) or
    only the events after it. A snapshot made by another `REDUCER_VERSION` is not trusted:
    it is discarded with a WARNING log line on `order_service.reducer`, and `events` must then
    be the whole stream.

    Raises a `ReducerError` on the first event that breaks a rule; no state is returned.

    Examples:
        >>> fold(EXAMPLE_STREAM).status
        'shipped'
        >>> fold(EXAMPLE_STREAM[:2]).to_dict()["total"]
        {'amount': '99.98', 'currency': 'EUR'}
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
        if snapshot is not None and order_id != snapshot.order_id:
            raise ForeignOrder(
                snapshot.order_id,
                first.get("event_id"),
                first.get("version"),
                f"event belongs to order {order_id}, not {snapshot.order_id}",
            )
        draft = _Draft(order_id)  # type: ignore[arg-type]
        return _fold_into(draft, chain((first,), stream)).freeze()

    state = OrderState.from_dict(snapshot.state)
    if state.order_id != snapshot.order_id or state.version != snapshot.version:
        raise SnapshotRejected(
            snapshot.order_id,
            None,
            snapshot.version,
            f"snapshot state is order {state.order_id} at version {state.version}",
        )
    draft = _Draft.resume(state)
    return _fold_into(draft, _skip_folded(draft, stream)).freeze()


def _skip_folded(draft: _Draft, stream: Iterator[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Skip the events a snapshot already holds, checking they form a contiguous prefix."""
    previous: object = None
    for event in stream:
        version = event.get("version") if isinstance(event, Mapping) else None
        if type(version) is not int or version > draft.version:
            if previous is not None and previous != draft.version:
                # A prefix was given but stops short: [1, 4] for a snapshot at 3 lacks 2 and 3.
                raise _refuse(
                    VersionOutOfSequence,
                    draft,
                    event,
                    f"events before the snapshot stop at version {previous}, "
                    f"the snapshot is at version {draft.version}",
                )
            return chain((event,), stream)
        if event["order_id"] != draft.order_id:
            raise _refuse(
                ForeignOrder,
                draft,
                event,
                f"event belongs to order {event['order_id']}, not {draft.order_id}",
            )
        if previous is not None and version != previous + 1:  # type: ignore[operator]
            raise _refuse(
                VersionOutOfSequence,
                draft,
                event,
                f"events before the snapshot are out of sequence: {previous} then {version}",
            )
        previous = version
    if previous is not None and previous != draft.version:
        raise VersionOutOfSequence(
            draft.order_id, None, previous, "stream ends before the snapshot's version"
        )
    return iter(())


def _example_event(version: int, event_type: str, schema_version: int, data: dict) -> dict:
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


EXAMPLE_STREAM: list[dict[str, Any]] = [
    _example_event(
        1,
        "OrderPlaced",
        2,
        {
            "customer_id": "C-7",
            "lines": [
                {
                    "sku": "RETRO-CLOCK",
                    "quantity": 2,
                    "unit_price": {"amount": "49.99", "currency": "EUR"},
                }
            ],
        },
    ),
    _example_event(
        2, "OrderPaid", 1, {"payment_id": "PAY-7", "amount": {"amount": "99.98", "currency": "EUR"}}
    ),
    _example_event(3, "OrderShipped", 1, {"carrier": "DHL", "tracking_number": "JD7"}),
]
"""A small stream for the examples: order 7, placed, paid and shipped.

Order #1001's events live on the R5 page, their one source; this is not a copy of them."""
