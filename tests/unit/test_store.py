"""The event store: append-only, optimistic concurrency, idempotent ids, outbox in one commit."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import timedelta

import pytest
from failing_writes import fail_inserts
from order_service.model.events import (
    Money,
    OrderItemAddedData,
    OrderLine,
    OrderPaidData,
    OrderPlacedData,
    OrderShippedData,
    canonical_event,
)
from order_service.write.store import (
    COMMAND_ID_LIFETIME,
    ConcurrencyError,
    EventIdConflictError,
    EventStore,
)
from pydantic import ValidationError

RECORDED_AT = "2026-11-02T09:15:01Z"
TOTAL = Money(amount="79.99", currency="EUR")


def event(version, event_type, data, occurred_at, *, schema_version=1):
    return canonical_event({
        "event_id": f"00000000-0000-4000-8000-{version:012d}", "event_type": event_type,
        "schema_version": schema_version, "order_id": "1001", "version": version,
        "occurred_at": occurred_at, "data": data.model_dump(mode="json"),
        "metadata": {"correlation_id": "c0000000-0000-4000-8000-000000000001",
                     "causation_id": "c0000000-0000-4000-8000-000000000001"},
    })  # fmt: skip


PLACED = event(
    1,
    "OrderPlaced",
    OrderPlacedData(
        customer_id="C-0042", lines=[OrderLine(sku="RETRO-CLOCK", quantity=1, unit_price=TOTAL)]
    ),
    "2026-11-02T09:15:00Z",
    schema_version=2,
)
PAID = event(
    2, "OrderPaid", OrderPaidData(payment_id="PAY-7731", amount=TOTAL), "2026-11-02T09:21:40Z"
)
SHIPPED = event(
    3,
    "OrderShipped",
    OrderShippedData(carrier="DHL", tracking_number="JD014600006281230704"),
    "2026-11-03T14:02:11Z",
)


def validate(event):
    return canonical_event(event)


@pytest.fixture
def store(new_db):
    """A fresh store on each backend (the test runs once on SQLite, once on PostgreSQL)."""
    store = EventStore(new_db(), clock=lambda: RECORDED_AT, validate=validate)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path):
    store = EventStore(tmp_path / "orders.db", clock=lambda: RECORDED_AT, validate=validate)
    yield store
    store.close()


def count(store, table):
    return store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_appending_to_a_new_order_stores_the_events_and_returns_the_new_version(store):
    assert store.append([PLACED, PAID], expected_version=0) == 2
    assert store.load("1001") == [PLACED, PAID]
    assert [e["version"] for e in store.load("1001")] == [1, 2]


def test_each_stored_event_has_a_global_position_and_a_recorded_at(store):
    store.append([PLACED], expected_version=0)
    row = store.conn.execute("SELECT position, recorded_at FROM order_events").fetchone()
    assert tuple(row) == (1, RECORDED_AT)


def test_an_append_writes_one_outbox_row_per_event_in_position_order(store):
    store.append([PLACED, PAID, SHIPPED], expected_version=0)
    rows = store.conn.execute("SELECT position, sent_at FROM outbox ORDER BY position").fetchall()
    assert [tuple(row) for row in rows] == [(1, None), (2, None), (3, None)]


def test_a_stale_expected_version_raises_a_concurrency_error_and_writes_nothing(store):
    store.append([PLACED, PAID], expected_version=0)
    late_ship = {**SHIPPED, "version": 2, "event_id": "9b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"}
    with pytest.raises(ConcurrencyError) as conflict:
        store.append([late_ship], expected_version=1)
    assert (conflict.value.order_id, conflict.value.expected, conflict.value.actual) == (
        "1001", 1, 2,
    )  # fmt: skip
    assert "order 1001: expected version 1, but the stream is at version 2" in str(conflict.value)
    assert (count(store, "order_events"), count(store, "outbox")) == (2, 2)


def test_appending_events_already_stored_is_idempotent_one_row_each_no_error(store):
    store.append([PLACED, PAID], expected_version=0)
    assert store.append([PLACED, PAID], expected_version=0) == 2  # a retried request
    assert (count(store, "order_events"), count(store, "outbox")) == (2, 2)


def test_an_event_id_reused_for_another_event_is_refused_and_nothing_is_written(store):
    store.append([PLACED], expected_version=0)
    impostor = {**PAID, "event_id": PLACED["event_id"]}
    with pytest.raises(EventIdConflictError, match="already stored as order 1001 version 1"):
        store.append([impostor], expected_version=1)
    assert count(store, "order_events") == 1


def test_a_batch_partly_stored_is_refused_whole(store):
    store.append([PLACED], expected_version=0)
    with pytest.raises(EventIdConflictError, match="appended whole or not at all"):
        store.append([PLACED, PAID], expected_version=0)
    assert count(store, "order_events") == 1


def test_a_batch_with_a_version_that_does_not_follow_the_expected_one_is_refused(store):
    with pytest.raises(ValueError, match="version 2 should be 1"):
        store.append([PAID], expected_version=0)
    assert count(store, "order_events") == 0


def test_a_batch_mixing_two_orders_is_refused(store):
    other = {**PAID, "order_id": "1002"}
    with pytest.raises(ValueError, match="order 1002 in a batch for order 1001"):
        store.append([PLACED, other], expected_version=0)
    assert count(store, "order_events") == 0


def test_an_invalid_event_is_refused_by_the_event_model_and_nothing_is_written(store):
    float_money = {**PLACED, "data": {**PLACED["data"], "lines": [
        {"sku": "RETRO-CLOCK", "quantity": 1, "unit_price": {"amount": 79.99, "currency": "EUR"}}
    ]}}  # fmt: skip
    with pytest.raises(ValidationError, match="amount"):
        store.append([float_money], expected_version=0)
    assert count(store, "order_events") == 0


def test_an_empty_append_is_refused(store):
    with pytest.raises(ValueError, match="at least one event"):
        store.append([], expected_version=0)


@pytest.mark.parametrize(
    ("statement", "refused"),
    [
        ("UPDATE order_events SET data = '{}'", "UPDATE is refused"),
        ("DELETE FROM order_events", "DELETE is refused"),
    ],
)
def test_the_database_refuses_update_and_delete_on_order_events(store, statement, refused):
    store.append([PLACED], expected_version=0)
    with pytest.raises(store.db.IntegrityError, match=f"order_events is append-only: {refused}"):
        store.conn.execute(statement)
    assert store.load("1001") == [PLACED]


SQLITE_INSERT = (
    "INTO order_events (event_id, order_id, version, event_type, schema_version, data,"
    " metadata, occurred_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def raw_row(event, **changes):
    row = {**event, **changes}
    return (row["event_id"], row["order_id"], row["version"], row["event_type"],
            row["schema_version"], json.dumps(row["data"]), json.dumps(row["metadata"]),
            row["occurred_at"], RECORDED_AT)  # fmt: skip


@pytest.mark.parametrize("verb", ["INSERT OR REPLACE", "REPLACE", "INSERT OR IGNORE", "INSERT"])
@pytest.mark.parametrize(
    "clash",
    [
        {},  # the same event id at the same place: a rewrite of the stored event's content
        {"event_id": "00000000-0000-4000-8000-00000000beef"},  # another id at a stored version
        {"version": 2},  # a stored event id at another version
    ],
)
def test_sqlite_refuses_an_insert_over_a_stored_event_from_any_connection(
    sqlite_store, tmp_path, verb, clash
):
    # REPLACE deletes the row it conflicts with and SQLite runs no DELETE trigger for it:
    # the BEFORE INSERT trigger refuses the row before any conflict is resolved.
    sqlite_store.append([PLACED], expected_version=0)
    line = {**PLACED["data"]["lines"][0], "quantity": 1000}
    forged = {"data": {**PLACED["data"], "lines": [line]}}
    with (
        closing(sqlite3.connect(tmp_path / "orders.db")) as conn,
        pytest.raises(sqlite3.IntegrityError, match="order_events is append-only"),
    ):
        conn.execute(f"{verb} {SQLITE_INSERT}", raw_row(PLACED, **forged, **clash))
    assert sqlite_store.load("1001") == [PLACED]


def test_sqlite_refuses_an_insert_over_a_stored_position(sqlite_store, tmp_path):
    sqlite_store.append([PLACED], expected_version=0)
    with (
        closing(sqlite3.connect(tmp_path / "orders.db")) as conn,
        pytest.raises(sqlite3.IntegrityError, match="order_events is append-only"),
    ):
        conn.execute(
            "INSERT OR REPLACE INTO order_events (position, event_id, order_id, version,"
            " event_type, schema_version, data, metadata, occurred_at, recorded_at)"
            " VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            raw_row(PLACED, event_id="00000000-0000-4000-8000-00000000beef", order_id="1002"),
        )
    assert list(sqlite_store.read_all()) == [(1, PLACED)]


@pytest.mark.parametrize("version", [3, 7])
def test_sqlite_refuses_an_event_that_skips_its_orders_next_version(
    sqlite_store, tmp_path, version
):
    sqlite_store.append([PLACED], expected_version=0)
    with (
        closing(sqlite3.connect(tmp_path / "orders.db")) as conn,
        pytest.raises(sqlite3.IntegrityError, match="next version"),
    ):
        conn.execute(f"INSERT {SQLITE_INSERT}", raw_row(PAID, version=version))
    # The next version, written around the store, is still accepted: the database checks the
    # order of a stream, the contract of an event is append's (see test_stored_events.py).
    with closing(sqlite3.connect(tmp_path / "orders.db")) as conn, conn:
        conn.execute(f"INSERT {SQLITE_INSERT}", raw_row(PAID))
    assert sqlite_store.load("1001") == [PLACED, PAID]


def test_events_and_outbox_rows_commit_together_a_failing_outbox_insert_leaves_no_event(store):
    # A trigger makes the outbox insert fail inside append's transaction.
    fail_inserts(store.conn, "outbox", "simulated crash")
    with pytest.raises(store.db.IntegrityError, match="simulated crash"):
        store.append([PLACED], expected_version=0)
    assert (count(store, "order_events"), count(store, "outbox")) == (0, 0)


def test_load_slices_by_version(store):
    store.append([PLACED, PAID, SHIPPED], expected_version=0)
    assert store.load("1001", after_version=1) == [PAID, SHIPPED]
    assert store.load("1001", upto_version=2) == [PLACED, PAID]
    assert store.load("1002") == []


def test_read_all_yields_every_event_with_its_position_in_order(store):
    store.append([PLACED], expected_version=0)
    store.append([PAID, SHIPPED], expected_version=1)
    assert list(store.read_all()) == [(1, PLACED), (2, PAID), (3, SHIPPED)]
    assert list(store.read_all(after_position=2)) == [(3, SHIPPED)]


def test_the_store_runs_the_ddl_file_the_site_shows(sqlite_store, tmp_path):
    from importlib.resources import files

    store = sqlite_store
    reference = sqlite3.connect(tmp_path / "reference.db")
    reference.executescript(files("order_service").joinpath("write", "event_store.sql").read_text())
    schema = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 2"
    stored = [tuple(row) for row in store.conn.execute(schema)]
    assert stored == reference.execute(schema).fetchall()
    assert {row[1] for row in reference.execute(schema)} >= {
        "order_events", "outbox", "order_snapshots",
    }  # fmt: skip


def test_a_read_only_store_cannot_append(store):
    store.append([PLACED], expected_version=0)
    reader = EventStore(store.db, clock=lambda: RECORDED_AT, read_only=True)
    assert reader.load("1001") == [PLACED]
    with pytest.raises(store.db.Error, match=r"readonly|read-only"):
        reader.append([PAID], expected_version=1)
    reader.close()


def test_the_json_columns_hold_compact_json_text_with_unicode_kept(store):
    store.append([PLACED], expected_version=0)
    data, metadata = store.conn.execute("SELECT data, metadata FROM order_events").fetchone()
    assert data == json.dumps(PLACED["data"], separators=(",", ":"), ensure_ascii=False)
    assert metadata == json.dumps(PLACED["metadata"], separators=(",", ":"))


def test_load_without_metadata_gives_the_same_envelopes_minus_metadata(store):
    store.append([PLACED, PAID, SHIPPED], expected_version=0)
    bare = store.load("1001", with_metadata=False)
    assert bare == [
        {k: v for k, v in e.items() if k != "metadata"} for e in [PLACED, PAID, SHIPPED]
    ]
    assert [e for _, e in store.read_all(with_metadata=False)] == bare
    assert list(store.read_all(after_position=1, with_metadata=False)) == [
        (2, bare[1]), (3, bare[2]),
    ]  # fmt: skip


def test_a_retried_batch_longer_than_one_query_chunk_is_still_idempotent(new_db):
    store = EventStore(new_db("long"), clock=lambda: RECORDED_AT)
    lines = [
        event(v, "OrderItemAdded",
              OrderItemAddedData(line=OrderLine(sku=f"PART-{v}", quantity=1, unit_price=TOTAL)),
              "2026-11-02T09:16:00Z")
        for v in range(2, 1202)
    ]  # fmt: skip
    batch = [PLACED, *lines]
    assert store.append(batch, expected_version=0) == 1201
    assert store.append(batch, expected_version=0) == 1201
    assert count(store, "order_events") == 1201
    store.close()


def test_an_event_id_reused_at_the_same_version_with_other_content_is_refused(store):
    store.append([PLACED, PAID], expected_version=0)
    other_payment = {**PAID, "data": {**PAID["data"], "payment_id": "PAY-9999"}}
    with pytest.raises(EventIdConflictError, match="version 2 with other content"):
        store.append([other_payment], expected_version=1)
    assert store.load("1001") == [PLACED, PAID]
    assert count(store, "outbox") == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", 1.0), ("quantity", True)],
    ids=["float quantity", "boolean quantity"],
)
def test_a_number_the_contract_refuses_is_refused_by_the_store_and_nothing_is_stored(
    store, field, value
):
    bad = json.loads(json.dumps(PLACED))
    bad["data"]["lines"][0][field] = value
    with pytest.raises(ValidationError, match="integer"):
        store.append([bad], expected_version=0)
    assert count(store, "order_events") == 0


@pytest.mark.parametrize("version", [1.0, True], ids=["float", "boolean"])
def test_a_version_that_only_equals_an_integer_is_refused_by_the_store(store, version):
    with pytest.raises(ValidationError, match="integer"):
        store.append([{**PLACED, "version": version}], expected_version=0)
    assert count(store, "order_events") == 0


def test_the_store_keeps_the_canonical_form_of_an_event_not_the_text_it_was_given(store):
    reordered = dict(reversed(list(PLACED.items())))  # same event, keys in another order
    store.append([reordered], expected_version=0)
    (data,) = store.conn.execute("SELECT data FROM order_events").fetchone()
    assert data == json.dumps(canonical_event(PLACED)["data"], separators=(",", ":"))
    assert store.load("1001") == [canonical_event(PLACED)]


def test_the_postgresql_store_runs_the_ddl_file_the_site_shows(postgres_server):
    from importlib.resources import files

    import psycopg
    from order_service.infra.database import open_backend

    store = EventStore(postgres_server.new_url(), clock=lambda: RECORDED_AT)
    reference = open_backend(postgres_server.new_url())
    ddl = files("order_service").joinpath("write", "event_store.pg.sql").read_text()
    with psycopg.connect(reference.conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {reference.schema}")
        conn.execute(f"SET search_path TO {reference.schema}")
        conn.execute(ddl)

        def describe(schema):
            columns = conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, is_identity"
                " FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2",
                (schema,),
            ).fetchall()
            indexes = conn.execute(
                "SELECT tablename, indexname, replace(indexdef, %s, '') FROM pg_indexes"
                " WHERE schemaname = %s ORDER BY 1, 2",
                (f"{schema}.", schema),
            ).fetchall()
            triggers = conn.execute(
                "SELECT event_object_table, trigger_name, event_manipulation, action_timing"
                " FROM information_schema.triggers WHERE trigger_schema = %s ORDER BY 1, 2, 3",
                (schema,),
            ).fetchall()
            return columns, indexes, triggers

        stored, expected = describe(store.db.schema), describe(reference.schema)
    store.close()
    assert stored == expected
    columns, indexes, triggers = expected
    assert {table for table, *_ in columns} == {
        "order_events", "outbox", "commands", "order_snapshots",
    }  # fmt: skip
    assert ("order_events", "position", "bigint", "NO", "YES") in columns
    assert {name for _, name, _ in indexes} >= {
        "order_events_event_id_key", "order_events_order_id_version_key", "outbox_unsent",
    }  # fmt: skip
    assert {(event, timing) for _, _, event, timing in triggers} == {
        ("UPDATE", "BEFORE"),
        ("DELETE", "BEFORE"),
    }  # information_schema lists no TRUNCATE trigger; test_reliability refuses a TRUNCATE


# --- command ids: remembered for a lifetime, then pruned and decided again -----------------


class SettableClock:
    """A clock that says what the test sets it to."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def commands_held(store):
    return [row[0] for row in store.conn.execute("SELECT command_id FROM commands")]


