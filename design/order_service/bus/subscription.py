"""Catch-up subscriptions: each subscriber pulls the store's log after its own position.

A subscriber (the projector, the notifier, any added later) owns a database connection.
`Subscription.run_once` reads a batch of events after its tracking position, and applies them in
transactions on that connection, each recording the position of its last event in the same
transaction (a tracking record): a crash leaves both or neither, so nothing is lost and nothing
is applied twice. A transaction takes events until `TRANSACTION_SECONDS` have passed, so a
subscriber behind by many events pays for one commit per batch, not one per event (on
PostgreSQL each statement is a round trip). Each subscriber runs in its own thread, advances,
lags and fails alone.

An event the subscriber cannot apply is parked (`parked_events`), logged on one line at once,
and the subscriber goes on with the other orders; the later events of a parked order are
parked behind it, so each order is still applied in version order. `redrive` retries them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from order_service.infra.database import backend_of, is_unavailable
from order_service.write.store import EventStore

log = logging.getLogger(__name__)

BATCH = 500
"""How many events one `run_once` reads from the store at most."""

TRANSACTION_SECONDS = 0.05
"""A transaction takes no further event once it has run this long: it commits, so the read
model shows its events and a slow subscriber's position moves on."""

WAITS = "waits behind an earlier parked event of its order"
"""Why an event is parked although it did not fail."""

Batch = Sequence[tuple[int, Mapping[str, Any]]]
"""Events with their global positions, in position order."""


class Subscriber(Protocol):
    """What a subscription drives: a name, a connection, and how to apply one event."""

    name: str
    conn: Any

    def apply(self, event: Mapping[str, Any], position: int) -> None:
        """Apply one event through `self.conn`, inside the transaction the caller holds."""


class BatchSubscriber(Subscriber, Protocol):
    """A subscriber that can also apply many events at once (the projector: fewer statements)."""

    def apply_batch(self, events: Batch) -> dict[int, str]:
        """Apply `events` in order; return the positions refused, with why.

        After refusing an event it applies no later event of that order. Raising instead
        means nothing is known: the subscription rolls it back and applies them one by one.
        """


@dataclass(frozen=True)
class Parked:
    """An event a subscriber could not apply (or one waiting behind it in its order)."""

    subscriber: str
    position: int
    event_id: str
    order_id: str
    version: int
    error: str
    parked_at: str


@dataclass(frozen=True)
class Status:
    """One subscriber as the health endpoint and `orders status` show it."""

    subscriber: str
    position: int
    lag: int
    """How many positions the subscriber is behind the store's head."""
    parked: tuple[Parked, ...]
    worker: str
    """`running`, `failing: <error>`, `stopped`, `not started`, or `in another process` (Kafka)."""

    @property
    def healthy(self) -> bool:
        """True unless events are parked or the worker is failing."""
        return not self.parked and not self.worker.startswith("failing")

    def to_dict(self) -> dict[str, Any]:
        """As JSON: the parked events as objects."""
        return {
            "subscriber": self.subscriber,
            "healthy": self.healthy,
            "position": self.position,
            "lag": self.lag,
            "worker": self.worker,
            "parked": [vars(parked) for parked in self.parked],
        }


class Tracking:
    """A subscriber's tracking record and parked events, in the subscriber's own database."""

    def __init__(self, name: str, conn: Any) -> None:
        self.name = name
        self.conn = conn
        self.db = backend_of(conn)
        self.db.create(conn, "subscription")  # subscription.sql: tracking, parked_events
        with self.db.transaction(conn):
            conn.execute(
                "INSERT INTO tracking (subscriber, position) VALUES (?, 0) "
                "ON CONFLICT (subscriber) DO NOTHING",
                (name,),
            )

    def position(self, *, lock: bool = False) -> int:
        """The highest position handled; `lock` (in a transaction) holds other writers off."""
        (position,) = self.conn.execute(
            "SELECT position FROM tracking WHERE subscriber = ?"
            + (self.db.for_update if lock else ""),
            (self.name,),
        ).fetchone()
        return int(position)

    def advance(self, position: int) -> None:
        """Record `position` as handled (in the caller's transaction)."""
        self.conn.execute(
            "UPDATE tracking SET position = ? WHERE subscriber = ? AND position < ?",
            (position, self.name, position),
        )

    def parked_orders(self) -> set[str]:
        """The orders with a parked event: their later events must wait behind it."""
        rows = self.conn.execute(
            "SELECT DISTINCT order_id FROM parked_events WHERE subscriber = ?", (self.name,)
        ).fetchall()
        return {order_id for (order_id,) in rows}

    def is_parked(self, order_id: str, *, before: int) -> bool:
        """True if an event of the order before position `before` is parked."""
        found = self.conn.execute(
            "SELECT 1 FROM parked_events WHERE subscriber = ? AND order_id = ? AND position < ? "
            "LIMIT 1",
            (self.name, order_id, before),
        ).fetchone()
        return found is not None

    def parked_at(self, position: int) -> bool:
        """True if the event at `position` is parked (a broker may deliver it again)."""
        found = self.conn.execute(
            "SELECT 1 FROM parked_events WHERE subscriber = ? AND position = ?",
            (self.name, position),
        ).fetchone()
        return found is not None

    def park(self, event: Mapping[str, Any], position: int, error: str, at: str) -> None:
        """Record the event as parked (in the caller's transaction)."""
        self.conn.execute(
            "INSERT INTO parked_events (subscriber, position, event_id, order_id, version, "
            "error, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (subscriber, position) DO UPDATE SET error = excluded.error",
            (
                self.name,
                position,
                str(event.get("event_id")),
                str(event.get("order_id")),
                event.get("version") if type(event.get("version")) is int else 0,
                error,
                at,
            ),
        )

    def parked(self) -> tuple[Parked, ...]:
        """The parked events, in position order."""
        rows = self.conn.execute(
            "SELECT subscriber, position, event_id, order_id, version, error, parked_at "
            "FROM parked_events WHERE subscriber = ? ORDER BY position",
            (self.name,),
        ).fetchall()
        return tuple(Parked(*row) for row in rows)


