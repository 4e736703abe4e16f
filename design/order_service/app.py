"""The composition root: wire the boxes of the diagram into one running Order Service.

`bootstrap` is the only place that knows every part; each part knows only what it is given.
Two databases, as in the diagram: the write database (events, outbox, snapshots) and the
read database (the `order_summary` read model), each a SQLite file (the default) or a schema
on a PostgreSQL server (`postgresql://...`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from order_service.bus.in_process import Bus
from order_service.infra.clock import new_id as new_uuid
from order_service.infra.clock import utc_now
from order_service.infra.database import Backend, open_backend
from order_service.model.events import canonical_event
from order_service.read.notifications import ShippingNotifier
from order_service.read.projections import OrderSummaryProjector, rebuild
from order_service.read.queries import OrderQueries
from order_service.read.read_model import open_read_model
from order_service.write.handlers import SNAPSHOT_EVERY, CommandHandler
from order_service.write.outbox import Relay, RelayWorker
from order_service.write.store import EventStore


def read_db_for(write_db: str | Path | Backend) -> Backend:
    """The read database that goes with a write database.

    `orders.db` -> `orders.read.db`; the schema `orders` -> `orders_read` on the same server.
    """
    return open_backend(write_db).sibling("read")


@dataclass
class OrderService:
    """The running design: command side, outbox relay, bus, projector, query side."""

    write_db: Backend
    read_db: Backend
    store: EventStore
    """The command handler's connection to the write database."""
    handle: CommandHandler
    """Call with a command; returns the version written."""
    bus: Bus
    relay: Relay
    """Has its own connection to the write database, so a worker thread can own it."""
    projector: OrderSummaryProjector
    notifier: ShippingNotifier
    queries: OrderQueries
    """Read-only connection to the read database."""

    def replay(self) -> int:
        """Rebuild the read model from the event store; no bus, so no side effect fires."""
        with closing(open_read_model(self.read_db)) as conn:
            return rebuild(self.store, conn)

    def worker(self, *, interval: float = 0.01) -> RelayWorker:
        """A background relay (use it in a `with` block); do not call `relay` meanwhile."""
        return RelayWorker(self.relay, interval=interval)

    def close(self) -> None:
        """Close every connection."""
        self.queries.close()
        self.projector.conn.close()
        self.relay.store.close()
        self.store.close()


def bootstrap(
    write_db: str | Path | Backend,
    read_db: str | Path | Backend | None = None,
    *,
    clock: Callable[[], str] = utc_now,
    new_id: Callable[[], str] = new_uuid,
    snapshot_every: int = SNAPSHOT_EVERY,
) -> OrderService:
    """Open (creating if needed) both databases and wire the service.

    Args:
        write_db: the write database: a SQLite file, a `postgresql://` URL or a `Backend`.
        read_db: the read database; by default `read_db_for(write_db)`.
        clock: the time source (fixed in the demo and tests, so runs repeat).
        new_id: the event id source (likewise).
        snapshot_every: the snapshot policy, in events.
    """
    write_db = open_backend(write_db)
    read_db = read_db_for(write_db) if read_db is None else open_backend(read_db)
    # Every new event is checked by the event model before it is stored: the boundary.
    store = EventStore(write_db, clock=clock, validate=canonical_event)
    bus = Bus()
    projector = OrderSummaryProjector(open_read_model(read_db))
    notifier = ShippingNotifier()
    bus.subscribe("order_summary projector", projector)
    bus.subscribe("shipping notifier", notifier)
    return OrderService(
        write_db=write_db,
        read_db=read_db,
        store=store,
        handle=CommandHandler(store, new_id=new_id, clock=clock, snapshot_every=snapshot_every),
        bus=bus,
        relay=Relay(EventStore(write_db, clock=clock), bus, clock=clock),
        projector=projector,
        notifier=notifier,
        queries=OrderQueries(read_db),
    )
