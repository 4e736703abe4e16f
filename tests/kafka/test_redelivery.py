"""A record delivered again (Kafka is at least once) changes nothing: each subscriber absorbs it.

No broker here: the events are handed to the Kafka subscription as a consumer would hand them.
"""

from __future__ import annotations

from contextlib import closing

from command_builders import TickingClock, counting_ids
from kafka_processes import pay, place, ship
from order_service.app import bootstrap
from order_service.bus.kafka import KafkaBus
from order_service.bus.kafka_consumer import KafkaSubscription
from order_service.read.projections import contents

BUS = KafkaBus.parse("kafka://127.0.0.1:9/unused")  # never contacted: no consumer is opened


def shipped_service(tmp_path):
    service = bootstrap(tmp_path / "orders.db", clock=TickingClock(), new_id=counting_ids())
    for command in (place("1001"), pay("1001"), ship("1001")):
        service.handle(command)
    return service


def test_the_projector_ignores_an_event_at_or_below_its_rows_version(tmp_path):
    service = shipped_service(tmp_path)
    try:
        events = list(service.store.read_all())
        projector = service.projector
        with service.read_db.transaction(projector.conn):
            for position, event in events:
                projector.apply(event, position)
        before = contents(projector.conn)
        assert [row[-3] for row in before["order_summary"]] == [3]  # last_version 3
        with service.read_db.transaction(projector.conn):
            for position, event in reversed(events):  # each again, the newest first
                projector.apply(event, position)
        assert contents(projector.conn) == before
    finally:
        service.close()


def test_the_notifier_sends_once_however_often_the_shipment_is_delivered(tmp_path):
    service = shipped_service(tmp_path)
    try:
        subscription = KafkaSubscription(BUS, service.notifier, clock=service.clock)
        events = list(service.store.read_all())
        for position, event in events + events[::-1]:  # all, then all again backwards
            assert subscription.handle(event, position)
        assert service.notifier.sent() == [
            "order 1001 shipped with DHL, tracking number JD014600006281230704"
        ]
    finally:
        service.close()


def test_a_parked_event_delivered_again_stays_parked_and_an_earlier_one_is_absorbed(tmp_path):
    service = shipped_service(tmp_path)
    try:
        subscription = KafkaSubscription(BUS, service.projector, clock=service.clock)
        (p1, placed), (p2, paid), (p3, shipped) = service.store.read_all()
        assert subscription.handle(placed, p1)
        broken = {**paid, "version": 4}  # skips versions: the fold refuses it
        assert not subscription.handle(broken, p2)  # parked
        assert not subscription.handle(shipped, p3)  # waits behind it
        assert not subscription.handle(broken, p2)  # again: still parked, not applied
        assert subscription.handle(placed, p1)  # before the parked one: absorbed, not parked
        with closing(service.read_db.connect(read_only=True)) as conn:
            parked = conn.execute("SELECT position FROM parked_events ORDER BY 1").fetchall()
        assert [row[0] for row in parked] == [p2, p3]
        assert service.queries.get("1001").last_version == 1
    finally:
        service.close()
