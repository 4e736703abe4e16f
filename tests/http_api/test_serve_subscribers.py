"""The poison path end to end through `orders serve`: parked, seen, re-driven.

Every wait is bounded; nothing asserts on elapsed time.
"""

from __future__ import annotations

import io
import sqlite3
import time
from contextlib import closing

import httpx
from http_story import ORDER, PLACE
from order_service.entrypoints.cli import main
from served import orders_serve

TIMEOUT = 60  # seconds; a bound on every wait, not an expectation
REFUSAL = "the read database refuses this order"


def until(check, what):
    deadline = time.monotonic() + TIMEOUT
    while not (found := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)
    return found


def test_a_poison_event_is_parked_shown_on_health_and_status_and_redriven_after_a_fix(tmp_path):
    write_db, read_db = tmp_path / "orders.db", tmp_path / "orders.read.db"
    other = {**PLACE, "order_id": "1002", "customer_id": "C-0077"}
    with orders_serve(write_db) as (base, process):
        assert httpx.get(f"{base}/health").json()["healthy"] is True
        # The poison: the read database refuses #ORDER's row (a broken disk, a bad migration...).
        with closing(sqlite3.connect(read_db)) as conn:
            conn.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT ON order_summary WHEN NEW.order_id = "
                f"'{ORDER}' BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )
        assert httpx.post(f"{base}/orders", json=PLACE).status_code == 201
        assert httpx.post(f"{base}/orders", json=other).status_code == 201

        # Commands go on, the other order is projected, and the health endpoint says what broke.
        read = httpx.get(f"{base}/orders/1002", params={"min_version": 1}, timeout=30)
        assert read.status_code == 200
        health = until(
            lambda: (h := httpx.get(f"{base}/health")).status_code == 503 and h, "a 503"
        ).json()
        [projector] = [s for s in health["subscribers"] if s["subscriber"] == "order_summary"]
        [parked] = projector["parked"]
        assert (parked["order_id"], parked["version"]) == (ORDER, 1)
        assert REFUSAL in parked["error"]
        assert projector["worker"] == "running"
        assert httpx.get(f"{base}/orders/{ORDER}").status_code == 404

        out, err = io.StringIO(), io.StringIO()
        assert main(["status", "--db", str(write_db)], out, err) == 1
        assert f"order {ORDER} version 1: " in out.getvalue() and REFUSAL in out.getvalue()

        # The fix, then one command: the parked event is applied, and all is well again.
        with closing(sqlite3.connect(read_db)) as conn:
            conn.execute("DROP TRIGGER refuse")
        out, err = io.StringIO(), io.StringIO()
        argv = ["redrive", "--db", str(write_db), "--subscriber", "order_summary"]
        assert main(argv, out, err) == 0, err.getvalue()
        assert out.getvalue() == "order_summary: redrove 1 event(s), 0 still parked\n"
        assert httpx.get(f"{base}/orders/{ORDER}").json()["last_version"] == 1
        assert httpx.get(f"{base}/health").status_code == 200
        assert main(["status", "--db", str(write_db)], io.StringIO(), io.StringIO()) == 0
    logged = [line for line in process.stderr.read().splitlines() if "parked event" in line]
    assert len(logged) == 1, logged  # one line, at once, for the one event
    assert "subscriber order_summary parked event" in logged[0] and REFUSAL in logged[0]


def test_orders_redrive_names_the_subscribers_when_given_another(tmp_path):
    write_db = tmp_path / "orders.db"
    assert main(["demo", "--db", str(write_db)], io.StringIO(), io.StringIO()) == 0
    out, err = io.StringIO(), io.StringIO()
    assert main(["redrive", "--db", str(write_db), "--subscriber", "search"], out, err) == 1
    assert err.getvalue() == (
        "orders: --subscriber 'search': no such subscriber (order_summary, shipping_notifier)\n"
    )
