"""Issue 21 on a real PostgreSQL server: `orders serve` lives through a restart and an outage.

Each test starts a cluster of its own (it restarts and stops it). Every wait is bounded;
nothing asserts on elapsed time. Commands carry an Idempotency-Key and are sent again with
the same key on a 503 or a lost connection, as a client should: nothing acknowledged is lost
and nothing is appended twice.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import httpx
import psycopg
import pytest
from http_story import PLACE
from postgres_server import server_for_tests
from served import orders_serve

pytestmark = pytest.mark.postgresql

BOUND = 60.0  # seconds; a bound on every wait, not an expectation


@pytest.fixture
def own_server():
    """A cluster of this test's own, which it may restart and stop."""
    environ = {name: value for name, value in os.environ.items() if name != "ORDERS_TEST_PG_URL"}
    server = server_for_tests(environ)
    yield server
    server.stop()


def until(check, what):
    deadline = time.monotonic() + BOUND
    while not (found := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)
    return found


def place(base: str, order_id: str, command_key: str) -> httpx.Response | None:
    body = {**PLACE, "order_id": order_id}
    try:
        return httpx.post(
            f"{base}/orders", json=body, headers={"Idempotency-Key": command_key}, timeout=10
        )
    except httpx.TransportError:
        return None


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("#database-unavailable")
    assert int(response.headers["Retry-After"]) >= 1


class Load:
    """Clients placing orders in a loop, each retrying with its key until acknowledged."""

    def __init__(self, base: str, clients: int = 4) -> None:
        self.base = base
        self.acknowledged: list[str] = []
        self.answers: list[int] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]

    def _client(self, n: int) -> None:
        for i in range(100_000):  # bounded; stopped long before
            if self._stop.is_set():
                return
            order_id, command_key = f"{n + 1}{i:05d}", str(uuid.uuid4())
            deadline = time.monotonic() + BOUND
            while time.monotonic() < deadline:
                answer = place(self.base, order_id, command_key)
                if answer is not None:
                    with self._lock:
                        self.answers.append(answer.status_code)
                    if answer.status_code == 201:
                        with self._lock:
                            self.acknowledged.append(order_id)
                        break
                    assert_unavailable(answer)
                time.sleep(0.05)

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(BOUND)
            assert not thread.is_alive()


def stored_orders(url: str) -> dict[str, int]:
    schema = url.split("schema=", 1)[1]
    with psycopg.connect(url.split("?", 1)[0]) as conn:
        rows = conn.execute(
            f"SELECT order_id, COUNT(*) FROM {schema}.order_events GROUP BY order_id"
        ).fetchall()
    return dict(rows)


def test_a_restart_mid_load_and_an_outage_answer_503_then_commands_succeed_again(own_server):
    url = own_server.new_url()
    with orders_serve(url) as (base, process):
        load = Load(base).start()
        until(lambda: len(load.acknowledged) >= 10, "orders placed before the restart")
        own_server.restart()  # pg_ctl restart -m fast: every connection dropped
        before = len(load.acknowledged)
        until(lambda: len(load.acknowledged) >= before + 10, "orders placed after the restart")

        own_server.halt()  # an outage: the service answers 503 and says why
        refused = until(lambda: place(base, "900001", str(uuid.uuid4())), "an answer")
        assert_unavailable(refused)
        ready = httpx.get(f"{base}/health/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert ready.json()["database"].startswith("unreachable")
        assert httpx.get(f"{base}/health/live", timeout=10).status_code == 200
        own_server.resume()

        until(lambda: httpx.get(f"{base}/health/ready", timeout=10).status_code == 200, "ready")
        before = len(load.acknowledged)
        until(lambda: len(load.acknowledged) >= before + 10, "orders placed after the outage")
        load.stop()
        assert set(load.answers) <= {201, 503}, "only acknowledgements and 503s, never a 500"

        stored = stored_orders(url)
        assert set(load.acknowledged) <= set(stored), "an acknowledged order was lost"
        assert set(stored.values()) == {1}, "an order was placed twice"
        last = load.acknowledged[-1]
        read = httpx.get(f"{base}/orders/{last}", params={"min_version": 1}, timeout=10)
        assert read.status_code == 200  # the projector came back too
        health = until(
            lambda: (
                (h := httpx.get(f"{base}/health", timeout=10).json())["healthy"]
                and all(s["lag"] == 0 for s in h["subscribers"])
                and h
            ),
            "every subscriber caught up",
        )
        assert health["relay"] == "running"
        process.terminate()
        _, err = process.communicate(timeout=BOUND)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "shutdown failed" not in err
    assert "outbox relay failed" in err or "subscription" in err  # the failures were logged


def test_a_database_refusing_connections_at_start_up_answers_503_until_it_is_up(own_server):
    url = own_server.new_url()
    own_server.halt()
    with orders_serve(url) as (base, process):
        assert_unavailable(place(base, "1001", str(uuid.uuid4())))
        ready = httpx.get(f"{base}/health/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["database"].startswith("unreachable")
        own_server.resume()
        command_key = str(uuid.uuid4())
        until(
            lambda: (answer := place(base, "1001", command_key)) and answer.status_code == 201,
            "the order placed once the database is up",
        )
        until(lambda: httpx.get(f"{base}/health/ready", timeout=10).status_code == 200, "ready")
        process.terminate()
        _, err = process.communicate(timeout=BOUND)
    assert process.returncode == 0, err
    assert "cannot open the database, retrying" in err
    assert stored_orders(url) == {"1001": 1}
