"""The outbox relay: publish what the store committed, then mark it sent.

`EventStore.append` writes each event's outbox row in the event's own transaction, so an
event is never committed without its announcement (no dual write). The relay publishes the
unsent rows in position order to a `Publisher` (the embedded bus, or a broker) and marks them
sent only after `publish` returned. A crash between the commit and the publish, or between the
publish and the mark, loses nothing: the next run publishes the rest again (at least once).
The relay runs no subscriber code: subscribers read the store on their own
(`bus.subscription`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from order_service.bus.in_process import Publisher, publish_in_order
from order_service.infra.database import is_unavailable
from order_service.write.store import EventStore

log = logging.getLogger(__name__)


class Relay:
    """Publish unsent outbox rows.

    Several relays may run over one outbox: each run claims its rows in one transaction
    (SQLite lets one writer in at a time; PostgreSQL skips rows another relay holds with
    `FOR UPDATE SKIP LOCKED`, row locks that appends never wait for), so no row is published
    twice by runs that commit, and an order's events are published in version order. On
    SQLite the claim is the file's write lock: the embedded bus's publish only wakes the
    subscriptions, so commands wait microseconds. A broker's publish would hold them for as
    long as the broker takes, so on SQLite a broker's rows are read without a claim and marked
    in a short transaction after the acknowledgements.
    """

    def __init__(
        self, store: EventStore, publisher: Publisher, *, clock: Callable[[], str]
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.clock = clock

    def pending(self) -> int:
        """How many outbox rows wait to be published."""
        return self.store.pending()

    # --8<-- [start:run_once]
    def run_once(self, *, limit: int | None = None) -> int:
        """Publish up to `limit` unsent events in position order; return how many.

        A failed publish stops the run: that event and the ones after it stay unsent, and the
        events accepted before it are marked sent.
        """
        if self._waits_for_a_broker():
            return self._run_outside_the_write_lock(limit)
        with self.store.transaction():  # the claim on the rows lasts until the commit
            claimed = self.store.unsent(limit=limit)
            published, failure = publish_in_order(self.publisher, claimed)
            # Marked after the publisher accepted them: a crash in between means one more publish.
            for position, _event in claimed[:published]:
                self.store.mark_sent(position, self.clock())
        if failure is not None:
            raise failure
        return published

    # --8<-- [end:run_once]

    def _waits_for_a_broker(self) -> bool:
        """True on SQLite with a broker's producer: its claim would be the file's write lock,
        held (commands waiting, then failing) for as long as the broker takes to answer."""
        batches = getattr(self.publisher, "publish_batch", None) is not None
        return batches and not self.store.db.concurrent_writers

    def _run_outside_the_write_lock(self, limit: int | None) -> int:
        """Read the unsent rows, publish them, then mark the accepted ones in a short transaction.

        Two such relays may publish a row twice (each subscriber absorbs the copy); each still
        publishes an order's unsent events from its first one, in version order.
        """
        unsent = self.store.unsent(limit=limit)
        published, failure = publish_in_order(self.publisher, unsent)
        if published:
            with self.store.transaction():
                for position, _event in unsent[:published]:
                    self.store.mark_sent(position, self.clock())
        if failure is not None:
            raise failure
        return published


class RelayWorker:
    """Run a relay in a background thread, supervised.

    A failure (the database restarted or away) is logged at once and shown by `state` as
    `failing: <error>`; the worker reconnects and retries, waiting longer each time (up to
    `MAX_BACKOFF` seconds), so nothing stays unpublished once the database is back. It is
    never a silently dead thread: `failed` says whether its last run failed.
    """

    MAX_BACKOFF = 5.0

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
        store = self.relay.store
        backoff = self.interval
        listening = False
        while not self._stop.is_set():
            try:
                if self.error is not None and (
                    is_unavailable(self.error) or store.db.is_broken(store.conn)
                ):  # the last run lost its connection (a restart): open a new one
                    store.db.reconnect(store.conn)
                    listening = False
                if not listening:
                    store.db.listen(store.conn)  # PostgreSQL: an append's commit wakes the wait
                    listening = True
                published = self.relay.run_once()
            except Exception as error:  # the database, or the publisher: retried, never fatal
                self.error = error
                log.error(
                    "outbox relay failed, retrying in %.2f s: %s: %s",
                    backoff, type(error).__name__, error,
                )  # fmt: skip
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.MAX_BACKOFF)
                continue
            if self.error is not None:
                log.warning("outbox relay recovered")
            self.error, backoff = None, self.interval
            if published == 0:
                try:
                    store.db.wait_for_append(store.conn, self.interval, self._stop)
                except Exception as error:  # the connection was lost while waiting
                    self.error = error
                    log.error("outbox relay failed: %s: %s", type(error).__name__, error)

    @property
    def failed(self) -> bool:
        """True if the last run failed (so far not recovered)."""
        return self.error is not None

    @property
    def state(self) -> str:
        """`running`, `failing: <error>`, `stopped` or `not started`."""
        error = self.error
        if self._thread.is_alive():
            return "running" if error is None else f"failing: {type(error).__name__}: {error}"
        if error is not None:
            return f"failing: {type(error).__name__}: {error}"
        return "stopped" if self._stop.is_set() else "not started"

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the thread to end (it ends when stopped)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; `failed` then says whether its last run had failed."""
        self._stop.set()
        if self._thread.is_alive():
            try:
                self.relay.store.db.wake()  # a worker waiting for a notification wakes now
            except Exception as error:  # the database is away: the wait ends at its timeout
                log.warning("could not wake the outbox relay: %s", error)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the relay worker did not stop within {timeout} s")

    def __enter__(self) -> RelayWorker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
