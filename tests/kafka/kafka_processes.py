"""The Kafka tests' tools: `orders` processes, a stream of commands, and what a user would check.

A user checks four things after any fault: nothing lost (every stored event reached the read
model), nothing applied twice (one message per shipped order; each row's `last_position` is its
last event's), each order in version order (the projector parks an event that skips a version:
none is parked), and the read model equal to the fold (a rebuild from the store gives the same
rows).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from order_service.app import OrderService
from order_service.bus.kafka import KafkaBus
from order_service.read.projections import contents, rebuild
from order_service.read.read_model import open_read_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from command_builders import pay, place, ship  # the integration tests' builders

DEADLINE = 120.0
"""How long a test waits for a condition: generous, for a loaded two-core machine."""


def topic_url(broker: Any) -> str:
    """A fresh topic on `broker`: a test never sees another test's records."""
    return f"{broker.url}/t-{uuid.uuid4().hex[:12]}"


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll `condition` until it is truthy; fail saying `what` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


class Orders:
    """An `orders` command running in its own process; its error stream goes to a file."""

    def __init__(self, folder: Path, name: str, *args: str) -> None:
        self.log = folder / f"{name}-{uuid.uuid4().hex[:6]}.err"
        self._file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "order_service.entrypoints.cli", *args],
            stdout=subprocess.DEVNULL,
            stderr=self._file,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    @property
    def errors(self) -> str:
        return self.log.read_text()

    def wait_for_line(self, text: str) -> None:
        """Wait until the process wrote `text` on its error stream (it is running then)."""
        wait_until(lambda: text in self.errors or self.process.poll() is not None, text)
        assert text in self.errors, self.errors

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit status (a clean stop is 0)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._file.close()

    def kill(self) -> None:
        """SIGKILL: the process dies at once, whatever it was doing."""
        self.process.kill()
        self.process.wait(30)
        self._file.close()

    def applied(self) -> int:
        """How many events a stopped `orders project` said it handled."""
        last = [line for line in self.errors.splitlines() if "stopped after" in line][-1]
        return int(last.split("stopped after ")[1].split()[0])


def projector(folder: Path, service: OrderService, bus: str, *more: str) -> Orders:
    """`orders project` over `service`'s databases, quick to hand its partitions on."""
    process = Orders(folder, "project", "project", "--db", str(service.write_db), "--read-db",
                     str(service.read_db), "--bus", bus, "--session-timeout", "6",
                     "--poll-timeout", "0.1", *more)  # fmt: skip
    return process


def relay(folder: Path, service: OrderService, bus: str) -> Orders:
    """`orders relay` over `service`'s write database."""
    return Orders(folder, "relay", "relay", "--db", str(service.write_db), "--bus", bus)


def write_orders(service: OrderService, ids: range) -> None:
    """Place, pay and ship each order of `ids`: three events each."""
    for number in ids:
        order_id = str(number)
        service.handle(place(order_id))
        service.handle(pay(order_id))
        service.handle(ship(order_id))


class Writer:
    """Commands sent in a thread, order after order, until stopped: a stream in flight."""

    def __init__(self, service: OrderService, first: int) -> None:
        self.service = service
        self.next = first
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                write_orders(self.service, range(self.next, self.next + 1))
                self.next += 1
        except BaseException as error:  # reported by stop()
            self.error = error

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        assert self.error is None, self.error

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def stored_versions(service: OrderService) -> dict[str, int]:
    """Each order's last version in the store, read through a connection of its own."""
    with closing(service.write_db.connect(read_only=True)) as conn:
        rows = conn.execute(
            "SELECT order_id, MAX(version) FROM order_events GROUP BY order_id"
        ).fetchall()
    return {order_id: version for order_id, version in rows}


def projected_versions(service: OrderService) -> dict[str, int]:
    """Each order's `last_version` in the read model, read through a connection of its own."""
    with closing(service.read_db.connect(read_only=True)) as conn:
        rows = conn.execute("SELECT order_id, last_version FROM order_summary").fetchall()
    return {order_id: version for order_id, version in rows}


def caught_up(service: OrderService) -> bool:
    """True once the read model shows every stored event."""
    return projected_versions(service) == stored_versions(service)


def assert_read_model_is_the_fold(service: OrderService, fresh_db: Path | str) -> None:
    """Nothing lost, nothing out of order, the read model equal to a rebuild from the store."""
    assert caught_up(service)
    for status in service.status():
        assert status.parked == (), status.parked  # a version skipped or out of order parks
    with (
        closing(open_read_model(fresh_db)) as fresh,
        closing(service.read_db.connect(read_only=True)) as live,
    ):
        rebuild(service.store, fresh)
        assert contents(fresh)["order_summary"] == contents(live)["order_summary"]
        assert contents(fresh)["order_summary_skus"] == contents(live)["order_summary_skus"]


def records_in(bus_url: str) -> int:
    """How many records the topic holds, all partitions together."""
    bus = KafkaBus.parse(bus_url)
    consumer = Consumer(bus.config(group_id=f"count-{uuid.uuid4().hex}"))
    try:
        topic = consumer.list_topics(bus.topic, timeout=30).topics[bus.topic]
        total = 0
        for partition in topic.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(bus.topic, partition), timeout=30
            )
            total += high - low
        return total
    finally:
        consumer.close()