ELSEWHERE = "in another process"
"""A subscriber's worker on Kafka: `orders project` or `orders notify`, not this process."""


def read_status(conn: Any, name: str, head: int, worker: str = "not started") -> Status:
    """Subscriber `name`'s status, read through `conn` (any connection to its database).

    `head` is the store's last position; `worker` its worker's state.
    """
    found = conn.execute("SELECT position FROM tracking WHERE subscriber = ?", (name,)).fetchone()
    position = 0 if found is None else found[0]
    parked = conn.execute(
        "SELECT subscriber, position, event_id, order_id, version, error, parked_at "
        "FROM parked_events WHERE subscriber = ? ORDER BY position",
        (name,),
    ).fetchall()
    return Status(
        name, position, max(head - position, 0), tuple(Parked(*r) for r in parked), worker
    )


def apply_in_savepoint(
    subscriber: Subscriber, event: Mapping[str, Any], position: int
) -> str | None:
    """Apply in a savepoint; None if it worked, else the error (its writes rolled back)."""
    conn = subscriber.conn
    conn.execute("SAVEPOINT apply_event")
    try:
        subscriber.apply(event, position)
    except Exception as error:  # the subscriber's failure, whatever it is: parked, not lost
        conn.execute("ROLLBACK TO SAVEPOINT apply_event")
        conn.execute("RELEASE SAVEPOINT apply_event")
        return f"{type(error).__name__}: {error}"
    conn.execute("RELEASE SAVEPOINT apply_event")
    return None


