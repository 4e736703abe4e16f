"""Our side of each comparison, through the design's own public entry points.

Nothing here is tuned for the benchmark: replay is `EventStore.load` + `upcast_all` + `fold`,
append is `EventStore.append` with the event model's validation on, the read model is
`projections.rebuild`. If the design's code gets slower, these numbers do too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from order_service import projections
from order_service.reducer import OrderState, Snapshot, fold, take_snapshot
from order_service.store import EventStore
from order_service.upcasting import upcast_all

RECORDED_AT = "2026-11-02T09:15:00Z"


def clock() -> str:
    """A fixed `recorded_at`: the benchmark's rows are the same on every run."""
    return RECORDED_AT


def open_store(path: Path, *, validate: bool = True) -> EventStore:
    """The write store on `path`, validating new events as the application does."""
    return EventStore(path, clock=clock, validate=validator() if validate else None)


def validator() -> Any:
    """The boundary check the application gives the store."""
    from order_service.events import parse_event

    return parse_event


def replay(store: EventStore, order_id: str) -> OrderState | None:
    """Rebuild the order from all its events."""
    return fold(upcast_all(store.load(order_id)))


def replay_from(store: EventStore, order_id: str, snapshot: Snapshot) -> OrderState | None:
    """Rebuild the order from a snapshot and the events after it."""
    return fold(upcast_all(store.load(order_id, after_version=snapshot.version)), snapshot)


def snapshot_at(events: list[dict[str, Any]], version: int) -> Snapshot:
    """The snapshot a policy would have taken at `version`."""
    state = fold(events[:version])
    assert state is not None
    return take_snapshot(state)


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
