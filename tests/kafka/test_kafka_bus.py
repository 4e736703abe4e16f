"""The relay and the subscribers on a real broker, in this process: records, keys, redeliveries.

What a user checks after each: nothing lost, nothing applied twice, each order in version order,
the read model equal to the fold (`kafka_processes`).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from command_builders import TickingClock, counting_ids
from confluent_kafka import Consumer
from kafka_processes import (
    assert_read_model_is_the_fold,
    caught_up,
    projected_versions,
    records_in,
    topic_url,
    wait_until,
    write_orders,
)
from order_service.app import bootstrap
from order_service.bus.kafka import POSITION, KafkaBus, KafkaPublisher, Undelivered
from order_service.entrypoints.cli import main

ORDERS = range(2001, 2021)  # 20 orders, 60 events


def subscribe(service, name="order_summary", until=None):
    """Run subscriber `name` from Kafka in this thread until `until(subscription)` is true
    (by default: until the read model shows every stored event)."""
    subscription = service.kafka_subscription(name, poll_timeout=0.1, session_timeout_ms=6000)
    done = until or (lambda _: caught_up(service))
    subscription.run(threading.Event(), until=lambda: done(subscription))
    return subscription


def read_topic(url, count):
    """The topic's first `count` records, as (partition, key, position, event)."""
    bus = KafkaBus.parse(url)
    consumer = Consumer(
        bus.config(group_id=f"read-{uuid.uuid4().hex}", auto_offset_reset="earliest")
    )
    consumer.subscribe([bus.topic])
    found = []
    try:
        wait_until(lambda: found.extend(consumer.consume(100, 0.2)) or len(found) >= count,
                   f"{count} records")  # fmt: skip
    finally:
        consumer.close()
    return [
        (m.partition(), m.key().decode(), int(dict(m.headers())[POSITION]), json.loads(m.value()))
        for m in found
    ]


def test_each_order_is_one_partition_in_version_order_and_reaches_the_read_model(
    kafka_broker, tmp_path
):
    url = topic_url(kafka_broker)
    service = bootstrap(tmp_path / "orders.db", clock=TickingClock(), new_id=counting_ids(),
                        bus=url)  # fmt: skip
    try:
        write_orders(service, ORDERS)
        assert service.relay.run_once() == 3 * len(ORDERS)
        assert service.relay.pending() == 0
        stored = {position: event for position, event in service.store.read_all()}
        records = read_topic(url, len(stored))
        assert len(records) == len(stored) == records_in(url)  # published once each
        partitions: dict[str, set[int]] = {}
        versions: dict[str, list[int]] = {}
        for partition, key, position, event in records:
            assert key == event["order_id"]
            assert event == stored[position]  # the value is the stored event, whole
            partitions.setdefault(key, set()).add(partition)
            versions.setdefault(key, []).append(event["version"])
        assert all(len(found) == 1 for found in partitions.values())
        assert all(found == [1, 2, 3] for found in versions.values())
        assert len({p for found in partitions.values() for p in found}) > 1  # several partitions
        subscribe(service)
        subscribe(service, "shipping_notifier", until=lambda s: s.applied == len(stored))
        assert_read_model_is_the_fold(service, tmp_path / "fresh.db")
    finally:
        service.close()


RELAY_THEN_DIE = """
import os, sys
from order_service.app import bootstrap
service = bootstrap(sys.argv[1], bus=sys.argv[2])
publisher = service.relay.publisher
publish_batch = publisher.publish_batch
def acknowledged_then_killed(events):
    delivered, failure = publish_batch(events)
    assert failure is None and delivered == len(events), failure
    os._exit(9)  # after the broker's acknowledgement, before the rows are marked sent
publisher.publish_batch = acknowledged_then_killed
service.relay.run_once()
"""


