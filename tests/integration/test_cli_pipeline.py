"""`orders demo`, `orders query` and `orders replay`: what a reader types, and what it answers."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from order_service.entrypoints.cli import main


def orders(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main([str(arg) for arg in argv], out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def demo_db(backend, new_db, tmp_path):
    """#1001's demo database on each backend: a file in a new folder, or a schema."""
    db = tmp_path / "shop" / "orders.db" if backend == "sqlite" else new_db()
    status, _, err = orders("demo", "--db", db)
    assert (status, err) == (0, "")
    return db


@pytest.fixture
def sqlite_demo_db(tmp_path):
    db = tmp_path / "shop" / "orders.db"
    status, _, err = orders("demo", "--db", db)
    assert (status, err) == (0, "")
    return db


def test_orders_demo_tells_the_same_story_on_postgresql_as_on_sqlite(postgres_server, tmp_path):
    url = postgres_server.new_url()
    schema = url.rsplit("schema=", 1)[1]
    on_sqlite = orders("demo", "--db", tmp_path / "orders.db")
    on_postgresql = orders("demo", "--db", url)
    assert on_sqlite[0] == on_postgresql[0] == 0
    assert on_postgresql[2] == ""
    assert on_postgresql[1] == (
        on_sqlite[1]
        .replace("orders.read.db", f"schema {schema}_read")
        .replace("orders.shipping_notifier.db", f"schema {schema}_shipping_notifier")
        .replace("orders.replay.db", f"schema {schema}_replay")
        .replace("orders.db", f"schema {schema}")
    )


def test_orders_on_a_server_without_the_schema_says_so_in_one_line(postgres_server):
    url = postgres_server.new_url()
    status, out, err = orders("query", "--db", url, "get", "1001")
    assert (status, out) == (1, "")
    assert err == f"orders: {url}: not a write database (no order_events table there)\n"


def test_orders_on_a_server_that_does_not_answer_says_so_in_one_line(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres?connect_timeout=2"
    status, out, err = orders("replay", "--db", url)
    assert (status, out) == (1, "")
    assert err.startswith(f"orders: {url}")
    assert "cannot reach the server" in err
    assert err.count("\n") == 1


def test_orders_demo_prints_the_same_story_on_every_fresh_database(tmp_path):
    first = orders("demo", "--db", tmp_path / "one.db")
    second = orders("demo")  # a temporary folder
    assert first[0] == second[0] == 0
    assert first[1].replace("one.", "orders.") == second[1]
    assert "same rows as the incrementally built read model: yes" in second[1]


def test_orders_demo_refuses_a_database_that_exists(demo_db):
    status, out, err = orders("demo", "--db", demo_db)
    assert (status, out) == (1, "")
    what = "file" if isinstance(demo_db, Path) else "schema"
    assert f"orders: {demo_db}: the demo writes a fresh database and this {what} exists" in err


def test_orders_query_get_prints_the_summary_as_json(demo_db):
    status, out, _ = orders("query", "--db", demo_db, "get", "1001")
    assert status == 0
    summary = json.loads(out)
    assert (summary["status"], summary["total_amount"], summary["last_version"]) == (
        "delivered", "129.97", 4,
    )  # fmt: skip


def test_orders_query_search_combines_filters(demo_db):
    status, out, _ = orders(
        "query", "--db", demo_db, "search", "--sku", "RETRO-CLOCK", "--status", "cancelled"
    )
    assert status == 0
    assert [summary["order_id"] for summary in json.loads(out)] == ["1002"]


def test_orders_query_as_of_folds_the_events_up_to_a_version(demo_db):
    status, out, _ = orders("query", "--db", demo_db, "as-of", "1001", "--version", "2")
    assert status == 0
    assert (json.loads(out)["status"], json.loads(out)["version"]) == ("paid", 2)


@pytest.mark.parametrize("version", ["2147483647", "2147483648", "99999999999999999999"])
def test_orders_query_as_of_a_version_past_any_stream_is_the_whole_order(demo_db, version):
    # Past SQLite's and PostgreSQL's integers too: no OverflowError, the order as it is now.
    status, out, err = orders("query", "--db", demo_db, "as-of", "1001", "--version", version)
    now = orders("query", "--db", demo_db, "as-of", "1001")[1]
    assert (status, err, out) == (0, "", now)
    assert json.loads(out)["status"] == "delivered"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("get", "4242"), "orders: order 4242 is not in the read model"),
        (("search", "--status", "lost"), "orders: status: 'lost' is not one of"),
        (("search", "--limit", "0"), "orders: limit: 0 is not between 1 and 500"),
        (("as-of", "1001", "--at", "2020-01-01T00:00:00Z"), "orders: order 1001 had no event"),
    ],
)
def test_orders_query_explains_a_miss_or_a_bad_argument_in_one_line(demo_db, argv, message):
    status, out, err = orders("query", "--db", demo_db, *argv)
    assert (status, out) == (1, "")
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_orders_query_on_a_missing_database_says_which_file(tmp_path):
    status, _, err = orders("query", "--db", tmp_path / "nope.db", "get", "1001")
    assert status == 1
    assert f"orders: {tmp_path / 'nope.db'}: no such write database" in err


