"""The bare limit: `sqlite3` and `json.loads`, no project code, no checks.

Each function does the least work that still derives the same answer as ours: the fold reads
the rows of one order and computes its version, status, total and line count; the append
inserts prepared rows with one `executemany`; the read-model loop upserts one row per event.
What they leave out (validation, concurrency checks, the outbox, checkpoints) is exactly what
the design pays for, so the ratio against them is the price of those guarantees.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

SELECT_STREAM = "SELECT event_type, data FROM order_events WHERE order_id = ? ORDER BY version"


def fold(conn: sqlite3.Connection, order_id: str) -> dict[str, Any]:
    """Read one order's rows and fold them into a dict, trusting every row."""
    state: dict[str, Any] = {"version": 0}
    for event_type, data in conn.execute(SELECT_STREAM, (order_id,)):
        payload = json.loads(data)
        state["version"] += 1
        if event_type == "OrderItemAdded":
            line = payload["line"]
            lines = state["lines"]
            lines[line["sku"]] = lines.get(line["sku"], 0) + line["quantity"]
            state["total"] += Decimal(line["unit_price"]["amount"]) * line["quantity"]
        elif event_type == "OrderPlaced":
            state["status"] = "placed"
            state["lines"] = {line["sku"]: line["quantity"] for line in payload["lines"]}
            state["total"] = sum(
                (Decimal(li["unit_price"]["amount"]) * li["quantity"] for li in payload["lines"]),
                Decimal(0),
            )
        elif event_type == "OrderPaid":
            state["status"] = "paid"
        elif event_type == "OrderShipped":
            state["status"] = "shipped"
    return state


def summary(state: dict[str, Any]) -> dict[str, Any]:
    """The fields every contender must agree on."""
    return {
        "version": state["version"],
        "status": state["status"],
        "total": f"{state['total']:.2f}",
        "lines": len(state["lines"]),
    }


INSERT_EVENT = (
    "INSERT INTO order_events (event_id, order_id, version, event_type, schema_version,"
    " data, metadata, occurred_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def event_rows(envelopes: list[dict[str, Any]], recorded_at: str) -> list[tuple[Any, ...]]:
    """The rows an append writes, serialised ahead of time (the bare append times only SQL)."""
    return [
        (
            e["event_id"],
            e["order_id"],
            e["version"],
            e["event_type"],
            e["schema_version"],
            json.dumps(e["data"]),
            json.dumps(e["metadata"]),
            e["occurred_at"],
            recorded_at,
        )
        for e in envelopes
    ]


def open_event_store(path: Path) -> sqlite3.Connection:
    """Our `order_events` DDL (triggers and all) on a file with our settings, in plain sqlite3."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(files("order_service").joinpath("event_store.sql").read_text("utf-8"))
    return conn


def append(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
    """Insert the rows in one transaction with one `executemany`; return the last version."""
    conn.execute("BEGIN")
    conn.executemany(INSERT_EVENT, rows)
    conn.execute("COMMIT")
    return rows[-1][2]


# The read model the bare loop keeps: the columns of `order_summary` that the events set, with
# the same indexes, and the total as integer cents so SQL can add to it without floats.
BARE_READ_MODEL = """
CREATE TABLE IF NOT EXISTS bare_summary (
    order_id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, total_cents INTEGER,
    currency TEXT, item_count INTEGER, placed_at TEXT, paid_at TEXT, shipped_at TEXT,
    tracking_number TEXT, last_version INTEGER, last_position INTEGER
);
CREATE INDEX IF NOT EXISTS bare_by_customer ON bare_summary (customer_id, placed_at, order_id);
CREATE INDEX IF NOT EXISTS bare_by_status ON bare_summary (status, placed_at, order_id);
CREATE INDEX IF NOT EXISTS bare_by_placed ON bare_summary (placed_at, order_id);
CREATE TABLE IF NOT EXISTS bare_skus (
    sku TEXT NOT NULL, order_id TEXT NOT NULL, PRIMARY KEY (sku, order_id)
) WITHOUT ROWID;
"""

UPSERT_SUMMARY = """
INSERT INTO bare_summary (order_id, customer_id, status, total_cents, currency, item_count,
                          placed_at, paid_at, shipped_at, tracking_number, last_version,
                          last_position)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (order_id) DO UPDATE SET
    status = excluded.status,
    total_cents = total_cents + excluded.total_cents,
    item_count = item_count + excluded.item_count,
    paid_at = COALESCE(excluded.paid_at, paid_at),
    shipped_at = COALESCE(excluded.shipped_at, shipped_at),
    tracking_number = COALESCE(excluded.tracking_number, tracking_number),
    last_version = excluded.last_version,
    last_position = excluded.last_position
"""
INSERT_SKU = "INSERT OR IGNORE INTO bare_skus (sku, order_id) VALUES (?, ?)"
SELECT_ALL = (
    "SELECT position, order_id, version, event_type, data, occurred_at FROM order_events"
    " ORDER BY position"
)


def open_read_model(path: Path) -> sqlite3.Connection:
    """The bare read model's file, opened with the design's settings (WAL, synchronous=NORMAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(BARE_READ_MODEL)
    return conn


def _cents(line: dict[str, Any]) -> int:
    return int(line["unit_price"]["amount"].replace(".", "")) * line["quantity"]


def rebuild(source: sqlite3.Connection, conn: sqlite3.Connection) -> int:
    """Empty the bare read model, then upsert one row per event, in one transaction."""
    count = 0
    conn.execute("BEGIN")
    try:
        conn.execute("DELETE FROM bare_skus")
        conn.execute("DELETE FROM bare_summary")
        for position, order_id, version, event_type, data, at in source.execute(SELECT_ALL):
            payload = json.loads(data)
            paid = shipped = tracking = customer = currency = placed = None
            cents = items = 0
            status = "placed"
            if event_type == "OrderPlaced":
                lines = payload["lines"]
                customer, placed = payload["customer_id"], at
                currency = lines[0]["unit_price"]["currency"]
                cents = sum(_cents(line) for line in lines)
                items = sum(line["quantity"] for line in lines)
                conn.executemany(INSERT_SKU, [(line["sku"], order_id) for line in lines])
            elif event_type == "OrderItemAdded":
                line = payload["line"]
                cents, items = _cents(line), line["quantity"]
                conn.execute(INSERT_SKU, (line["sku"], order_id))
            elif event_type == "OrderPaid":
                status, paid = "paid", at
            elif event_type == "OrderShipped":
                status, shipped, tracking = "shipped", at, payload["tracking_number"]
            conn.execute(
                UPSERT_SUMMARY,
                (order_id, customer, status, cents, currency, items, placed, paid, shipped,
                 tracking, version, position),
            )  # fmt: skip
            count += 1
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return count


def count_shipped(conn: sqlite3.Connection, table: str) -> int:
    """How many orders a read model shows as shipped (the check after a rebuild)."""
    (count,) = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE status = 'shipped'").fetchone()
    return count
