"""Snapshots: taken by policy, used when trusted, never needed for a correct result."""

from __future__ import annotations

import itertools
import logging

import pytest
from failing_writes import fail_inserts
from order_service.model.commands import PayOrder, PlaceOrder, ShipOrder
from order_service.model.fold import fold
from order_service.model.snapshots import REDUCER_VERSION, Snapshot
from order_service.write.handlers import CommandHandler, load_order
from order_service.write.store import EventStore

CLOCK = "2026-11-02T09:15:00Z"


def ids():
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


@pytest.fixture
def store(new_db):
    store = EventStore(new_db(), clock=lambda: CLOCK)
    yield store
    store.close()


def story(store, snapshot_every):
    handle = CommandHandler(store, new_id=ids(), clock=lambda: CLOCK, snapshot_every=snapshot_every)
    price = {"amount": "79.99", "currency": "EUR"}
    clock_line = {"sku": "RETRO-CLOCK", "quantity": 1, "unit_price": price}
    handle(PlaceOrder(order_id="1001", customer_id="C-0042", lines=[clock_line]))
    handle(PayOrder(order_id="1001", payment_id="PAY-7731", amount=price))
    return handle(ShipOrder(order_id="1001", carrier="DHL", tracking_number="JD0146"))


def test_the_policy_snapshots_when_the_version_reaches_a_multiple_of_n(store):
    story(store, snapshot_every=2)
    snapshot = store.latest_snapshot("1001")
    assert (snapshot.version, snapshot.reducer_version) == (2, REDUCER_VERSION)
    assert snapshot.state["status"] == "paid"


def test_loading_starts_from_the_snapshot_and_folds_only_the_events_after_it(store):
    story(store, snapshot_every=2)
    loaded = load_order(store, "1001")
    assert (loaded.snapshot_version, loaded.events_folded, loaded.version) == (2, 1, 3)
    assert loaded.state == fold(store.load("1001"))


def test_without_any_snapshot_the_same_state_loads_by_replaying_every_event(store):
    story(store, snapshot_every=2)
    with_snapshot = load_order(store, "1001").state
    store.conn.execute("DELETE FROM order_snapshots")  # a cache: dropping it is allowed
    loaded = load_order(store, "1001")
    assert (loaded.snapshot_version, loaded.events_folded) == (0, 3)
    assert loaded.state == with_snapshot


def test_a_snapshot_from_another_reducer_version_is_discarded_and_the_stream_replayed(
    store, caplog
):
    story(store, snapshot_every=2)
    stale = store.latest_snapshot("1001")
    store.conn.execute("DELETE FROM order_snapshots")
    store.save_snapshot(Snapshot("1001", 2, REDUCER_VERSION - 1, {"whatever": "old shape"}))
    with caplog.at_level(logging.WARNING, logger="order_service.model.snapshots"):
        loaded = load_order(store, "1001")
    assert (loaded.snapshot_version, loaded.events_folded) == (0, 3)
    assert loaded.state == fold(store.load("1001"), None)
    assert stale.version == 2
    assert "discarded, replaying the stream" in caplog.text


def test_an_older_snapshot_never_replaces_a_newer_one(store):
    story(store, snapshot_every=1)
    newest = store.latest_snapshot("1001")
    assert newest.version == 3
    store.save_snapshot(
        Snapshot("1001", 1, REDUCER_VERSION, fold(store.load("1001", upto_version=1)).to_dict())
    )
    assert store.latest_snapshot("1001") == newest


def test_a_snapshot_that_cannot_be_saved_leaves_the_command_succeeded_and_says_so(store, caplog):
    # The events are committed before the snapshot is written: failing then would make the
    # client send the command again, although it was carried out.
    fail_inserts(store.conn, "order_snapshots", "disk full")
    with caplog.at_level(logging.WARNING, logger="order_service.write.handlers"):
        assert story(store, snapshot_every=2) == 3
    assert [event["version"] for event in store.load("1001")] == [1, 2, 3]
    assert store.latest_snapshot("1001") is None
    assert "order 1001: snapshot not saved: disk full" in caplog.text
    assert load_order(store, "1001").state == fold(store.load("1001"))