@pytest.fixture
def clocked_store(new_db):
    clock = SettableClock("2026-11-02T09:15:00Z")
    store = EventStore(new_db(), clock=clock, validate=validate)
    yield store, clock
    store.close()


def test_a_command_id_is_remembered_for_its_lifetime_then_pruned_and_decided_again(
    clocked_store,
):
    store, clock = clocked_store
    assert timedelta(hours=24) == COMMAND_ID_LIFETIME  # what the HTTP API page says
    store.append([PLACED], expected_version=0, command=("key-1", "digest-1"))
    # 23 hours 59 minutes later: a retry still gets the first answer, appends nothing.
    clock.now = "2026-11-03T09:14:00Z"
    assert store.prune_command_ids() == 0
    assert store.append([PAID], expected_version=1, command=("key-1", "digest-1")) == 1
    assert store.command_version("key-1", "digest-1") == 1
    # Past the lifetime, the id is forgotten: the same key carries out the command it names now.
    clock.now = "2026-11-03T09:15:01Z"
    assert store.prune_command_ids() == 1
    assert store.command_version("key-1", "digest-1") is None
    assert store.append([PAID], expected_version=1, command=("key-1", "digest-2")) == 2
    assert store.command_version("key-1", "digest-2") == 2
    assert store.load("1001") == [PLACED, PAID]


