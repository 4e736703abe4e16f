"""Reliability: racing writers, crashes at every step, duplicates, refused writes and bad input.

Every wait is bounded (a timeout), and nothing asserts on elapsed time.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import re
import signal
import sqlite3
import threading
import uuid
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from child_processes import AUDIT_TABLE, Audit, crash_after_publishing, race, subscribe_until_killed
from command_builders import add, cancel, deliver, line, pay, place, ship
from failing_writes import fail_inserts, stop_failing_inserts
from order_service.app import bootstrap
from order_service.bus.subscription import Subscription
from order_service.model.commands import InvalidCommand, parse_command
from order_service.model.snapshots import Snapshot
from order_service.read.projections import contents
from order_service.read.read_model import open_read_model
from order_service.write.store import EventStore

TIMEOUT = 120  # seconds; a bound on every join and queue read, not an expectation


# --- concurrent writers --------------------------------------------------------------------


def check_race(service, results, writers):
    """Exactly one writer won the shared version; every loser won on retry; nothing lost."""
    assert len(results) == writers
    outcomes = sorted(outcome for _, outcome, _, _ in results)
    assert outcomes == ["lost"] * (writers - 1) + ["won"], results
    assert all(attempts >= 2 for _, outcome, attempts, _ in results if outcome == "lost")
    events = service.store.load("1001")
    assert [event["version"] for event in events] == list(range(1, writers + 2))
    added = [event["data"]["line"]["sku"] for event in events[1:]]
    assert sorted(added) == sorted(f"PART-{writer}" for writer in range(writers))
    assert len({event["event_id"] for event in events}) == writers + 1
    assert sorted(version for *_, version in results) == list(range(2, writers + 2))
    service.catch_up()
    assert service.queries.get("1001").item_count == 1 + writers


def test_concurrent_threads_on_one_order_write_each_version_once_and_losers_succeed_on_retry(
    service,
):
    writers = 8
    service.handle(place("1001"))
    barrier, results = threading.Barrier(writers), queue.Queue()
    threads = [
        threading.Thread(target=race, args=(str(service.write_db), n, barrier, results))
        for n in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    check_race(service, [results.get(timeout=TIMEOUT) for _ in range(writers)], writers)


@pytest.mark.fault
def test_concurrent_processes_on_one_order_write_each_version_once_and_losers_succeed_on_retry(
    service,
):
    writers = 4
    service.handle(place("1001"))
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(writers), context.Queue()
    processes = [
        context.Process(target=race, args=(str(service.write_db), n, barrier, results))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    collected = [results.get(timeout=TIMEOUT) for _ in range(writers)]
    for process in processes:
        process.join(TIMEOUT)
    assert [process.exitcode for process in processes] == [0] * writers
    check_race(service, collected, writers)


# --- crashes between the append and the projection -----------------------------------------

STORY = [
    place("1001", "C-0042", line("RETRO-CLOCK"), line("BRASS-KEY", 2, "24.99")),
    place("1002", "C-0077"),
    add("1001", "GLOBE", 1, "45.00"),
    pay("1001", "174.97"),
    ship("1001"),
    cancel("1002"),
    deliver("1001"),
]
CRASH_AT = 3  # the PayOrder


class SimulatedCrash(BaseException):
    """The process dies here (not an `Exception`: nothing may take it for a poison event)."""


def open_service(db):
    # Random ids: a restarted process does not reuse ids; a fixed clock: runs compare equal.
    return bootstrap(
        db,
        clock=lambda: "2026-11-02T09:15:00Z",
        new_id=lambda: str(uuid.uuid4()),
    )


def crash(service, command, step):
    """Run `command` and the relay, dying at `step`; return True if the command was stored."""
    if step == "in the append, before its commit":
        fail_inserts(service.store.conn, "outbox", "simulated crash")
        with pytest.raises(service.write_db.IntegrityError, match="simulated crash"):
            service.handle(command)
        stop_failing_inserts(service.store.conn, "outbox")  # the restarted process is sound
        return False
    service.handle(command)
    if step == "after the commit, before the relay publishes":
        return True
    if step == "in the projection, after its writes, before its commit":
        apply, apply_batch = service.projector.apply, service.projector.apply_batch

        def die_after_writing(event, position):
            apply(event, position)
            raise SimulatedCrash

        def die_after_writing_a_batch(events):
            apply_batch(events)
            raise SimulatedCrash

        service.projector.apply = die_after_writing  # one event at a time, or a batch at once
        service.projector.apply_batch = die_after_writing_a_batch
        with pytest.raises(SimulatedCrash):
            service.catch_up()
        return True
    if step == "after the publish, before the outbox row is marked sent":

        class DieAfterPublishing:
            def publish(self, event, position):
                raise SimulatedCrash

        service.catch_up()
        service.relay.publisher = DieAfterPublishing()
        with pytest.raises(SimulatedCrash):
            service.relay.run_once()
        return True
    raise AssertionError(step)


def run_story(db, step=None):
    """Run STORY (relay after each command), crashing at CRASH_AT if `step` is given."""
    service = open_service(db)
    for index, command in enumerate(STORY):
        if index == CRASH_AT and step is not None:
            stored = crash(service, command, step)
            service.close()  # the process is gone; a new one starts on the same files
            service = open_service(db)
            if not stored:
                service.handle(command)  # the client got no answer, so it sends again
        else:
            service.handle(command)
        service.relay.run_once()
        service.catch_up()
    service.relay.run_once()
    service.catch_up()
    events = [(e["order_id"], e["version"], e["event_type"], e["data"]) for _, e in
              service.store.read_all()]  # fmt: skip
    with closing(open_read_model(service.read_db)) as conn:
        read_model = contents(conn)
    pending = service.relay.pending()
    service.close()
    return events, read_model, pending


@pytest.fixture
def run_without_crash(new_db):
    """The story without a crash, on the test's backend: what every crashed run must reach."""
    return run_story(new_db("baseline"))


