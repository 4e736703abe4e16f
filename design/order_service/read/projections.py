"""The Event Handler box: the projector that keeps `order_summary` current, and its replay.

`summarise` is the one place that says how an event changes a summary row. The projector
applies it to each delivered event, idempotently; `rebuild` applies it to the whole store in
memory and writes the result in one transaction. Both paths use the same function, so a
rebuilt read model equals the incrementally maintained one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from operator import itemgetter
from typing import Any

from pydantic_core import to_json

from order_service.infra.database import backend_of
from order_service.model.upcasting import upcast
from order_service.read.read_model import PROJECTION
from order_service.write.store import EventStore

SUMMARY_COLUMNS = (
    "order_id", "customer_id", "status", "total_amount", "currency", "item_count", "skus",
    "placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at", "tracking_number",
    "last_version", "last_position",
)  # fmt: skip
"""The columns of `order_summary`, in DDL order."""

Row = dict[str, Any]

_STORED_COLUMNS = (*(c for c in SUMMARY_COLUMNS if c != "skus"), "skus")
"""The columns an upsert writes: `skus` last, the one written as JSON text."""
_plain_values = itemgetter(*_STORED_COLUMNS[:-1])

# Upserts both SQLite and PostgreSQL read the same way.
_INSERT_SUMMARY = (
    f"INSERT INTO order_summary ({', '.join(_STORED_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_STORED_COLUMNS))}) ON CONFLICT (order_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _STORED_COLUMNS[1:])
)
_INSERT_SKU = "INSERT INTO order_summary_skus (sku, order_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
_SAVE_CHECKPOINT = (
    "INSERT INTO projection_checkpoint (projection, position) VALUES (?, ?) "
    "ON CONFLICT (projection) DO UPDATE SET position = excluded.position "
    "WHERE excluded.position > projection_checkpoint.position"
)


class ProjectionError(Exception):
    """An event cannot be applied to the read model: the projection stops, loudly."""


def _add_line(row: Row, line: Mapping[str, Any]) -> None:
    price = line["unit_price"]
    if price["currency"] != row["currency"]:
        raise ProjectionError(
            f"order {row['order_id']}: a line in {price['currency']} on an order in "
            f"{row['currency']}"
        )
    total = Decimal(row["total_amount"]) + line["quantity"] * Decimal(price["amount"])
    row["total_amount"] = str(total)  # two decimals in, two decimals out: no rounding
    row["item_count"] += line["quantity"]
    if line["sku"] not in row["skus"]:
        row["skus"] = sorted([*row["skus"], line["sku"]])  # a new list: `row` may share the old


# --8<-- [start:summarise]
def summarise(row: Row | None, event: Mapping[str, Any], position: int) -> Row:
    """Return the summary row after `event` (at global `position`); `row` is left unchanged.

    Raises `ProjectionError`, naming the event, when the event does not follow the row (a
    version gap, an event before `OrderPlaced`, an unknown event type) or cannot be read (a
    stored event the contract refuses: a field missing, a quantity of 1.0...). The projection
    stops at it, loudly, and no later event is applied: fix or compensate, then replay.
    """
    try:
        return _summarise(row, event, position)
    except ProjectionError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as error:
        event_id = event.get("event_id") if isinstance(event, Mapping) else None
        order_id = event.get("order_id") if isinstance(event, Mapping) else None
        raise ProjectionError(
            f"order {order_id}: event {event_id} at position {position} cannot be projected "
            f"({type(error).__name__}: {error}); the projection stops at it"
        ) from error


def _summarise(row: Row | None, event: Mapping[str, Any], position: int) -> Row:
    event = upcast(event)
    order_id, version = event["order_id"], event["version"]
    expected = 1 if row is None else row["last_version"] + 1
    if version != expected:
        raise ProjectionError(
            f"order {order_id}: event {event['event_id']} has version {version}, the read "
            f"model expects {expected}: an event is missing; replay the store"
        )
    kind, data, at = event["event_type"], event["data"], event["occurred_at"]
    if kind == "OrderPlaced":
        new: Row = {
            "order_id": order_id, "customer_id": data["customer_id"], "status": "placed",
            "total_amount": "0.00", "currency": data["lines"][0]["unit_price"]["currency"],
            "item_count": 0, "skus": [], "placed_at": at, "paid_at": None, "shipped_at": None,
            "delivered_at": None, "cancelled_at": None, "tracking_number": None,
        }  # fmt: skip
        for line in data["lines"]:
            _add_line(new, line)
    elif row is None:
        raise ProjectionError(f"order {order_id}: {kind} before OrderPlaced")
    else:
        new = dict(row)  # the one copy: `row` is left unchanged
        if kind == "OrderItemAdded":
            _add_line(new, data["line"])
        elif kind == "OrderPaid":
            new["status"], new["paid_at"] = "paid", at
        elif kind == "OrderShipped":
            new["status"], new["shipped_at"] = "shipped", at
            new["tracking_number"] = data["tracking_number"]
        elif kind == "OrderDelivered":
            new["status"], new["delivered_at"] = "delivered", at
        elif kind == "OrderCancelled":
            new["status"], new["cancelled_at"] = "cancelled", at
        elif kind == "OrderRefunded":
            new["status"] = "refunded"
        else:
            raise ProjectionError(f"order {order_id}: unknown event type {kind!r}")
    new["last_version"] = version
    new["last_position"] = position
    return new


# --8<-- [end:summarise]


def _stored(row: Row) -> tuple[Any, ...]:
    """The row as `_INSERT_SUMMARY`'s parameters."""
    return (*_plain_values(row), to_json(row["skus"]).decode())


