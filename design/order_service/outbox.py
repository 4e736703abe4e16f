"""The outbox relay: publish what the store committed, then mark it sent.

`EventStore.append` writes each event's outbox row in the event's own transaction, so an
event is never committed without its announcement (no dual write). The relay publishes the
unsent rows in position order and marks each one sent after the bus accepted it. A crash
between the commit and the publish, or between the publish and the mark, loses nothing: the
next run publishes the rest again. Delivery is therefore at least once; subscribers are
idempotent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from order_service.bus import Bus
from order_service.store import EVENT_COLUMNS, EventStore, events_from_rows


class Relay:
    """Publish unsent outbox rows to the bus.

    Several relays may run over one outbox: each run claims its rows in one transaction
    (SQLite lets one writer in at a time; PostgreSQL skips rows another relay holds with
    `FOR UPDATE SKIP LOCKED`), so no row is published twice by runs that commit, and an
    order's events reach the bus in version order.
    """

    def __init__(self, store: EventStore, bus: Bus, *, clock: Callable[[], str]) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock

    def pending(self) -> int:
        """How many outbox rows wait to be published."""
        (count,) = self.store.conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"
        ).fetchone()
        return count

    # --8<-- [start:run_once]
    def run_once(self, *, limit: int | None = None) -> int:
        """Publish up to `limit` unsent events in position order; return how many.

        A subscriber's exception propagates, and that event stays unsent; the events
        published before it stay marked sent.
        """
        db, conn = self.store.db, self.store.conn
        failure: Exception | None = None
        published = 0
        with db.transaction(conn):
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS}, o.position FROM outbox AS o "
                "JOIN order_events AS e ON e.position = o.position "
                "WHERE o.sent_at IS NULL ORDER BY o.position"
                + ("" if limit is None else f" LIMIT {int(limit)}")
                + db.claim
            ).fetchall()
            if db.concurrent_writers:
                rows = self._first_in_their_orders(rows)
            for row, event in zip(rows, events_from_rows(rows), strict=True):
                position = row[8]
                try:
                    self.bus.publish(event, position)
                except Exception as error:  # raised after the commit of the rows before it
                    failure = error
                    break
                # Marked after the publish: a crash in between means one more delivery.
                conn.execute(
                    "UPDATE outbox SET sent_at = ? WHERE position = ?", (self.clock(), position)
                )
                published += 1
        if failure is not None:
            raise failure
        return published

    # --8<-- [end:run_once]

    def _first_in_their_orders(self, rows: list[Any]) -> list[Any]:
        """The claimed rows that no unsent, unclaimed row of the same order precedes.

        On PostgreSQL another relay may hold an order's earlier rows (SKIP LOCKED skipped
        them); publishing the later ones now would put the order's events out of order on
        the bus. Those wait for the next run.
        """
        if not rows:
            return rows
        mine = {row[8] for row in rows}
        unsent = self.store.conn.execute(
            "SELECT e.order_id, o.position FROM outbox AS o "
            "JOIN order_events AS e ON e.position = o.position "
            "WHERE o.sent_at IS NULL AND e.order_id = ANY(?) AND o.position <= ? "
            "ORDER BY o.position",
            (sorted({row[1] for row in rows}), max(mine)),
        ).fetchall()
        # An order is blocked from its first row held elsewhere on; rows before it are fine.
        first_blocked: dict[str, int] = {}
        for order_id, position in unsent:
            if position not in mine and order_id not in first_blocked:
                first_blocked[order_id] = position
        return [row for row in rows if row[8] < first_blocked.get(row[1], row[8] + 1)]


class RelayWorker:
    """Run a relay in a background thread, so the read model catches up on its own.

    A failure stops the worker and is raised again by `stop()`: it is never swallowed.
    """

    def __init__(self, relay: Relay, *, interval: float = 0.01) -> None:
        self.relay = relay
        self.interval = interval
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def start(self) -> RelayWorker:
        """Start the thread; returns the worker so it can be used in a `with` block."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.relay.run_once() == 0:
                    self._stop.wait(self.interval)
        except BaseException as error:  # kept for stop() to raise in the caller's thread
            self.error = error

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the thread to end (it ends on a failure)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and raise the error that stopped it, if any."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the relay worker did not stop within {timeout} s")
        if self.error is not None:
            raise self.error

    def __enter__(self) -> RelayWorker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
