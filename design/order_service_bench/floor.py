"""The true floors: the fastest honest code that reaches the same result, no project code.

- replay: the same `order_events` file read with `sqlite3`, only the two columns a fold needs,
  one batched JSON parse (pydantic-core's, the fastest parser the design has), money as
  integer cents, a dict fold;
- read model: the rows the rebuild ends with, computed beforehand, written by `executemany`
  into the same tables (same indexes) in one transaction;
- append: prepared rows written by one `executemany` in one transaction, same settings.

Each trusts its input and checks nothing: the ratio of ours to a floor is the price of the
design's guarantees (validation, stream integrity, concurrency, the outbox) plus its overhead.
"""

from __future__ import annotations

import json
import sqlite3
from importlib.resources import files
from pathlib import Path
from typing import Any

from order_service.read.projections import SUMMARY_COLUMNS
from pydantic_core import from_json

SELECT_STREAM = "SELECT event_type, data FROM order_events WHERE order_id = ? ORDER BY version"


def fold(conn: sqlite3.Connection, order_id: str) -> dict[str, Any]:
    """Read one order's rows and fold them into a dict, trusting every row."""
    return fold_rows(conn.execute(SELECT_STREAM, (order_id,)).fetchall())


def fold_rows(rows: list[tuple[str, str]]) -> dict[str, Any]:
    """Fold `(event_type, data)` rows into a dict: one batched JSON parse for all, no checks."""
    payloads = from_json("[" + ",".join([data for _, data in rows]) + "]")
    quantities: dict[str, int] = {}
    cents = 0
    status = ""
    for (event_type, _), data in zip(rows, payloads, strict=True):
        if event_type == "OrderItemAdded" or event_type == "OrderPlaced":
            for line in data["lines"] if event_type == "OrderPlaced" else (data["line"],):
                sku, quantity = line["sku"], line["quantity"]
                quantities[sku] = quantities.get(sku, 0) + quantity
                cents += int(line["unit_price"]["amount"].replace(".", "")) * quantity
            if event_type == "OrderPlaced":
                status = "placed"
        elif event_type == "OrderPaid":
            status = "paid"
        elif event_type == "OrderShipped":
            status = "shipped"
    return {"version": len(rows), "status": status, "cents": cents, "lines": quantities}


def summary(state: dict[str, Any]) -> dict[str, Any]:
    """The fields every contender must agree on."""
    return {
        "version": state["version"],
        "status": state["status"],
        "total": f"{state['cents'] // 100}.{state['cents'] % 100:02d}",
        "lines": len(state["lines"]),
    }


INSERT_EVENT = (
    "INSERT INTO order_events (event_id, order_id, version, event_type, schema_version,"
    " data, metadata, occurred_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def event_rows(envelopes: list[dict[str, Any]], recorded_at: str) -> list[tuple[Any, ...]]:
    """The rows an append writes, serialised ahead of time (the floor times only SQL)."""
    return [
        (
            e["event_id"],
            e["order_id"],
            e["version"],
            e["event_type"],
            e["schema_version"],
            json.dumps(e["data"], separators=(",", ":")),
            json.dumps(e["metadata"], separators=(",", ":")),
            e["occurred_at"],
            recorded_at,
        )
        for e in envelopes
    ]


def open_event_store(path: Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Our `order_events` DDL (triggers and all) on a file, WAL, at the sync level given."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.executescript(
        files("order_service").joinpath("write", "event_store.sql").read_text("utf-8")
    )
    return conn


def append(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
    """Insert the rows in one transaction with one `executemany`; return the last version."""
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT_EVENT, rows)
    conn.execute("COMMIT")
    version: int = rows[-1][2]
    return version


COLUMNS = (*SUMMARY_COLUMNS, "state")  # `state`: the folded state each row is read off
INSERT_SUMMARY = (
    f"INSERT INTO order_summary ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT (order_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in COLUMNS[1:])
)
INSERT_SKU = "INSERT OR IGNORE INTO order_summary_skus (sku, order_id) VALUES (?, ?)"


Rows = list[tuple[Any, ...]]


def read_model_rows(conn: sqlite3.Connection) -> tuple[Rows, Rows]:
    """The rows of a rebuilt read model (untimed): what the floor writes again."""
    columns = ", ".join(COLUMNS)
    summaries = conn.execute(f"SELECT {columns} FROM order_summary").fetchall()
    skus = conn.execute("SELECT sku, order_id FROM order_summary_skus").fetchall()
    return [tuple(row) for row in summaries], [tuple(row) for row in skus]


def rebuild(conn: sqlite3.Connection, rows: tuple[Rows, Rows]) -> int:
    """Empty the read model, then upsert the precomputed rows, in one transaction."""
    summaries, skus = rows
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM order_summary_skus")
    conn.execute("DELETE FROM order_summary")
    conn.executemany(INSERT_SUMMARY, summaries)
    conn.executemany(INSERT_SKU, skus)
    conn.execute("COMMIT")
    return len(summaries)


def count_shipped(conn: sqlite3.Connection) -> int:
    """How many orders a read model shows as shipped (the check after a rebuild)."""
    count: int
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM order_summary WHERE status = 'shipped'"
    ).fetchone()
    return count