class OrderSummaryProjector:
    """Apply delivered events to `order_summary`; subscribe it to the bus.

    Idempotent: an event at or below the row's `last_version` was applied already and
    changes nothing, so at-least-once delivery is safe. The row and the checkpoint are
    written in one transaction, so a crash leaves both or neither.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.db = backend_of(conn)

    # --8<-- [start:project]
    def __call__(self, event: Mapping[str, Any], position: int) -> None:
        """Apply one event (a bus subscriber). Returns quietly for a redelivered event."""
        with self.db.transaction(self.conn):
            found = self.conn.execute(  # FOR UPDATE on PostgreSQL: a rebuild's lock waits us
                "SELECT * FROM order_summary WHERE order_id = ?" + self.db.for_update,
                (event["order_id"],),
            ).fetchone()
            row = None if found is None else {**found, "skus": json.loads(found["skus"])}
            if row is not None and event["version"] <= row["last_version"]:
                return  # delivered again: already applied
            new = summarise(row, event, position)
            self.conn.execute(_INSERT_SUMMARY, _stored(new))
            self.conn.executemany(_INSERT_SKU, [(sku, new["order_id"]) for sku in new["skus"]])
            self.conn.execute(_SAVE_CHECKPOINT, (PROJECTION, position))

    # --8<-- [end:project]


# --8<-- [start:rebuild]
def rebuild(store: EventStore, conn: Any) -> int:
    """Replay the whole store into an empty `order_summary`; return the events replayed.

    Only the projection runs: no bus, so no side effect (a notification) fires again.
    The new rows replace the old ones in one transaction: readers see the old read model
    until the commit, then the new one, never a half-built one.
    """
    # The transaction starts first: it holds the read model's write lock while the store is
    # read, so the live projector waits, then goes on from the rebuilt rows. Read first and
    # lock later, and an event projected in between would be wiped out by the rebuild.
    db = backend_of(conn)
    with db.transaction(conn):
        db.lock_read_model(conn)  # SQLite: BEGIN IMMEDIATE did it already
        rows: dict[str, Row] = {}
        replayed = last_position = 0
        for position, event in store.read_all(with_metadata=False):
            order_id = event["order_id"]
            rows[order_id] = summarise(rows.get(order_id), event, position)
            replayed, last_position = replayed + 1, position
        conn.execute("DELETE FROM order_summary_skus")
        conn.execute("DELETE FROM order_summary")
        conn.execute("DELETE FROM projection_checkpoint WHERE projection = ?", (PROJECTION,))
        conn.executemany(_INSERT_SUMMARY, [_stored(row) for row in rows.values()])
        conn.executemany(
            _INSERT_SKU, [(sku, row["order_id"]) for row in rows.values() for sku in row["skus"]]
        )
        if replayed:
            conn.execute(_SAVE_CHECKPOINT, (PROJECTION, last_position))
    return replayed


# --8<-- [end:rebuild]


def contents(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the read model, sorted: two read models are equal if these are."""
    return {
        table: [tuple(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
        for table in ("order_summary", "order_summary_skus", "projection_checkpoint")
    }
