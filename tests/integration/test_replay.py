"""Replay: a rebuilt read model equals the live one; no side effect fires; temporal queries."""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections import Counter
from contextlib import closing, suppress
from decimal import Decimal
from pathlib import Path

from command_builders import add, cancel, deliver, line, pay, place, ship
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from order_service.app import bootstrap
from order_service.model.decide import CommandRejected
from order_service.model.fold import fold
from order_service.model.upcasting import upcast
from order_service.read.projections import contents, rebuild
from order_service.read.read_model import open_read_model
from order_service.write.handlers import SNAPSHOT_EVERY, load_order
from order_service.write.temporal import order_as_of

PRICES = {"RETRO-CLOCK": "79.99", "BRASS-KEY": "24.99", "GLOBE": "45.00"}
ORDER_IDS = st.sampled_from(["1001", "1002", "1003"])
LINES = st.builds(
    lambda sku, quantity: line(sku, quantity, PRICES[sku]),
    st.sampled_from(sorted(PRICES)),
    st.integers(1, 3),
)
STEPS = st.one_of(
    st.tuples(st.just("place"), ORDER_IDS, st.sampled_from(["C-1", "C-2"]),
              st.lists(LINES, min_size=1, max_size=3)),
    st.tuples(st.just("add"), ORDER_IDS, LINES),
    st.tuples(st.just("pay"), ORDER_IDS, st.booleans()),
    st.tuples(st.just("ship"), ORDER_IDS),
    st.tuples(st.just("deliver"), ORDER_IDS),
    st.tuples(st.just("cancel"), ORDER_IDS),
    st.tuples(st.just("relay")),
    st.tuples(st.just("redeliver everything")),
)  # fmt: skip


def command_for(service, step):
    kind, *arguments = step
    if kind == "place":
        order_id, customer, lines = arguments
        return place(order_id, customer, *lines)
    order_id = arguments[0]
    if kind == "add":
        return add(order_id, arguments[1]["sku"], arguments[1]["quantity"],
                   arguments[1]["unit_price"]["amount"])  # fmt: skip
    if kind == "pay":
        state = load_order(service.store, order_id).state
        total = state.total if state is not None and arguments[1] else "1.00"
        return pay(order_id, total)
    return {"ship": ship, "deliver": deliver, "cancel": cancel}[kind](order_id)


def run(service, steps):
    for step in steps:
        if step[0] == "relay":
            service.relay.run_once()
            service.catch_up()
        elif step[0] == "redeliver everything":
            service.relay.store.conn.execute("UPDATE outbox SET sent_at = NULL")
            service.relay.run_once()
            service.projector.conn.execute("UPDATE tracking SET position = 0")  # read it all again
            service.catch_up()
        else:
            # A random sequence breaks rules often; a rejection appends nothing.
            with suppress(CommandRejected):
                service.handle(command_for(service, step))
    service.catch_up()


def expected_summary(state):
    """What order_summary should say, computed from the reducer, not from the projector."""
    return {
        "customer_id": state.customer_id,
        "status": state.status,
        "total_amount": state.total,
        "currency": state.currency,
        "item_count": sum(line.quantity for line in state.lines),
        "skus": tuple(sorted(line.sku for line in state.lines)),
        "last_version": state.version,
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    steps=st.lists(STEPS, max_size=25),
    # Small policies make the handler load from snapshots mid-sequence; they must change nothing.
    snapshot_every=st.sampled_from([1, 2, 3, SNAPSHOT_EVERY]),
)
def test_a_replay_rebuilds_the_same_read_model_as_live_projection_for_any_command_sequence(
    steps, snapshot_every
):
    with tempfile.TemporaryDirectory() as directory:
        service = bootstrap(
            Path(directory) / "orders.db",
            clock=lambda: "2026-11-02T09:15:00Z",
            new_id=lambda: str(uuid.uuid4()),
            snapshot_every=snapshot_every,
        )
        try:
            run(service, steps)
            live = contents(service.projector.conn)
            with closing(open_read_model(Path(directory) / "replayed.db")) as fresh:
                replayed = rebuild(service.store, fresh)
                assert contents(fresh) == live
            assert replayed == len(list(service.store.read_all()))
            # And both agree with the reducer, an independent computation of each order.
            order_ids = sorted({e["order_id"] for _, e in service.store.read_all()})
            for order_id in order_ids:
                summary = service.queries.get(order_id)
                state = fold(map(upcast, service.store.load(order_id)))
                got = {key: getattr(summary, key) for key in expected_summary(state)}
                assert got == expected_summary(state)
                assert load_order(service.store, order_id).state == state  # snapshot or not
            assert len(live["order_summary"]) == len(order_ids)
        finally:
            service.close()


def story(service):
    service.handle(place("1001", "C-0042", line("RETRO-CLOCK"), line("BRASS-KEY", 2, "24.99")))
    service.handle(pay("1001", "129.97"))
    service.handle(ship("1001"))
    service.handle(place("1002", "C-0077"))
    service.catch_up()


