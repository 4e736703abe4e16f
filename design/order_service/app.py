"""The composition root: wire the boxes of the diagram into one running Order Service.

`bootstrap` is the only place that knows every part; each part knows only what it is given.
The HTTP API's per-request connections come from `OrderService.session()`, wired here too.
Two databases, as in the diagram: the write database (events, outbox, snapshots) and the
read database (the `order_summary` read model), each a SQLite file (the default) or a schema
on a PostgreSQL server (`postgresql://...`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from order_service.bus.in_process import Bus, Publisher
from order_service.bus.subscription import (
    ELSEWHERE,
    Status,
    Subscriber,
    Subscription,
    SubscriptionWorker,
    read_status,
)
from order_service.infra.clock import new_id as new_uuid
from order_service.infra.clock import utc_now
from order_service.infra.database import Backend, backend_of, open_backend
from order_service.model.events import canonical_event
from order_service.read.notifications import NOTIFIER, ShippingNotifier
from order_service.read.projections import OrderSummaryProjector, rebuild
from order_service.read.queries import OrderQueries
from order_service.read.read_model import open_read_model
from order_service.write.handlers import SNAPSHOT_EVERY, CommandHandler
from order_service.write.outbox import Relay, RelayWorker
from order_service.write.store import EventStore

if TYPE_CHECKING:  # the Kafka modules import confluent-kafka: only a `--bus kafka://` loads them
    from order_service.bus.kafka import KafkaBus
    from order_service.bus.kafka_consumer import KafkaSubscription


def read_db_for(write_db: str | Path | Backend) -> Backend:
    """The read database that goes with a write database.

    `orders.db` -> `orders.read.db`; the schema `orders` -> `orders_read` on the same server.
    """
    return open_backend(write_db).sibling("read")


@dataclass
class Session:
    """One connection set for one thread: the store, its command handler, the queries."""

    store: EventStore
    handle: CommandHandler
    """Call with a command; returns the version written."""
    queries: OrderQueries
    """Read-only connection to the read database."""

    def broken(self) -> bool:
        """True if a connection is known to be lost (a database restart): discard the session."""
        return self.store.db.is_broken(self.store.conn) or backend_of(self.queries.conn).is_broken(
            self.queries.conn
        )

    def close(self) -> None:
        """Close the connections."""
        self.queries.close()
        self.store.close()


@dataclass
class OrderService:
    """The running design: command side, outbox relay, bus, subscriptions, query side."""

    write_db: Backend
    read_db: Backend
    clock: Callable[[], str]
    new_id: Callable[[], str]
    snapshot_every: int
    store: EventStore
    """The command handler's connection to the write database."""
    handle: CommandHandler
    """Call with a command; returns the version written."""
    bus: Bus
    relay: Relay
    """Has its own connection to the write database, so a worker thread can own it."""
    projector: OrderSummaryProjector
    subscriptions: dict[str, Subscription]
    """One per subscriber, each with its own connections: the projector's, the notifier's."""
    subscriber_dbs: dict[str, Backend]
    """Each subscriber's own database: the read database for the projector, a sibling of the
    write database for any other (`orders.shipping_notifier.db`, `orders_shipping_notifier`)."""
    queries: OrderQueries
    """Read-only connection to the read database."""
    kafka: KafkaBus | None = None
    """The Kafka bus the relay publishes to, or None for the embedded bus. On Kafka, the
    subscribers run in processes of their own (`kafka_subscription`), not in `workers()`."""

    def session(self) -> Session:
        """A new store, command handler and queries, wired as the service's own (one thread)."""
        return _session(self.write_db, self.read_db, self.clock, self.new_id, self.snapshot_every)

    def catch_up(self) -> int:
        """Let every subscriber handle every event stored now, in this thread; return how many."""
        return sum(subscription.catch_up() for subscription in self.subscriptions.values())

    @property
    def notifier(self) -> ShippingNotifier:
        """The shipping notifier (a subscriber with its own database)."""
        return cast(ShippingNotifier, self.subscriptions[NOTIFIER].subscriber)

    def add_subscriber(self, make: Callable[[Any], Subscriber], name: str) -> Subscriber:
        """Subscribe `make(conn)`, named `name`, over its own database; returns it.

        The database is a sibling of the write database, so on SQLite the subscriber's
        transactions hold no other subscriber's write lock.
        """
        db = self.write_db.sibling(name)
        subscriber = make(db.connect())
        self._subscribe(subscriber, db)
        return subscriber

    def _subscribe(self, subscriber: Subscriber, db: Backend) -> None:
        store = EventStore(self.write_db, clock=self.clock)  # the subscription's own reader
        self.subscriptions[subscriber.name] = Subscription(store, subscriber, clock=self.clock)
        self.subscriber_dbs[subscriber.name] = db

    def status(self, workers: Mapping[str, str] | None = None) -> list[Status]:
        """Each subscriber's position, lag and parked events; any thread may call it.

        On Kafka the subscribers' workers run in processes of their own: their parked events
        and tracking records are in the databases read here, their worker state is not.

        It reads through connections of its own, opened and closed here.
        """
        with closing(self.write_db.connect(read_only=True)) as conn:
            (head,) = conn.execute("SELECT COALESCE(MAX(position), 0) FROM order_events").fetchone()
        found = []
        absent = "not started" if self.kafka is None else ELSEWHERE
        for name, db in self.subscriber_dbs.items():
            with closing(db.connect(read_only=True)) as conn:
                found.append(read_status(conn, name, head, (workers or {}).get(name, absent)))
        return found

    def replay(self) -> int:
        """Rebuild the read model from the event store; no subscriber runs, no side effect."""
        with closing(open_read_model(self.read_db)) as conn:
            return rebuild(self.store, conn, clock=self.clock)

    def worker(self, *, interval: float = 0.01) -> RelayWorker:
        """A background relay alone (use it in a `with` block); do not call `relay` meanwhile."""
        return RelayWorker(self.relay, interval=interval)

    def workers(self, *, interval: float = 0.01) -> Workers:
        """The relay and, on the embedded bus, one worker per subscription (not started)."""
        return Workers(self, interval=interval)

    def kafka_subscription(self, name: str, **settings: Any) -> KafkaSubscription:
        """Subscriber `name` fed by the Kafka bus (`settings`: consumer configuration)."""
        from order_service.bus.kafka_consumer import KafkaSubscription

        if self.kafka is None:
            raise ValueError("the service runs on the embedded bus: give it a kafka:// bus")
        subscriber = self.subscriptions[name].subscriber
        return KafkaSubscription(self.kafka, subscriber, clock=self.clock, **settings)

    def close(self) -> None:
        """Close every connection."""
        self.queries.close()
        for subscription in self.subscriptions.values():
            subscription.store.close()
            subscription.subscriber.conn.close()
        self.relay.store.close()
        self.store.close()
        close_publisher = getattr(self.relay.publisher, "close", None)
        if close_publisher is not None:
            close_publisher()  # a producer: wait for what is in flight