def without_positions(read_model):
    """The read model less its global positions (`last_position` of a summary, the tracking).

    On PostgreSQL a rolled-back append still consumes its identity positions, so a crashed
    run's events sit at other positions than a clean run's; their orders and versions match.
    """
    return {
        "order_summary": [row[:-2] + row[-1:] for row in read_model["order_summary"]],
        "order_summary_skus": read_model["order_summary_skus"],
    }


@pytest.mark.fault
@pytest.mark.parametrize(
    "step",
    [
        "in the append, before its commit",
        "after the commit, before the relay publishes",
        "in the projection, after its writes, before its commit",
        "after the publish, before the outbox row is marked sent",
    ],
)
def test_a_crash_at_each_step_between_append_and_projection_converges_after_restart(
    backend, new_db, step, run_without_crash
):
    events, read_model, pending = run_story(new_db(), step)
    assert pending == 0
    assert events == run_without_crash[0]
    if backend == "postgresql":
        assert without_positions(read_model) == without_positions(run_without_crash[1])
    else:
        assert read_model == run_without_crash[1]


@pytest.mark.fault
def test_a_relay_killed_after_publishing_but_before_marking_sent_publishes_again_harmlessly(
    new_db,
):
    db = new_db()
    with closing(open_service(db)) as service:
        pass  # creates both databases
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=crash_after_publishing, args=(str(db), STORY[0]))
    child.start()
    child.join(TIMEOUT)
    assert child.exitcode == 17  # died inside the relay, after the publish
    service = open_service(db)
    try:
        assert service.relay.pending() == 1  # not marked sent
        assert service.queries.get("1001").last_version == 1  # but projected
        before = contents(service.projector.conn)
        assert service.relay.run_once() == 1  # published again
        assert service.catch_up() == 0  # and the subscribers have nothing new to read
        assert contents(service.projector.conn) == before
        assert service.relay.pending() == 0
    finally:
        service.close()


@pytest.mark.parametrize("subscriber", ["audit", "order_summary"])
def test_a_subscriber_process_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    new_db, run_without_crash, subscriber
):
    db = new_db()
    service = open_service(db)
    for command in STORY:
        service.handle(command)
    service.projector.conn.execute(AUDIT_TABLE)
    committed, kill_at = 2, 4  # 1-2 committed; 3 and 4 written in the next one, not committed
    context = multiprocessing.get_context("spawn")
    inside = context.Event()
    child = context.Process(
        target=subscribe_until_killed, args=(str(db), subscriber, committed, kill_at, inside)
    )
    child.start()
    try:
        assert inside.wait(TIMEOUT), "the child never reached the event it dies in"
        os.kill(child.pid, signal.SIGKILL)
        child.join(TIMEOUT)
        assert child.exitcode == -signal.SIGKILL
        audit = Subscription(
            EventStore(db, clock=service.clock), Audit(open_read_model(service.read_db)),
            clock=service.clock,
        )  # fmt: skip
        subscription = audit if subscriber == "audit" else service.subscriptions[subscriber]
        assert subscription.tracking.position() == committed  # where the child's commits ended
        assert subscription.catch_up() == len(STORY) - committed  # resumes after them
        assert subscription.tracking.parked() == ()  # a second INSERT of a position would park
        positions = [p for p, _ in service.store.read_all()]
        if subscriber == "audit":
            rows = audit.subscriber.conn.execute("SELECT position FROM audit ORDER BY 1")
            assert [row[0] for row in rows] == positions  # each once
            audit.store.close()
            audit.subscriber.conn.close()
        else:
            with closing(open_read_model(service.read_db)) as conn:
                projected = contents(conn)
            assert projected["order_summary"] == run_without_crash[1]["order_summary"]
    finally:
        if child.is_alive():
            child.kill()
        service.close()