def test_a_relay_killed_between_the_acknowledgement_and_the_mark_delivers_twice_applies_once(
    kafka_broker, tmp_path
):
    url = topic_url(kafka_broker)
    service = bootstrap(tmp_path / "orders.db", clock=TickingClock(), new_id=counting_ids(),
                        bus=url)  # fmt: skip
    try:
        write_orders(service, ORDERS)
        events = 3 * len(ORDERS)
        died = subprocess.run([sys.executable, "-c", RELAY_THEN_DIE, str(service.write_db), url],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert died.returncode == 9, died.stderr
        assert service.relay.pending() == events  # none marked: the kill came first
        assert records_in(url) == events  # ... but the broker has every one
        assert service.relay.run_once() == events  # the next relay publishes them again
        assert records_in(url) == 2 * events  # each event is in the topic twice
        # Each subscriber handles every record, the second copies too, and absorbs them.
        for name in ("order_summary", "shipping_notifier"):
            subscribe(service, name, until=lambda s: s.applied == 2 * events)
        assert len(service.notifier.sent()) == len(ORDERS)  # one message per shipped order
        assert_read_model_is_the_fold(service, tmp_path / "fresh.db")
    finally:
        service.close()


def test_an_unacknowledged_batch_stays_unsent_and_the_relay_says_why(tmp_path):
    nobody = KafkaBus.parse("kafka://127.0.0.1:9/nowhere")  # nothing listens on port 9
    service = bootstrap(tmp_path / "orders.db", clock=TickingClock(), new_id=counting_ids())
    try:
        write_orders(service, range(1, 3))
        service.relay.publisher = KafkaPublisher(nobody, create_topic=False, message_timeout_ms=500)
        with pytest.raises(Undelivered, match="position 1 not delivered"):
            service.relay.run_once()
        assert service.relay.pending() == 6  # nothing marked sent
    finally:
        service.close()


def test_a_poison_event_is_parked_shown_and_redriven_on_kafka(kafka_broker, tmp_path, monkeypatch):
    url = topic_url(kafka_broker)
    service = bootstrap(tmp_path / "orders.db", clock=TickingClock(), new_id=counting_ids(),
                        bus=url)  # fmt: skip
    try:
        write_orders(service, range(3001, 3004))
        poison = service.store.load("3002")[1]["event_id"]  # its payment
        apply = service.projector.apply

        def refuses_the_poison(event, position):
            if event["event_id"] == poison:
                raise ValueError("cannot project this payment")
            apply(event, position)

        monkeypatch.setattr(service.projector, "apply", refuses_the_poison)
        service.relay.run_once()
        expected = {"3001": 3, "3002": 1, "3003": 3}
        subscribe(
            service,
            until=lambda _: projected_versions(service) == expected and parked(service) == 2,
        )
        out, err = io.StringIO(), io.StringIO()
        assert main(["status", "--db", str(service.write_db)], out, err) == 1  # seen: NOT OK
        assert f"event {poison}, order 3002 version 2: ValueError" in out.getvalue()
        assert "order 3002 version 3: waits behind an earlier parked event" in out.getvalue()
        monkeypatch.setattr(service.projector, "apply", apply)  # the fix
        out = io.StringIO()
        assert main(["redrive", "--db", str(service.write_db), "--subscriber", "order_summary"],
                    out, err) == 0, err.getvalue()  # fmt: skip
        assert "redrove 2 event(s), 0 still parked" in out.getvalue()
        assert_read_model_is_the_fold(service, tmp_path / "fresh.db")
    finally:
        service.close()


def parked(service):
    [status] = [s for s in service.status() if s.subscriber == "order_summary"]
    return len(status.parked)


def test_a_bad_bus_url_is_refused_with_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="give the broker as kafka://HOST:PORT"):
        KafkaBus.parse("kafka://localhost")
    with pytest.raises(ValueError, match="not a Kafka topic name"):
        KafkaBus.parse("kafka://localhost:9092/no spaces")
    assert not Path(tmp_path / "orders.db").exists()
