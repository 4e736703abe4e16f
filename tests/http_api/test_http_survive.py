"""Issue 21 on SQLite: waiting reads hold no worker thread and no session; an unavailable database
is a 503.

Every wait is bounded; nothing asserts on elapsed time.
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from http_story import PLACE, key
from order_service.app import Session
from order_service.entrypoints.http_api import RETRY_AFTER, create_app
from order_service.read.queries import OrderQueries
from test_http_commands import assert_problem

WAITING = 60
"""More waiting reads than the worker threads (40): they would hold every one of them."""

BOUND = 60.0  # seconds; a bound on every wait, not an expectation


def until(check, what):
    deadline = time.monotonic() + BOUND
    while not (found := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)
    return found


def test_a_command_is_carried_out_while_many_reads_wait_for_min_version(tmp_path):
    # The waits are for an order nobody has placed yet: they wait until it is placed.
    app = create_app(tmp_path / "orders.db", wait_timeout=BOUND)
    with TestClient(app) as client, ThreadPoolExecutor(WAITING) as pool:
        waits = [
            pool.submit(client.get, "/orders/2002", params={"min_version": 1})
            for _ in range(WAITING)
        ]
        until(
            lambda: client.get("/health/ready").json()["waiting_reads"] == WAITING,
            f"{WAITING} reads waiting",
        )
        # Nor a session, so no database connection: the watcher's one read may be in flight.
        sessions = app.state.runtime.require()
        assert len(sessions._sessions) - sessions._idle.qsize() <= 1, "a wait holds a session"
        placed = client.post("/orders", json=PLACE, headers=key())  # another order
        assert placed.status_code == 201, placed.text
        assert not any(wait.done() for wait in waits), "the command waited for the reads"
        # Now the order they wait for: every wait ends with it.
        other = client.post("/orders", json={**PLACE, "order_id": "2002"}, headers=key())
        assert other.status_code == 201, other.text
        answers = [wait.result(timeout=BOUND) for wait in waits]
    assert {(a.status_code, a.json()["last_version"]) for a in answers} == {(200, 1)}


def test_a_waiting_read_whose_database_goes_away_answers_503_not_500(tmp_path, monkeypatch):
    app = create_app(tmp_path / "orders.db", wait_timeout=BOUND)
    with TestClient(app) as client:

        def fail(self, order_ids):  # the watcher's read, while the request holds no session
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(OrderQueries, "versions_of", fail)
        waiting = client.get("/orders/2002", params={"min_version": 1})
        assert_problem(waiting, 503, "database-unavailable")
        assert waiting.headers["Retry-After"] == str(RETRY_AFTER)


def test_liveness_and_readiness_say_the_service_is_up_and_takes_commands(tmp_path):
    with TestClient(create_app(tmp_path / "orders.db")) as client:
        assert client.get("/health/live").json() == {"live": True}
        ready = until(
            lambda: (r := client.get("/health/ready")).status_code == 200 and r.json(), "ready"
        )
        assert ready["ready"] and ready["healthy"] and ready["database"] == "reachable"
        assert ready["relay"] == "running"
        assert {s["worker"] for s in ready["subscribers"]} == {"running"}
        assert {s["lag"] for s in ready["subscribers"]} == {0}


def test_a_database_error_answers_503_with_retry_after_and_the_session_is_replaced(
    tmp_path, monkeypatch
):
    app = create_app(tmp_path / "orders.db")
    with TestClient(app) as client:
        assert client.post("/orders", json=PLACE, headers=key()).status_code == 201
        sessions = app.state.runtime.sessions
        [lost] = list(sessions._sessions.values())  # the one session the command used

        def fail(*args, **kwargs):
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(lost, "handle", fail)
        second = {**PLACE, "order_id": "1002"}
        refused = client.post("/orders", json=second, headers=key())
        problem = assert_problem(refused, 503, "database-unavailable")
        assert refused.headers["Retry-After"] == str(RETRY_AFTER)
        assert "disk I/O" not in problem["detail"]  # the driver's words stay in the log
        assert lost not in sessions._sessions.values()  # discarded, not handed out again
        assert client.post("/orders", json=second, headers=key()).status_code == 201


def test_a_session_known_to_be_broken_is_not_handed_out(tmp_path, monkeypatch):
    app = create_app(tmp_path / "orders.db")
    with TestClient(app) as client:
        assert client.post("/orders", json=PLACE, headers=key()).status_code == 201
        sessions = app.state.runtime.sessions
        [broken] = list(sessions._sessions.values())
        monkeypatch.setattr(Session, "broken", lambda self: self is broken)
        read = client.get("/orders/1001/events")
        assert read.status_code == 200
        assert broken not in sessions._sessions.values()


def test_a_worker_failing_when_the_app_stops_is_named_and_readiness_said_so(tmp_path, monkeypatch):
    app = create_app(tmp_path / "orders.db")
    with TestClient(app) as client:
        subscription = app.state.runtime.service.subscriptions["order_summary"]

        def fail(**kwargs):
            raise sqlite3.OperationalError("unable to open database file")

        monkeypatch.setattr(subscription, "run_once", fail)
        ready = until(
            lambda: (r := client.get("/health/ready")).status_code == 503 and r.json(), "503"
        )
        [projector] = [s for s in ready["subscribers"] if s["subscriber"] == "order_summary"]
        assert projector["worker"].startswith("failing: OperationalError")
        assert client.get("/health/live").status_code == 200
        assert client.post("/orders", json=PLACE, headers=key()).status_code == 201
    assert app.state.failed_workers == ["order_summary"]  # `orders serve` exits 1 on this