# --- duplicates ----------------------------------------------------------------------------


def test_every_event_delivered_twice_gives_the_same_read_model(new_db, run_without_crash):
    service = open_service(new_db())
    apply = service.projector.apply

    def twice(event, position):
        apply(event, position)
        apply(event, position)

    service.projector.apply = twice
    for command in STORY:
        service.handle(command)
        service.catch_up()
    assert contents(service.projector.conn) == run_without_crash[1]
    service.close()


def test_the_whole_outbox_published_again_changes_nothing(new_db, run_without_crash):
    service = open_service(new_db())
    for command in STORY:
        service.handle(command)
    assert service.relay.run_once() == len(run_without_crash[0])
    service.catch_up()
    service.relay.store.conn.execute("UPDATE outbox SET sent_at = NULL")
    service.projector.conn.execute("UPDATE tracking SET position = 0")  # read again from the start
    assert service.relay.run_once() == len(run_without_crash[0])
    service.catch_up()
    assert contents(service.projector.conn) == run_without_crash[1]
    service.close()


# --- the store refuses changes; bad commands change nothing --------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE order_events SET event_type = 'OrderDelivered' WHERE version = 1",
        "DELETE FROM order_events WHERE order_id = '1001'",
    ],
)
def test_sqlite_itself_refuses_update_and_delete_on_order_events(sqlite_service, statement):
    service = sqlite_service
    service.handle(place("1001"))
    # Any connection, not only the store's: the triggers are in the database file.
    with (
        closing(sqlite3.connect(service.write_db)) as conn,
        pytest.raises(sqlite3.IntegrityError, match="order_events is append-only"),
    ):
        conn.execute(statement)
    assert [e["event_type"] for e in service.store.load("1001")] == ["OrderPlaced"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE order_events SET event_type = 'OrderDelivered' WHERE version = 1",
        "DELETE FROM order_events WHERE order_id = '1001'",
        "TRUNCATE order_events CASCADE",
    ],
)
def test_postgresql_itself_refuses_update_delete_and_truncate_on_order_events(
    postgres_server, statement
):
    service = bootstrap(postgres_server.new_url())
    try:
        service.handle(place("1001"))
        # Any connection, not only the store's: the triggers are in the schema.
        with (
            closing(service.write_db.connect()) as conn,
            pytest.raises(service.write_db.IntegrityError, match="order_events is append-only"),
        ):
            conn.execute(statement)
        assert [e["event_type"] for e in service.store.load("1001")] == ["OrderPlaced"]
    finally:
        service.close()


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ("PlaceOrder 1001", "(root)"),
        ({"type": "PayOrder", "order_id": "1001", "payment_id": "PAY-1",
          "amount": {"amount": 79.99, "currency": "EUR"}}, "PayOrder/amount/amount"),
        ({"type": "PayOrder", "order_id": "1001", "payment_id": "PAY-1",
          "amount": {"amount": "79.99", "currency": "euro"}}, "PayOrder/amount/currency"),
        ({"type": "ShipOrder", "order_id": "1001", "carrier": "DHL",
          "tracking_number": "JD0146", "note": "fragile"}, "ShipOrder/note"),
        ({"type": "AddOrderItem", "order_id": "1001",
          "line": {"sku": "RETRO-CLOCK", "quantity": 0,
                   "unit_price": {"amount": "79.99", "currency": "EUR"}}},
         "AddOrderItem/line/quantity"),
    ],
)  # fmt: skip
def test_a_malformed_command_gets_a_clear_error_and_nothing_is_appended(service, payload, where):
    service.handle(place("1001"))
    with pytest.raises(InvalidCommand, match=re.escape(f"invalid command: {where}: ")):
        service.handle(parse_command(payload))
    assert len(list(service.store.read_all())) == 1
    assert service.relay.pending() == 1


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        (pay("1001", "1.00"), "paid 1.00 EUR, the total is 79.99 EUR"),
        (ship("1001"), "only a paid order ships"),
        (place("1001"), "the order already exists"),
        (cancel("9999"), "no such order"),
    ],
)
def test_an_invalid_command_is_rejected_and_nothing_is_appended(service, command, rule):
    service.handle(place("1001"))
    with pytest.raises(ValueError, match=rule):
        service.handle(command)
    assert len(list(service.store.read_all())) == 1
    assert service.relay.pending() == 1