def test_append_prunes_the_forgotten_command_ids_at_most_once_an_hour(clocked_store):
    store, clock = clocked_store
    other = {**PLACED, "event_id": "00000000-0000-4000-8000-000000001002", "order_id": "1002"}
    appends = [  # (when, what): each append prunes if its store has not for an hour
        ("2026-11-02T09:15:00Z", lambda: store.append([PLACED], 0, command=("k1", "d1"))),
        ("2026-11-02T09:30:00Z", lambda: store.append([PAID], 1, command=("k2", "d2"))),
        ("2026-11-03T09:20:00Z", lambda: store.append([SHIPPED], 2, command=("k3", "d3"))),
        ("2026-11-03T09:40:00Z", lambda: store.append([other], 0, command=("k4", "d4"))),
    ]
    held = []
    for now, append in appends:
        clock.now = now
        append()
        held.append(sorted(commands_held(store)))
    assert held == [
        ["k1"],
        ["k1", "k2"],
        ["k2", "k3"],  # k1 is 24h05 old: pruned; k2 (23h50) is remembered
        ["k2", "k3", "k4"],  # k2 is 24h10 old, but the last prune was 20 minutes ago
    ]
    clock.now = "2026-11-03T10:21:00Z"  # an hour after the last prune: the next append prunes
    paid = {**PAID, "event_id": "00000000-0000-4000-8000-000000002002", "order_id": "1002"}
    store.append([paid], 1, command=("k5", "d5"))
    assert sorted(commands_held(store)) == ["k3", "k4", "k5"]