class Spy:
    """A subscriber that records every event it is handed (no deduplication to hide a second)."""

    name = "spy"

    def __init__(self, conn) -> None:
        self.conn = conn
        self.handed: list[int] = []

    def apply(self, event, position):
        self.handed.append(position)


def test_a_replay_in_place_fires_no_side_effect_and_keeps_the_read_model(service):
    story(service)
    spy = service.add_subscriber(Spy, Spy.name)
    service.catch_up()
    assert spy.handed == [1, 2, 3, 4]  # the spy hears every stored event once
    sent, before = service.notifier.sent(), contents(service.projector.conn)
    assert service.replay() == 4
    assert spy.handed == [1, 2, 3, 4], "the replay handed events to another subscriber"
    assert service.notifier.sent() == sent
    assert contents(service.projector.conn) == before


def test_a_replay_repairs_a_damaged_read_model(service):
    story(service)
    before = contents(service.projector.conn)
    service.projector.conn.execute("DELETE FROM order_summary_skus")
    service.projector.conn.execute(
        "UPDATE order_summary SET status = 'cancelled', total_amount = '0.00'"
    )
    service.replay()
    assert contents(service.projector.conn) == before


def test_a_replay_of_an_empty_store_empties_the_read_model(service, new_db):
    story(service)
    with closing(open_read_model(new_db("other"))) as other:
        empty = bootstrap(new_db("empty"))
        try:
            assert rebuild(empty.store, other) == 0
            assert contents(other) == {
                "order_summary": [], "order_summary_skus": [],
                "tracking": [("order_summary", 0)], "parked_events": [],
            }  # fmt: skip
        finally:
            empty.close()


def test_a_replay_reads_old_schema_versions_through_the_upcaster(service):
    v1 = {
        "event_id": "11111111-1111-4111-8111-111111111111",
        "event_type": "OrderPlaced",
        "schema_version": 1,
        "order_id": "2001",
        "version": 1,
        "occurred_at": "2025-01-02T03:04:05Z",
        "data": {"customer_id": "C-9", "currency": "EUR",
                 "items": [{"sku": "RETRO-CLOCK", "qty": 2, "unit_price_cents": 7999}]},
        "metadata": {"correlation_id": "11111111-1111-4111-8111-111111111111",
                     "causation_id": "11111111-1111-4111-8111-111111111111"},
    }  # fmt: skip
    service.store.append([v1], expected_version=0)  # an event stored before the schema changed
    service.replay()
    summary = service.queries.get("2001")
    assert (summary.total_amount, summary.item_count, summary.skus) == (
        str(Decimal("79.99") * 2), 2, ("RETRO-CLOCK",),
    )  # fmt: skip
    assert load_order(service.store, "2001").state.total == "159.98"


def test_a_temporal_query_gives_the_order_as_of_a_version_or_a_time(service):
    service.handle(place("1001", "C-0042", line("RETRO-CLOCK")))  # placed 09:15, recorded 09:16
    service.handle(pay("1001", "79.99"))  # paid 09:17
    service.handle(ship("1001"))  # shipped 09:19
    assert order_as_of(service.store, "1001", version=2).status == "paid"
    assert order_as_of(service.store, "1001", version=1).status == "placed"
    paid_at = service.store.load("1001")[1]["occurred_at"]
    assert order_as_of(service.store, "1001", at=paid_at).status == "paid"
    assert order_as_of(service.store, "1001", at="2026-11-02T09:00:00Z") is None
    assert order_as_of(service.store, "1001").status == "shipped"
    assert Counter(e["event_type"] for e in service.store.load("1001")) == Counter(
        {"OrderPlaced": 1, "OrderPaid": 1, "OrderShipped": 1}
    )


def test_an_event_projected_while_a_replay_reads_the_store_survives_the_replay(service, new_db):
    service.handle(place("1001"))
    service.catch_up()

    def another_process_places_and_projects():
        other = bootstrap(service.write_db, service.read_db)  # its own connections
        try:
            other.handle(place("1002"))
            other.relay.run_once()
            other.catch_up()  # waits for the replay's lock, then goes on from its position
        finally:
            other.close()

    racer = threading.Thread(target=another_process_places_and_projects)

    class StoreReadDuringARace:
        """The store, but once the replay has read it, #1002 is appended and projected."""

        def read_all(self, **options):
            yield from service.store.read_all(**options)
            racer.start()
            racer.join(1)  # bounded: the racer waits for the replay's lock, or it is done

    with closing(open_read_model(service.read_db)) as conn:
        assert rebuild(StoreReadDuringARace(), conn) == 1
    racer.join(60)
    assert not racer.is_alive()
    assert service.queries.get("1002") is not None
    with closing(open_read_model(new_db("fresh"))) as fresh:
        rebuild(service.store, fresh)
        assert contents(service.projector.conn) == contents(fresh)
