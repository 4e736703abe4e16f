"""The diagram's processes apart, on a real broker, through faults: kills, rebalances, restarts.

Each test writes a stream of commands in this process (the write side needs no broker) while
`orders relay` and `orders project` run as processes of their own, breaks something mid-stream,
and then checks what a user would (`kafka_processes`): nothing lost, nothing applied twice,
each order in version order, the read model equal to the fold; and every process it stopped
with SIGTERM exited 0.
"""

from __future__ import annotations

import os
import uuid

import pytest
from command_builders import TickingClock, counting_ids
from kafka_processes import (
    Writer,
    assert_read_model_is_the_fold,
    caught_up,
    projected_versions,
    projector,
    relay,
    stored_versions,
    topic_url,
    wait_until,
    write_orders,
)
from kafka_server import ADDRESS_VARIABLE, broker_for_tests
from order_service.app import bootstrap

pytestmark = pytest.mark.fault


@pytest.fixture
def service(tmp_path):
    """The write side in this process, on SQLite, with 10 orders (30 events) stored."""
    service = bootstrap(tmp_path / "orders.db", clock=TickingClock(), new_id=counting_ids())
    write_orders(service, range(1, 11))
    yield service
    service.close()


def more_orders(writer: Writer, count: int) -> None:
    """Wait until the writer has stored `count` more orders."""
    mark = writer.next
    wait_until(lambda: writer.next >= mark + count, f"{count} more orders written")


def all_published(service) -> bool:
    return service.relay.pending() == 0 and caught_up(service)


def test_a_projector_killed_mid_stream_and_restarted_applies_every_event_once(
    kafka_broker, service, started, tmp_path
):
    url = topic_url(kafka_broker)
    started += [relay(tmp_path, service, url), projector(tmp_path, service, url)]
    with Writer(service, 11) as writer:
        wait_until(lambda: len(projected_versions(service)) >= 5, "the projector under way")
        started[1].kill()  # SIGKILL: between two events, or inside one's transaction
        at_kill = projected_versions(service)
        more_orders(writer, 10)
    assert at_kill != stored_versions(service)  # it was killed mid-stream
    started.append(projector(tmp_path, service, url))
    wait_until(lambda: all_published(service), "the restarted projector to catch up")
    assert started[2].stop() == 0, started[2].errors
    assert started[0].stop() == 0, started[0].errors
    assert_read_model_is_the_fold(service, tmp_path / "fresh.db")


def test_two_projectors_in_one_group_share_the_stream_through_rebalances(
    kafka_broker, service, started, tmp_path
):
    url = topic_url(kafka_broker)
    started += [relay(tmp_path, service, url), projector(tmp_path, service, url)]
    first = started[1]
    with Writer(service, 11) as writer:
        wait_until(lambda: len(projected_versions(service)) >= 5, "the first projector under way")
        second = projector(tmp_path, service, url)  # joins the group: a rebalance mid-stream
        started.append(second)
        second.wait_for_line("consuming")
        more_orders(writer, 10)
        assert first.stop() == 0, first.errors  # leaves mid-stream: the second takes it all
        more_orders(writer, 10)
    wait_until(lambda: all_published(service), "the second projector to catch up")
    assert second.stop() == 0, second.errors
    assert first.applied() > 0 and second.applied() > 0
    assert started[0].stop() == 0, started[0].errors
    assert_read_model_is_the_fold(service, tmp_path / "fresh.db")


def test_the_broker_stopped_and_restarted_mid_stream_loses_nothing(service, started, tmp_path):
    # A broker of its own: halting the shared one would break the other tests.
    broker = broker_for_tests({k: v for k, v in os.environ.items() if k != ADDRESS_VARIABLE})
    try:
        url = f"{broker.url}/orders-{uuid.uuid4().hex[:8]}"
        started += [relay(tmp_path, service, url), projector(tmp_path, service, url)]
        with Writer(service, 11) as writer:
            wait_until(lambda: len(projected_versions(service)) >= 5, "the projector under way")
            broker.halt()
            more_orders(writer, 10)  # commands go on: only the bus is away
            assert service.relay.pending() > 0  # ... and the outbox holds what waits for it
            broker.resume()
            more_orders(writer, 5)
        wait_until(lambda: all_published(service), "the pipeline to catch up after the restart")
        assert all(process.stop() == 0 for process in started), [p.errors for p in started]
        assert "kafka client:" in started[0].errors  # the relay said the broker was away
        assert_read_model_is_the_fold(service, tmp_path / "fresh.db")
    finally:
        broker.stop()
