"""What only a server database shows: relays in parallel, and positions committed in order.

SQLite lets one writer in at a time, so its positions commit in order and one relay runs at
a time. PostgreSQL lets writers of different orders work at once; they take their positions
one after the other, so a reader after its position never steps over a late commit, and
relays really run side by side. (Racing writers of one order run on both backends in
test_reliability.py.)
"""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest
from command_builders import TickingClock, add, counting_ids, pay, place
from order_service.app import bootstrap
from order_service.write.outbox import Relay
from order_service.write.store import EventStore

TIMEOUT = 60  # seconds; a bound on every wait, not an expectation


@pytest.fixture
def pg_service(postgres_server):
    """The whole design on a fresh PostgreSQL schema."""
    service = bootstrap(postgres_server.new_url(), clock=TickingClock(), new_id=counting_ids())
    yield service
    service.close()


class Recorder:
    """A publisher's log: (relay, order, version, position) in publishing order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, int, int]] = []

    def subscriber(self, relay: str):
        def record(event, position):
            time.sleep(0.002)  # a bus round trip: it widens the windows where relays overlap
            with self.lock:
                self.seen.append((relay, event["order_id"], event["version"], position))

        return record


class Publisher:
    """What a relay publishes to (a broker's producer): calls `before`, then records."""

    def __init__(self, record, before=None) -> None:
        self.record = record
        self.before = before

    def publish(self, event, position) -> None:
        if self.before is not None:
            self.before(event, position)
        self.record(event, position)


def relay_on(service, name: str, recorder: Recorder, *, before=None) -> Relay:
    """A relay with its own connection and publisher (as in another process), to `recorder`."""
    publisher = Publisher(recorder.subscriber(name), before)
    store = EventStore(service.write_db, clock=service.relay.clock)
    return Relay(store, publisher, clock=lambda: "t")


def test_several_relays_in_parallel_publish_every_event_once_each_order_in_version_order(
    service,
):
    orders, relays = [f"{2000 + n}" for n in range(12)], 4
    recorder = Recorder()
    workers = [relay_on(service, f"relay-{n}", recorder) for n in range(relays)]
    writing = threading.Event()
    writing.set()
    errors: list[BaseException] = []

    def write():
        try:
            for order_id in orders:
                service.handle(place(order_id))
            for sku in ("GLOBE", "BRASS-KEY", "ANCHOR"):
                for order_id in orders:
                    service.handle(add(order_id, sku))
        except BaseException as error:
            errors.append(error)
        finally:
            writing.clear()

    def relay(worker: Relay):
        try:  # small batches, while the writer writes: the relays overlap many times
            while writing.is_set() or worker.pending():
                worker.run_once(limit=2)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write)]
    threads += [threading.Thread(target=relay, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    for worker in workers:
        worker.store.close()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    stored = [(e["order_id"], e["version"], p) for p, e in service.store.read_all()]
    published = [(order_id, version, position) for _, order_id, version, position in recorder.seen]
    assert len(stored) == len(orders) * 4
    assert sorted(published, key=lambda e: e[2]) == stored  # every event, and each only once
    for order_id in orders:
        versions = [version for _, order, version, _ in recorder.seen if order == order_id]
        assert versions == [1, 2, 3, 4], (order_id, versions)  # in version order on the bus


def test_a_relay_skips_the_rows_another_relay_holds_and_never_overtakes_an_order(pg_service):
    service = pg_service
    for command in (place("3001"), place("3002"), pay("3001"), pay("3002")):
        service.handle(command)
    recorder = Recorder()
    holding, done = threading.Event(), threading.Event()

    def hold(event, position):  # relay A stops inside its batch until relay B has run
        holding.set()
        assert done.wait(TIMEOUT)

    first = relay_on(service, "A", recorder, before=hold)
    second = relay_on(service, "B", recorder)
    try:
        results: list[int] = []
        thread = threading.Thread(target=lambda: results.append(first.run_once(limit=2)))
        thread.start()  # A claims the first two rows: 3001 v1 and 3002 v1
        assert holding.wait(TIMEOUT)
        # B sees the rows A holds as locked and skips them; the versions 2 behind them are
        # free, but publishing them now would overtake their orders: B leaves them too.
        assert second.run_once() == 0
        service.handle(place("3003"))
        assert second.run_once() == 1  # an order A does not hold: B publishes it at once
        done.set()
        thread.join(TIMEOUT)
        assert results == [2]
        assert second.run_once() == 2  # A committed: the versions 2 follow
    finally:
        done.set()
        first.store.close()
        second.store.close()
    assert [(relay, order, version) for relay, order, version, _ in recorder.seen] == [
        ("B", "3003", 1),
        ("A", "3001", 1),
        ("A", "3002", 1),
        ("B", "3001", 2),
        ("B", "3002", 2),
    ]


def test_on_postgresql_appends_commit_in_position_order_so_a_reader_after_its_position_misses_none(
    pg_service,
):
    service = pg_service
    slow = EventStore(service.write_db, clock=lambda: "2026-11-02T09:15:00Z")
    position = 0

    def read_after_position() -> list[int]:
        """What a catch-up subscription does: read past its position, then move it on."""
        nonlocal position
        rows = service.store.conn.execute(
            "SELECT position FROM order_events WHERE position > ? ORDER BY position", (position,)
        ).fetchall()
        positions = [row["position"] for row in rows]
        position = max(positions, default=position)
        return positions

    def waiting_for_a_lock() -> bool:
        (waiting,) = service.store.conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
        return waiting > 0

    placed_late = service_events(service, place("4001"))

    other = service.session()  # opened first: its DDL would wait for the open transaction

    def append_another_order():
        with closing(other):
            other.handle(place("4002"))

    second = threading.Thread(target=append_another_order)
    try:
        with slow.transaction():  # held open: its append takes position 1, uncommitted
            slow.append(placed_late, expected_version=0)
            second.start()  # another order's append: it must wait to take a position
            deadline = time.monotonic() + TIMEOUT  # a bound, not an expectation
            while not waiting_for_a_lock():
                assert time.monotonic() < deadline, "the second append never waited"
                time.sleep(0.01)
            assert read_after_position() == []  # nothing committed past position 0 yet
        second.join(TIMEOUT)
        assert not second.is_alive()
        assert read_after_position() == [1, 2]  # position 1 committed before position 2
    finally:
        slow.close()
    assert [(e["order_id"], p) for p, e in service.store.read_all()] == [("4001", 1), ("4002", 2)]


def service_events(service, command):
    """The events `command` would append to a new order, decided but not stored."""
    from order_service.model.decide import decide

    return decide(None, command, new_id=counting_ids("0000dead"), now="2026-11-02T09:15:00Z")


def test_on_sqlite_a_second_writer_waits_for_the_first_so_positions_commit_in_order(
    tmp_path,
):
    import sqlite3

    path = tmp_path / "orders.db"
    EventStore(path, clock=lambda: "").close()
    with closing(sqlite3.connect(path, isolation_level=None)) as first:
        first.execute("BEGIN IMMEDIATE")  # as EventStore.append begins
        with (
            closing(sqlite3.connect(path, isolation_level=None, timeout=0.05)) as second,
            pytest.raises(sqlite3.OperationalError, match="database is locked"),
        ):
            second.execute("BEGIN IMMEDIATE")
        first.execute("ROLLBACK")


def test_a_relay_worker_on_postgresql_wakes_at_a_commit_not_only_when_it_polls(pg_service):
    service = pg_service
    first_run_done = threading.Event()
    run_once = service.relay.run_once

    def counted_run_once(**kwargs):
        published = run_once(**kwargs)
        first_run_done.set()
        return published

    service.relay.run_once = counted_run_once
    # A poll every ten minutes: only a NOTIFY can wake the relay, and its publish the projector.
    with service.workers(interval=600):
        assert first_run_done.wait(TIMEOUT)  # it found nothing and waits now
        version = service.handle(place("5001"))
        result = service.queries.wait_for("5001", version, timeout=TIMEOUT)
    assert result.reached, str(result)
    assert result.waited_seconds < TIMEOUT