APP_ROLE_GRANTS = Path(__file__).parents[2] / "design/order_service/write/app_role.pg.sql"


@pytest.fixture
def application_role(postgres_server):
    """A fresh write schema made by its owner, and a role granted what the PostgreSQL page lists.

    Yields (the owner's store, the role's URL, the role's name).
    """
    import psycopg
    from order_service.model.events import canonical_event

    url = postgres_server.new_url()
    owner = EventStore(url, clock=lambda: "2026-11-02T09:15:00Z", validate=canonical_event)
    schema = owner.db.schema
    role = f"{schema}_app"
    grants = APP_ROLE_GRANTS.read_text(encoding="utf-8")
    grants = grants.replace("orders_app", role).replace("orders.", f"{schema}.")
    grants = grants.replace("SCHEMA orders TO", f"SCHEMA {schema} TO")
    admin = psycopg.connect(postgres_server.url, autocommit=True)
    admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app-password'")
    admin.execute(grants)
    parts = urlsplit(url)
    netloc = f"{role}:app-password@{parts.netloc.rsplit('@', 1)[-1]}"
    try:
        yield owner, urlunsplit(parts._replace(netloc=netloc)), role
    finally:
        owner.close()
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE {role}")
        admin.close()


def test_the_application_runs_as_a_postgresql_role_granted_only_what_the_page_lists(
    application_role,
):
    from order_service.model.events import canonical_event

    owner, app_url, _ = application_role
    clock = iter(["2026-11-02T09:15:00Z", "2026-11-02T09:16:00Z", "2026-11-04T09:00:00Z"])
    store = EventStore(app_url, clock=lambda: next(clock), validate=canonical_event)
    try:
        service = bootstrap(owner.db)  # the owner's service decides; the role's store appends
        try:
            service.handle(place("1001"))
            [placed] = service.store.load("1001")
        finally:
            service.close()
        owner.conn.execute("DELETE FROM commands")  # let the role's store append #1002 afresh
        other = {**placed, "event_id": "00000000-0000-4000-8000-000000001002", "order_id": "1002"}
        assert store.append([other], expected_version=0, command=("k-1002", "d")) == 1
        assert [e["order_id"] for _, e in store.read_all()] == ["1001", "1002"]
        assert store.load("1002")[0]["event_id"] == other["event_id"]
        with store.transaction():
            for position, _ in store.unsent():
                store.mark_sent(position, "2026-11-02T09:16:00Z")
        assert store.pending() == 0
        store.save_snapshot(Snapshot("1002", 1, 1, {"order_id": "1002"}))
        assert store.latest_snapshot("1002") is not None
        assert store.prune_command_ids() == 1  # two days later: k-1002 is forgotten
    finally:
        store.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE order_events SET event_type = 'OrderDelivered'",
        "DELETE FROM order_events",
        "TRUNCATE order_events CASCADE",
        "ALTER TABLE order_events DISABLE TRIGGER order_events_refuse_update_delete",
        "ALTER TABLE order_events DISABLE TRIGGER ALL",
        "DROP TRIGGER order_events_refuse_update_delete ON order_events",
        "DROP TABLE order_events CASCADE",
        "UPDATE outbox SET position = position",
        "TRUNCATE commands",
    ],
)
def test_the_application_role_may_not_change_or_unguard_the_events(application_role, statement):
    import psycopg

    owner, app_url, _ = application_role
    service = bootstrap(owner.db)
    try:
        service.handle(place("1001"))
    finally:
        service.close()
    store = EventStore(app_url, clock=lambda: "2026-11-02T09:15:00Z")
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            store.conn.execute(statement)
        assert [e["event_type"] for e in store.load("1001")] == ["OrderPlaced"]
    finally:
        store.close()