class Workers:
    """The background threads of `orders serve`: the relay, and a worker per subscriber.

    Each fails alone: a worker that fails logs it at once, shows it in `states()` and retries
    with backoff, reconnecting, until its database is back or it is stopped.
    """

    def __init__(self, service: OrderService, *, interval: float) -> None:
        self.service = service
        self.relay = RelayWorker(service.relay, interval=interval)
        embedded = service.kafka is None  # on Kafka the subscribers run in their own processes
        self.subscriptions = {
            name: SubscriptionWorker(subscription, interval=max(interval, 0.05))
            for name, subscription in service.subscriptions.items()
            if embedded
        }

    def start(self) -> Workers:
        """Start every thread; the bus wakes each subscription worker on a publish."""
        for name, worker in self.subscriptions.items():
            self.service.bus.subscribers[name] = worker.wake
            worker.start()
        self.relay.start()
        return self

    def states(self) -> dict[str, str]:
        """Each worker's state, by subscriber name (the relay as `outbox_relay`)."""
        states = {name: worker.state for name, worker in self.subscriptions.items()}
        return {**states, "outbox_relay": self.relay.state}

    def failed(self) -> list[str]:
        """The workers whose last run failed (a database away), by name: empty if none."""
        failed = [name for name, worker in self.subscriptions.items() if worker.failed]
        return [*failed, "outbox_relay"] if self.relay.failed else failed

    def stop(self) -> list[str]:
        """Stop every thread; returns `failed()` as it was when they stopped."""
        for worker in self.subscriptions.values():
            worker.stop()
        abort = getattr(self.service.relay.publisher, "abort", None)
        if abort is not None:
            abort()  # a broker's producer stops waiting for acknowledgements
        self.relay.stop()
        return self.failed()

    def __enter__(self) -> Workers:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _session(
    write_db: Backend,
    read_db: Backend,
    clock: Callable[[], str],
    new_id: Callable[[], str],
    snapshot_every: int,
) -> Session:
    # Every new event is checked by the event model before it is stored: the boundary.
    store = EventStore(write_db, clock=clock, validate=canonical_event)
    handle = CommandHandler(store, new_id=new_id, clock=clock, snapshot_every=snapshot_every)
    return Session(store, handle, OrderQueries(read_db))


def bootstrap(
    write_db: str | Path | Backend,
    read_db: str | Path | Backend | None = None,
    *,
    clock: Callable[[], str] = utc_now,
    new_id: Callable[[], str] = new_uuid,
    snapshot_every: int = SNAPSHOT_EVERY,
    bus: str | None = None,
) -> OrderService:
    """Open (creating if needed) both databases and wire the service.

    Args:
        write_db: the write database: a SQLite file, a `postgresql://` URL or a `Backend`.
        read_db: the read database; by default `read_db_for(write_db)`.
        clock: the time source (fixed in the demo and tests, so runs repeat).
        new_id: the event id source (likewise).
        snapshot_every: the snapshot policy, in events.
        bus: None for the embedded bus, or `kafka://HOST:PORT[/TOPIC]` (the relay creates the
            topic if it is missing; a ValueError names a bad URL).
    """
    kafka, publisher = _kafka_publisher(bus) if bus is not None else (None, None)
    write_db = open_backend(write_db)
    read_db = read_db_for(write_db) if read_db is None else open_backend(read_db)
    projector = OrderSummaryProjector(open_read_model(read_db))  # creates the read model first
    session = _session(write_db, read_db, clock, new_id, snapshot_every)
    embedded = Bus()
    service = OrderService(
        write_db=write_db,
        read_db=read_db,
        clock=clock,
        new_id=new_id,
        snapshot_every=snapshot_every,
        store=session.store,
        handle=session.handle,
        bus=embedded,
        relay=Relay(EventStore(write_db, clock=clock), publisher or embedded, clock=clock),
        projector=projector,
        subscriptions={},
        subscriber_dbs={},
        queries=session.queries,
        kafka=kafka,
    )
    service._subscribe(projector, read_db)
    service.add_subscriber(ShippingNotifier, NOTIFIER)
    return service


def _kafka_publisher(url: str) -> tuple[KafkaBus, Publisher]:
    """The Kafka bus at `url` and the relay's producer on it (the topic created if missing)."""
    from order_service.bus.kafka import KafkaBus, KafkaPublisher

    kafka = KafkaBus.parse(url)
    return kafka, KafkaPublisher(kafka)
