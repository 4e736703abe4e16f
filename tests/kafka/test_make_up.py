"""`make up` (`python -m order_service_bench.up`): the whole diagram starts, answers, and stops.

It starts its own PostgreSQL cluster and Kafka broker, so it needs what the `postgres_server` and
`kafka_broker` fixtures need; it is skipped (or fails under CI=true) when they cannot be had.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from kafka_processes import wait_until
from order_service_bench.postgres_server import free_port

pytestmark = pytest.mark.slow


def processes_naming(*texts: str) -> list[str]:
    """The command lines of running processes that hold any of `texts`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        if any(text in line for text in texts):
            found.append(line)
    return found


def test_make_up_serves_the_r2_exchange_and_stops_on_ctrl_c_leaving_nothing_behind(
    kafka_broker, postgres_server, tmp_path
):
    # The fixtures only skip the test (or fail it under CI) when Kafka or PostgreSQL is missing:
    # `up` starts a cluster and a broker of its own.
    port = free_port()
    log = tmp_path / "up.out"
    with log.open("w") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "order_service_bench.up", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        wait_until(lambda: "Ctrl-C stops everything" in log.read_text() or up.poll() is not None,
                   "make up to say everything runs", timeout=240)  # fmt: skip
        text = log.read_text()
        assert up.poll() is None, text
        for command in ("orders serve", "orders relay", "orders project", "orders notify"):
            assert f"$ {command} --db postgresql://" in text.replace("'", "")  # the commands
        assert f"API http://127.0.0.1:{port}" in text
        folders = re.findall(r"(?:cluster|broker) in (/tmp/orders-\S+)", text)
        schema = re.search(r"schema=(\w+)", text).group(1)
        base = f"http://127.0.0.1:{port}"
        placed = httpx.post(f"{base}/orders", headers={"Idempotency-Key": str(uuid.uuid4())},
                            json={"order_id": "1001", "customer_id": "C-0042",
                                  "lines": [{"sku": "RETRO-CLOCK", "quantity": 1, "unit_price":
                                             {"amount": "79.99", "currency": "EUR"}}]},
                            timeout=30)  # fmt: skip
        assert placed.status_code == 201, placed.text
        read = httpx.get(f"{base}/orders/1001", params={"min_version": 1}, timeout=30)
        assert (read.status_code, read.json()["last_version"]) == (200, 1), read.text
        up.send_signal(signal.SIGINT)  # Ctrl-C (SIGTERM takes the same path)
        assert up.wait(120) == 0, log.read_text()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert "up: stopped" in log.read_text()
    left = [f for f in folders if Path(f).exists()]
    assert left == []  # the cluster's and the broker's data are removed
    named = [*folders, schema, f"--port {port}"]
    assert processes_naming(*named) == []  # no server, broker or orders process left
