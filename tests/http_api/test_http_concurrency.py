"""Parallel HTTP clients on one order, through a real server: each version once, losers 409."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from http_story import ORDER, PLACE, key, line
from order_service.write.store import EventStore

CLIENTS = 6


class LineUp:
    """Once armed, the next `CLIENTS` appends wait until all of them are ready: every request
    has loaded the same version before any writes, so the race is certain, not left to the
    scheduler."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(CLIENTS)
        self.waiting = 0
        self.lock = threading.Lock()

    def arm(self) -> None:
        self.waiting = CLIENTS

    def wait(self) -> None:
        with self.lock:
            if self.waiting == 0:
                return
            self.waiting -= 1
        self.barrier.wait(timeout=30)


@pytest.fixture
def lined_up(monkeypatch):
    line_up = LineUp()
    append = EventStore.append

    def lined_up_append(self, *args, **kwargs):
        line_up.wait()
        return append(self, *args, **kwargs)

    monkeypatch.setattr(EventStore, "append", lined_up_append)
    return line_up


def _send_all(requests):
    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(lambda send: send(), requests))


def test_parallel_clients_on_one_order_write_each_version_once_and_losers_get_409(
    live_server, lined_up
):
    base, store = live_server
    with httpx.Client(base_url=base) as client:
        assert client.post("/orders", json=PLACE).status_code == 201
    lined_up.arm()  # the place above went through alone; the race starts now

    def add_item(n):
        def send():
            with httpx.Client(base_url=base, timeout=60) as client:
                body = {"line": line(f"PART-{n}", 1, "1.00")}
                return n, client.post(f"/orders/{ORDER}/items", json=body, headers=key())

        return send

    results = _send_all([add_item(n) for n in range(CLIENTS)])
    statuses = sorted(response.status_code for _, response in results)
    assert statuses == [200] + [409] * (CLIENTS - 1)
    for _, response in results:
        if response.status_code == 409:
            problem = response.json()
            assert problem["type"].endswith("#concurrency-conflict")
            assert problem["current_version"] == 2
    # The losers send again, one after another: nothing was lost, every version written once.
    losers = [n for n, response in results if response.status_code == 409]
    versions = [
        response.json()["version"] for _, response in results if response.status_code == 200
    ]
    for n in losers:
        _, response = add_item(n)()
        assert response.status_code == 200
        versions.append(response.json()["version"])
    events = store.load(ORDER)
    assert sorted(versions) == list(range(2, CLIENTS + 2))
    assert [event["version"] for event in events] == list(range(1, CLIENTS + 2))
    skus = sorted(event["data"]["line"]["sku"] for event in events[1:])
    assert skus == sorted(f"PART-{n}" for n in range(CLIENTS))


def test_parallel_retries_with_one_idempotency_key_append_once_and_all_get_its_version(
    live_server, lined_up
):
    base, store = live_server
    with httpx.Client(base_url=base) as client:
        assert client.post("/orders", json=PLACE).status_code == 201
    lined_up.arm()
    headers = key()
    body = {"line": line("BRASS-KEY", 1, "24.99")}

    def retry():
        with httpx.Client(base_url=base, timeout=60) as client:
            return client.post(f"/orders/{ORDER}/items", json=body, headers=headers)

    responses = _send_all([retry] * CLIENTS)
    assert [(r.status_code, r.json()) for r in responses] == [
        (200, {"order_id": ORDER, "version": 2})
    ] * CLIENTS
    assert [event["version"] for event in store.load(ORDER)] == [1, 2]


def test_parallel_clients_deciding_on_one_seen_version_one_wins_the_others_get_412(
    live_server, lined_up
):
    base, store = live_server
    with httpx.Client(base_url=base) as client:
        assert client.post("/orders", json=PLACE).status_code == 201
    lined_up.arm()

    def add_item(n):
        def send():
            with httpx.Client(base_url=base, timeout=60) as client:
                body = {"line": line(f"PART-{n}", 1, "1.00")}
                headers = {"If-Match": '"1"', **key()}
                return client.post(f"/orders/{ORDER}/items", json=body, headers=headers)

        return send

    responses = _send_all([add_item(n) for n in range(CLIENTS)])
    assert sorted(r.status_code for r in responses) == [200] + [412] * (CLIENTS - 1)
    assert all(r.json()["current_version"] == 2 for r in responses if r.status_code == 412)
    assert [event["version"] for event in store.load(ORDER)] == [1, 2]