def test_orders_replay_rebuilds_the_read_model_from_the_events(demo_db):
    before = orders("query", "--db", demo_db, "search")[1]
    status, out, _ = orders("replay", "--db", demo_db)
    assert status == 0
    assert out.startswith("replayed 6 events from ")
    assert orders("query", "--db", demo_db, "search")[1] == before


def another_sqlite_file(db):
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE customers (id TEXT)")
        conn.commit()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda db: db.write_text("not a database"), "not a SQLite database"),
        (another_sqlite_file, "not a write database"),
    ],
    ids=["a text file", "another SQLite file"],
)
@pytest.mark.parametrize("command", [("replay",), ("query", "get", "1001")])
def test_a_db_that_is_not_a_write_database_is_refused_and_left_as_it_was(
    tmp_path, make, message, command
):
    db = tmp_path / "orders.db"
    make(db)
    before = db.read_bytes()
    status, out, err = orders(command[0], "--db", db, *command[1:])
    assert (status, out) == (1, "")
    assert err.startswith(f"orders: {db}: {message}")
    assert err.count("\n") == 1
    assert db.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["orders.db"]


def test_the_read_database_given_as_the_write_database_is_refused_unchanged(sqlite_demo_db):
    demo_db = sqlite_demo_db
    read_db = demo_db.with_name("orders.read.db")
    tables = "SELECT name FROM sqlite_master ORDER BY name"
    with closing(sqlite3.connect(read_db)) as conn:
        before = conn.execute(tables).fetchall()
    status, _, err = orders("replay", "--db", read_db)
    assert status == 1
    assert "not a write database (it has no order_events table)" in err
    with closing(sqlite3.connect(read_db)) as conn:
        assert conn.execute(tables).fetchall() == before
    assert not read_db.with_name("orders.read.read.db").exists()


def test_a_missing_read_database_names_the_replay_that_builds_it(sqlite_demo_db):
    demo_db = sqlite_demo_db
    demo_db.with_name("orders.read.db").unlink()
    status, _, err = orders("query", "--db", demo_db, "get", "1001")
    assert status == 1
    assert f"build it with `orders replay --db {demo_db}`" in err


@pytest.mark.parametrize("where", ["under a file", "empty"])
def test_orders_demo_on_a_path_it_cannot_write_says_so_in_one_line(tmp_path, where):
    (tmp_path / "a-file").write_text("not a folder")
    db = "" if where == "empty" else str(tmp_path / "a-file" / "orders.db")
    status, out, err = orders("demo", "--db", db)
    assert (status, out) == (1, "")
    assert err.startswith("orders: ")
    assert err.count("\n") == 1
    assert ("give a file path" if where == "empty" else "cannot write the demo database") in err


def test_orders_prune_keys_forgets_the_command_ids_past_their_lifetime(demo_db):
    # The demo's clock stops in November 2026; prune-keys measures age on the system clock.
    def held():
        status, out, err = orders("prune-keys", "--db", demo_db, "--hours", "1000000")
        assert (status, err) == (0, "")
        return out

    assert held() == "forgot 0 command id(s) carried out over 1000000 hour(s) ago\n"
    status, out, err = orders("prune-keys", "--db", demo_db)
    assert (status, err) == (0, "")
    forgot = int(out.split()[1])
    assert forgot > 0
    assert out == f"forgot {forgot} command id(s) carried out over 24 hour(s) ago\n"
    status, out, err = orders("prune-keys", "--db", demo_db)
    assert (status, out, err) == (0, "forgot 0 command id(s) carried out over 24 hour(s) ago\n", "")


@pytest.mark.parametrize("hours", ["0", "-3"])
def test_orders_prune_keys_refuses_an_age_under_an_hour(sqlite_demo_db, hours):
    status, out, err = orders("prune-keys", "--db", sqlite_demo_db, "--hours", hours)
    assert (status, out) == (1, "")
    assert err == f"orders: --hours {hours}: give a whole number of hours from 1 to 1000000\n"


def test_orders_prune_keys_refuses_a_file_that_is_not_a_write_database(tmp_path):
    status, out, err = orders("prune-keys", "--db", tmp_path / "missing.db")
    assert (status, out) == (1, "")
    assert "no such write database" in err
