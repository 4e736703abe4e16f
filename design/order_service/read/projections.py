"""The Event Handler box: the projector that keeps `order_summary` current, and its replay.

The row is derived from the fold: each row keeps its order's folded state (`OrderState`, as
JSON), `summarise` applies one event to it with `model.fold.evolve` and reads the columns off the
new state, and `rebuild` folds every order the same way. No pricing, currency or status rule is
written here, so the read model cannot disagree with the write side.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from pydantic_core import to_json

from order_service.bus.subscription import Tracking
from order_service.infra.clock import utc_now
from order_service.infra.database import backend_of
from order_service.model.fold import OrderState, evolve
from order_service.model.integrity import FoldError
from order_service.model.snapshots import state_from_dict
from order_service.model.upcasting import upcast
from order_service.read.read_model import PROJECTION
from order_service.write.store import EventStore

SUMMARY_COLUMNS = (
    "order_id", "customer_id", "status", "total_amount", "currency", "item_count", "skus",
    "placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at", "tracking_number",
    "last_version", "last_position",
)  # fmt: skip
"""The columns of `order_summary` a query reads, in DDL order (`state` follows them)."""

Row = dict[str, Any]
"""A summary row in memory: the columns, with `state` as an `OrderState`."""

_STORED_COLUMNS = (*(c for c in SUMMARY_COLUMNS if c != "skus"), "skus", "state")
"""The columns an upsert writes: `skus` and `state` last, the two written as JSON text."""
_plain_values = itemgetter(*_STORED_COLUMNS[:-2])

# Upserts both SQLite and PostgreSQL read the same way.
_INSERT_SUMMARY = (
    f"INSERT INTO order_summary ({', '.join(_STORED_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_STORED_COLUMNS))}) ON CONFLICT (order_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _STORED_COLUMNS[1:])
)
_INSERT_SKU = "INSERT INTO order_summary_skus (sku, order_id) VALUES (?, ?) ON CONFLICT DO NOTHING"


class ProjectionError(Exception):
    """An event cannot be applied to the read model; the message names the event and position."""


def row_from_state(state: OrderState, previous: Row | None, at: str, position: int) -> Row:
    """The summary row of `state`, reached by an event that occurred `at` (global `position`).

    Every column is read off the folded state; only the times come from the events: a status
    the order enters is stamped with the time of the event that brought it there.
    """
    row: Row = {
        "order_id": state.order_id, "customer_id": state.customer_id, "status": state.status,
        "total_amount": state.total, "currency": state.currency,
        "item_count": sum(line.quantity for line in state.lines),
        "skus": sorted(line.sku for line in state.lines),
        "placed_at": at, "paid_at": None, "shipped_at": None, "delivered_at": None,
        "cancelled_at": None, "tracking_number": state.tracking_number,
        "last_version": state.version, "last_position": position, "state": state,
    }  # fmt: skip
    if previous is not None:
        for column in ("placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at"):
            row[column] = previous[column]
        if state.status != previous["status"]:
            row[f"{state.status}_at"] = at
    return row


# --8<-- [start:summarise]
def summarise(row: Row | None, event: Mapping[str, Any], position: int) -> Row:
    """Return the summary row after `event` (at global `position`); `row` is left unchanged.

    The new state is `evolve(row's state, event)`. Raises `ProjectionError`, naming the event and
    its position, when the fold refuses the event (a version gap, an unknown type, a field
    missing): the subscription then parks it.
    """
    try:
        event = upcast(event)
        state = evolve(None if row is None else row["state"], event)
        return row_from_state(state, row, event["occurred_at"], position)
    except (FoldError, KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        event_id = event.get("event_id") if isinstance(event, Mapping) else None
        order_id = event.get("order_id") if isinstance(event, Mapping) else None
        raise ProjectionError(
            f"order {order_id}: event {event_id} at position {position} cannot be projected "
            f"({type(error).__name__}: {error})"
        ) from error


# --8<-- [end:summarise]


def _stored(row: Row) -> tuple[Any, ...]:
    """The row as `_INSERT_SUMMARY`'s parameters."""
    state = to_json(row["state"].to_dict()).decode()
    return (*_plain_values(row), to_json(row["skus"]).decode(), state)


def _loaded(found: Any) -> Row:
    """A stored summary row back in memory."""
    return {
        **found,
        "skus": json.loads(found["skus"]),
        "state": state_from_dict(json.loads(found["state"])),
    }