class Subscription:
    """Drive one subscriber over the store's log, from its tracking position on.

    Args:
        store: the subscription's own connection to the write database (read only).
        subscriber: what applies the events, with its own connection.
        clock: the time written on a parked event.
        transaction_seconds: after how long a transaction takes no further event.
    """

    def __init__(
        self,
        store: EventStore,
        subscriber: Subscriber,
        *,
        clock: Callable[[], str],
        transaction_seconds: float = TRANSACTION_SECONDS,
    ) -> None:
        self.store = store
        self.subscriber = subscriber
        self.name = subscriber.name
        self.clock = clock
        self.transaction_seconds = transaction_seconds
        self.tracking = Tracking(subscriber.name, subscriber.conn)

    # --8<-- [start:handle]
    def handle(self, events: Batch) -> int:
        """Apply `events` in one transaction, with one tracking update; return how many it took.

        A `BatchSubscriber` takes them all at once. Otherwise it takes them in order until
        `transaction_seconds` have passed (one at least), each in its own savepoint: one that
        fails is rolled back. An event refused is parked, the later events of its order are
        parked behind it, and the others are applied.
        """
        tracking = self.tracking
        parked: list[tuple[int, Mapping[str, Any], str]] = []
        deadline = time.monotonic() + self.transaction_seconds
        with tracking.db.transaction(tracking.conn):
            done = tracking.position(lock=True)  # a redrive, or another worker, got there first?
            todo = [(position, event) for position, event in events if position > done]
            if not todo:
                return len(events)
            blocked = tracking.parked_orders()
            refused = self._apply_batch([pe for pe in todo if pe[1]["order_id"] not in blocked])
            taken = 0
            for position, event in todo:
                if refused is None and taken and time.monotonic() >= deadline:
                    break
                order_id = event["order_id"]
                if order_id in blocked:
                    error: str | None = WAITS
                elif refused is not None:
                    error = refused.get(position)
                else:
                    error = apply_in_savepoint(self.subscriber, event, position)
                if error is not None:
                    parked.append((position, event, error))
                    blocked.add(order_id)
                taken += 1
            at = self.clock()
            for position, event, error in parked:
                tracking.park(event, position, error, at)
            tracking.advance(todo[taken - 1][0])
        for position, event, error in parked:
            log.error(
                "subscriber %s parked event %s of order %s (version %s) at position %s: %s",
                self.name, event.get("event_id"), event["order_id"], event.get("version"),
                position, error,
            )  # fmt: skip
        return len(events) - len(todo) + taken

    # --8<-- [end:handle]

    def _apply_batch(self, events: Batch) -> dict[int, str] | None:
        """The refused positions if the subscriber applied `events` as a batch; None if it
        cannot, or raised (then rolled back: its events are applied one by one)."""
        apply_batch: Callable[[Batch], dict[int, str]] | None = getattr(
            self.subscriber, "apply_batch", None
        )
        if apply_batch is None or not events:
            return None if apply_batch is None else {}
        conn = self.subscriber.conn
        conn.execute("SAVEPOINT apply_batch")
        try:
            refused = apply_batch(events)
        except Exception as error:  # e.g. a constraint: each event's own savepoint will say
            conn.execute("ROLLBACK TO SAVEPOINT apply_batch")
            conn.execute("RELEASE SAVEPOINT apply_batch")
            log.warning("subscriber %s: a batch failed (%s), applying it event by event",
                        self.name, error)  # fmt: skip
            return None
        conn.execute("RELEASE SAVEPOINT apply_batch")
        return refused

    def run_once(self, *, limit: int = BATCH) -> int:
        """Handle up to `limit` events after the tracking position; return how many."""
        events = list(self.store.read_all(after_position=self.tracking.position(), limit=limit))
        handled = 0
        while handled < len(events):
            handled += self.handle(events[handled:])
        return len(events)

    def reconnect(self) -> None:
        """Replace the subscription's connections if the server dropped them (a restart)."""
        for conn in (self.store.conn, self.subscriber.conn):
            backend_of(conn).reconnect(conn)

    def catch_up(self) -> int:
        """Handle every event stored now; return how many."""
        total = 0
        while handled := self.run_once():
            total += handled
        return total

    def redrive(self) -> tuple[int, int]:
        """Apply the parked events again, in position order; return (applied, still parked).

        An order's parked events are retried in version order; at the first that fails again,
        it and the order's later events stay parked (with the new error).
        """
        tracking = self.tracking
        applied = 0
        failed: set[str] = set()
        for parked in tracking.parked():
            if parked.order_id in failed:
                continue
            events = self.store.read_all(after_position=parked.position - 1)
            try:
                position, event = next(events)  # the parked event itself
            finally:
                events.close()  # type: ignore[attr-defined]  # a generator: closing ends its cursor
            with tracking.db.transaction(tracking.conn):
                tracking.position(lock=True)  # the worker waits for this redrive
                error = apply_in_savepoint(self.subscriber, event, position)
                if error is None:
                    self.tracking.conn.execute(
                        "DELETE FROM parked_events WHERE subscriber = ? AND position = ?",
                        (self.name, position),
                    )
                else:
                    tracking.park(event, position, error, self.clock())
            if error is None:
                applied += 1
            else:
                failed.add(parked.order_id)
                log.error(
                    "subscriber %s: redriven event %s of order %s at position %s failed again: %s",
                    self.name, parked.event_id, parked.order_id, position, error,
                )  # fmt: skip
        return applied, len(tracking.parked())


class SubscriptionWorker:
    """Run a subscription in its own thread until stopped, waking when the bus publishes.

    A failure outside an event (its database unreachable, restarted or locked too long) is
    logged at once and shown by `state` as `failing: ...`; the worker reconnects and retries,
    waiting longer each time (up to `MAX_BACKOFF` seconds), and the other workers go on.
    """

    MAX_BACKOFF = 5.0

    def __init__(self, subscription: Subscription, *, interval: float = 0.05) -> None:
        self.subscription = subscription
        self.interval = interval
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"subscription {subscription.name}", daemon=True
        )

    def start(self) -> SubscriptionWorker:
        """Start the thread."""
        self._thread.start()
        return self

    def wake(self) -> None:
        """Make a waiting worker read the store now (the bus calls it on each publish)."""
        self._wake.set()

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if self.error is not None and is_unavailable(self.error):
                    self.subscription.reconnect()  # the last run's connection may be lost
                handled = self.subscription.run_once()
            except Exception as error:  # the subscriber's database, not an event: retried
                self.error = error
                log.error(
                    "subscription %s failed, retrying in %.2f s: %s: %s",
                    self.subscription.name, backoff, type(error).__name__, error,
                )  # fmt: skip
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.MAX_BACKOFF)
                continue
            if self.error is not None:
                log.warning("subscription %s recovered", self.subscription.name)
            self.error, backoff = None, self.interval
            if handled == 0:
                self._wake.wait(self.interval)

    @property
    def failed(self) -> bool:
        """True if the last run failed (so far not recovered)."""
        return self.error is not None

    @property
    def state(self) -> str:
        """`running`, `failing: <error>`, `stopped` or `not started`."""
        error = self.error
        if error is not None:
            return f"failing: {type(error).__name__}: {error}"
        if self._thread.is_alive():
            return "running"
        return "stopped" if self._stop.is_set() else "not started"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the subscription {self.subscription.name} did not stop")
