"""The R2 exchange with the diagram's processes apart: the API (relaying to Kafka), the projector
as a process of its own, both on PostgreSQL: a POST, then a GET with `min_version`."""

from __future__ import annotations

import uuid

import httpx
import pytest
from kafka_processes import Orders, topic_url, wait_until
from order_service_bench.postgres_server import free_port


@pytest.mark.slow  # two processes to start, a consumer group to join
def test_the_r2_exchange_through_the_api_kafka_and_the_projector_on_postgresql(
    kafka_broker, postgres_server, started, tmp_path
):
    url, db, port = topic_url(kafka_broker), postgres_server.new_url(), free_port()
    api = Orders(tmp_path, "serve", "serve", "--db", db, "--port", str(port), "--bus", url,
                 "--wait-timeout", "30")  # fmt: skip
    started.append(api)
    api.wait_for_line("serving http://")
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(f"{base}/health/live"), "the API to answer")
    started.append(Orders(tmp_path, "project", "project", "--db", db, "--bus", url,
                          "--session-timeout", "6", "--poll-timeout", "0.1"))  # fmt: skip
    started[-1].wait_for_line("assigned partitions 0, 1, 2")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"order_id": "1001", "customer_id": "C-0042",
            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1,
                       "unit_price": {"amount": "79.99", "currency": "EUR"}}]}  # fmt: skip
    placed = httpx.post(f"{base}/orders", json=body, headers=key, timeout=30)
    assert (placed.status_code, placed.json()) == (201, {"order_id": "1001", "version": 1})
    read = httpx.get(f"{base}/orders/1001", params={"min_version": 1}, timeout=60)
    assert read.status_code == 200, read.text
    assert (read.json()["last_version"], read.headers["etag"]) == (1, '"1"')
    payment = {"payment_id": "PAY-1", "amount": {"amount": "79.99", "currency": "EUR"}}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    paid = httpx.post(f"{base}/orders/1001/payment", headers=key, json=payment, timeout=30)
    assert paid.status_code in (200, 201), paid.text
    read = httpx.get(f"{base}/orders/1001", params={"min_version": 2}, timeout=60)
    assert (read.status_code, read.json()["status"]) == (200, "paid")
    health = httpx.get(f"{base}/health", timeout=30).json()
    assert health["relay"] == "running" and health["healthy"], health
    assert [s["worker"] for s in health["subscribers"]] == ["in another process"] * 2
    assert started[1].stop() == 0, started[1].errors
    assert api.stop() == 0, api.errors


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
