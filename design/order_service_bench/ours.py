"""Our side of each comparison, through the design's own entry points.

Nothing here is tuned for the benchmark: a rebuild is `handlers.load_order` (the latest stored
snapshot, if any, plus `EventStore.load(upcast=True)` and `fold`), an append is
`EventStore.append` with the event model's validation on (as `app.bootstrap` wires it), the read
model is `projections.rebuild`. If the design's code gets slower, these numbers do too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from order_service.model.events import canonical_event
from order_service.model.fold import OrderState, fold
from order_service.model.snapshots import take_snapshot
from order_service.read import projections
from order_service.write.handlers import load_order
from order_service.write.store import EventStore

RECORDED_AT = "2026-11-02T09:15:00Z"


def clock() -> str:
    """A fixed `recorded_at`: the benchmark's rows are the same on every run."""
    return RECORDED_AT


def open_store(path: Path, *, validate: bool = True) -> EventStore:
    """The write store on `path`, validating new events as the application does."""
    # The same boundary check `app.bootstrap` gives the store.
    return EventStore(path, clock=clock, validate=canonical_event if validate else None)


def replay(store: EventStore, order_id: str) -> OrderState | None:
    """Load the order as the command handler does: the latest snapshot, if any, plus the rest."""
    return load_order(store, order_id).state


def save_snapshot_at(store: EventStore, events: list[dict[str, Any]], version: int) -> None:
    """Store the snapshot the policy would have taken at `version` (0: none)."""
    if version:
        state = fold(events[:version])
        assert state is not None
        store.save_snapshot(take_snapshot(state))


def write_snapshot(store: EventStore, state: OrderState) -> int:
    """Take and store a snapshot of `state`, as a snapshot policy would; returns its version."""
    snapshot = take_snapshot(state)
    store.save_snapshot(snapshot)
    return snapshot.version


def drop_snapshot(store: EventStore, order_id: str) -> None:
    """Remove the order's snapshot (benchmark set-up only: the design never deletes one)."""
    with store.db.transaction(store.conn):
        store.conn.execute("DELETE FROM order_snapshots WHERE order_id = ?", (order_id,))


def summary(state: OrderState | None) -> dict[str, Any]:
    """The fields every contender must agree on."""
    assert state is not None
    return {
        "version": state.version,
        "status": state.status,
        "total": state.total,
        "lines": len(state.lines),
    }


def rebuild(store: EventStore, conn: sqlite3.Connection) -> int:
    """Rebuild `order_summary` from the whole store (the connection is opened untimed)."""
    return projections.rebuild(store, conn)