class OrderSummaryProjector:
    """Keep `order_summary` current: a subscriber (see `bus.subscription`).

    Idempotent: an event at or below the row's `last_version` was applied already and changes
    nothing. The subscription calls `apply` inside the transaction that also records its
    position, so the row and the position are written together or not at all.
    """

    name = PROJECTION

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.db = backend_of(conn)

    # --8<-- [start:project]
    def apply(self, event: Mapping[str, Any], position: int) -> None:
        """Apply one event to its order's row (inside the caller's transaction)."""
        found = self.conn.execute(  # FOR UPDATE on PostgreSQL: a rebuild's lock waits us
            "SELECT * FROM order_summary WHERE order_id = ?" + self.db.for_update,
            (event["order_id"],),
        ).fetchone()
        row = None if found is None else _loaded(found)
        if row is not None and event["version"] <= row["last_version"]:
            return  # delivered again: already applied
        new = summarise(row, event, position)
        self.conn.execute(_INSERT_SUMMARY, _stored(new))
        added = set(new["skus"]).difference(() if row is None else row["skus"])
        if added:  # most events add no line: no statement (a round trip on PostgreSQL)
            self.conn.executemany(_INSERT_SKU, [(sku, new["order_id"]) for sku in sorted(added)])

    # --8<-- [end:project]

    def apply_batch(self, events: Sequence[tuple[int, Mapping[str, Any]]]) -> dict[int, str]:
        """Apply events in order (inside the caller's transaction); return those refused.

        Each order's row is read once and written once: three statements for the batch, not
        three per event. After a refused event, no later event of its order is applied.
        """
        order_ids = sorted({event["order_id"] for _, event in events})
        found = self.conn.execute(
            f"SELECT * FROM order_summary WHERE order_id IN ({', '.join('?' * len(order_ids))})"
            + self.db.for_update,
            order_ids,
        ).fetchall()
        before = {row["order_id"]: _loaded(row) for row in found}
        rows, refused, stopped = dict(before), {}, set()
        for position, event in events:
            order_id, row = event["order_id"], rows.get(event["order_id"])
            if order_id in stopped or (row is not None and event["version"] <= row["last_version"]):
                continue  # behind a refused event, or delivered again: already applied
            try:
                rows[order_id] = summarise(row, event, position)
            except ProjectionError as error:
                refused[position] = f"ProjectionError: {error}"
                stopped.add(order_id)
        changed = [row for order_id, row in rows.items() if row is not before.get(order_id)]
        self.conn.executemany(_INSERT_SUMMARY, [_stored(row) for row in changed])
        self.conn.executemany(_INSERT_SKU, [
            (sku, row["order_id"]) for row in changed for sku in row["skus"]
            if row["order_id"] not in before or sku not in before[row["order_id"]]["skus"]
        ])  # fmt: skip
        return refused


# --8<-- [start:rebuild]
def rebuild(store: EventStore, conn: Any, *, clock: Callable[[], str] = utc_now) -> int:
    """Replay the whole store into an empty `order_summary`; return the events replayed.

    Only the projection runs, so no side effect (a notification) fires again. Each order is
    folded with `evolve`; an order the fold refuses is parked at the refused event (as the live
    projector would park it) and the other orders are rebuilt. The new rows replace the old
    ones in one transaction: readers see the old read model until the commit, never half of it.
    """
    tracking = Tracking(PROJECTION, conn)
    db = backend_of(conn)
    # The transaction starts first and holds the projector's tracking row, then the read model,
    # while the store is read: the live projector waits, then goes on from the rebuilt rows.
    with db.transaction(conn):
        tracking.position(lock=True)
        db.lock_read_model(conn)  # SQLite: BEGIN IMMEDIATE did it already
        rows: dict[str, Row] = {}
        parked: list[tuple[Mapping[str, Any], int, str]] = []
        stopped: set[str] = set()
        replayed = last_position = 0
        for position, event in store.read_all(with_metadata=False):
            order_id = event["order_id"]
            replayed, last_position = replayed + 1, position
            if order_id in stopped:
                parked.append((event, position, "waits behind an earlier parked event"))
                continue
            try:
                rows[order_id] = summarise(rows.get(order_id), event, position)
            except ProjectionError as error:
                stopped.add(order_id)
                parked.append((event, position, f"ProjectionError: {error}"))
        conn.execute("DELETE FROM order_summary_skus")
        conn.execute("DELETE FROM order_summary")
        conn.execute("DELETE FROM parked_events WHERE subscriber = ?", (PROJECTION,))
        conn.execute(
            "UPDATE tracking SET position = ? WHERE subscriber = ?", (last_position, PROJECTION)
        )
        conn.executemany(_INSERT_SUMMARY, [_stored(row) for row in rows.values()])
        conn.executemany(
            _INSERT_SKU, [(sku, row["order_id"]) for row in rows.values() for sku in row["skus"]]
        )
        at = clock()
        for stuck, position, reason in parked:
            tracking.park(stuck, position, reason, at)
    return replayed


# --8<-- [end:rebuild]


def contents(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the read model and the projector's tracking, sorted: equal read models match."""
    mine = f" WHERE subscriber = '{PROJECTION}'"  # the projector's rows, not another subscriber's
    return {
        table: [tuple(row) for row in conn.execute(f"SELECT * FROM {table}{where} ORDER BY 1, 2")]
        for table, where in (
            ("order_summary", ""),
            ("order_summary_skus", ""),
            ("tracking", mine),
            ("parked_events", mine),
        )
    }
