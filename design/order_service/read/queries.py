"""The Query Handler box: reads of the read model, which never write.

The read database is opened read-only (a `mode=ro` URI on SQLite, read-only transactions on
PostgreSQL): the database itself refuses any write through this connection. Each search is
backed by an index of the read model's DDL and returns rows in a stable order (newest
`placed_at` first, then `order_id`), so pages of results do not shift.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from order_service.infra.clock import timestamp
from order_service.infra.database import Backend, open_backend
from order_service.model.fold import STATUSES
from order_service.read.read_model import PROJECTION

MAX_LIMIT = 500
"""The most rows one search returns."""


@dataclass(frozen=True)
class OrderSummary:
    """One row of `order_summary`: what a client sees of an order."""

    order_id: str
    customer_id: str
    status: str
    total_amount: str
    currency: str
    item_count: int
    skus: tuple[str, ...]
    placed_at: str
    paid_at: str | None
    shipped_at: str | None
    delivered_at: str | None
    cancelled_at: str | None
    tracking_number: str | None
    last_version: int
    last_position: int


@dataclass(frozen=True)
class WaitResult:
    """The outcome of waiting for the read model to reach an order's version."""

    reached: bool
    """True if the read model holds `version` (or a later one) of the order."""
    order_id: str
    version: int
    """The version waited for: the one the command returned."""
    seen_version: int
    """The version the read model held when the wait ended (0: the order is not there yet)."""
    waited_seconds: float

    def __str__(self) -> str:
        if self.reached:
            return f"order {self.order_id}: read model at version {self.seen_version}"
        return (
            f"order {self.order_id}: read model still at version {self.seen_version} after "
            f"{self.waited_seconds:.2f} s, waiting for version {self.version}: timed out"
        )


class QueryError(ValueError):
    """A query's arguments are invalid; the message names the argument."""


def _timestamp(name: str, value: str) -> str:
    try:
        return timestamp(value, round_up=True)  # for `>=` and `<`: see clock.timestamp
    except ValueError:
        raise QueryError(f"{name}: {value!r} is not an ISO 8601 date or date-time") from None


class OrderQueries:
    """Read `order_summary` through a read-only connection."""

    def __init__(self, read_db: str | Path | Backend) -> None:
        """Open the read model read-only; it must exist (the projector creates it)."""
        self.conn = open_backend(read_db).connect(read_only=True, by_name=True)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _summary(self, row: Any) -> OrderSummary:
        columns = {**row}
        columns.pop("state", None)  # the folded state the row was read off: not for clients
        return OrderSummary(**{**columns, "skus": tuple(json.loads(columns["skus"]))})

    def get(self, order_id: str) -> OrderSummary | None:
        """One order's summary, or None if the read model does not hold it (yet)."""
        row = self.conn.execute(
            "SELECT * FROM order_summary WHERE order_id = ?", (order_id,)
        ).fetchone()
        return None if row is None else self._summary(row)

    # --8<-- [start:search]
    def search(
        self,
        *,
        customer_id: str | None = None,
        status: str | None = None,
        placed_from: str | None = None,
        placed_before: str | None = None,
        sku: str | None = None,
        limit: int = 50,
        after: tuple[str, str] | None = None,
    ) -> list[OrderSummary]:
        """Orders matching every filter given, newest first, at most `limit` of them.

        Args:
            customer_id: orders of this customer.
            status: orders in this status (one of `STATUSES`).
            placed_from: orders placed at or after this date or date-time (UTC if naive).
            placed_before: orders placed before this date or date-time.
            sku: orders with a line of this product.
            limit: 1 to `MAX_LIMIT`.
            after: `(placed_at, order_id)` of the last row of the page before: the next page.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
        if status is not None and status not in STATUSES:
            raise QueryError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
        sql = "SELECT s.* FROM order_summary AS s"
        where: list[str] = []
        params: list[Any] = []
        if sku is not None:
            sql += " JOIN order_summary_skus AS k ON k.order_id = s.order_id"
            where.append("k.sku = ?")
            params.append(sku)
        for clause, value in (("s.customer_id = ?", customer_id), ("s.status = ?", status)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if placed_from is not None:
            where.append("s.placed_at >= ?")
            params.append(_timestamp("placed_from", placed_from))
        if placed_before is not None:
            where.append("s.placed_at < ?")
            params.append(_timestamp("placed_before", placed_before))
        if after is not None:  # keyset paging: rows after the last one seen, in the same order
            where.append("(s.placed_at, s.order_id) < (?, ?)")
            params.extend(after)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.placed_at DESC, s.order_id DESC LIMIT ?"
        return [self._summary(row) for row in self.conn.execute(sql, [*params, limit])]

    # --8<-- [end:search]

    def checkpoint(self) -> int:
        """The highest global position the projector has handled (0: nothing yet)."""
        row = self.conn.execute(
            "SELECT position FROM tracking WHERE subscriber = ?", (PROJECTION,)
        ).fetchone()
        return 0 if row is None else row["position"]

    def versions_of(self, order_ids: Sequence[str]) -> dict[str, int]:
        """The versions the read model holds for these orders, in one read (absent: not yet)."""
        if not order_ids:
            return {}  # PostgreSQL refuses `IN ()`
        marks = ", ".join("?" * len(order_ids))
        rows = self.conn.execute(
            f"SELECT order_id, last_version FROM order_summary WHERE order_id IN ({marks})",
            tuple(order_ids),
        )
        return {row["order_id"]: int(row["last_version"]) for row in rows}

    def version_of(self, order_id: str) -> int:
        """The order's version the read model holds (0: not there yet): one short read."""
        row = self.conn.execute(
            "SELECT last_version FROM order_summary WHERE order_id = ?", (order_id,)
        ).fetchone()
        return 0 if row is None else int(row["last_version"])

    # --8<-- [start:wait_for]
    def wait_for(
        self, order_id: str, version: int, *, timeout: float = 1.0, poll: float = 0.01
    ) -> WaitResult:
        """Read your writes: wait until the read model holds `version` of the order.

        Returns a `WaitResult` either way; `reached` is False after `timeout` seconds.
        """
        start = time.monotonic()
        while True:
            seen = self.version_of(order_id)
            waited = time.monotonic() - start
            if seen >= version or waited >= timeout:
                return WaitResult(seen >= version, order_id, version, seen, waited)
            time.sleep(min(poll, max(timeout - waited, 0)))

    # --8<-- [end:wait_for]
