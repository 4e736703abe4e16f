"""From command to query: the outbox relay, the projector, the read-only query side."""

from __future__ import annotations

import time

import pytest
from command_builders import (
    TickingClock,
    add,
    cancel,
    counting_ids,
    deliver,
    line,
    money,
    pay,
    place,
    ship,
)
from order_service.app import bootstrap
from order_service.model.commands import RefundOrder
from order_service.read.projections import contents
from order_service.read.queries import QueryError
from order_service.write.store import ConcurrencyError


def test_a_command_returns_the_version_it_wrote_and_the_read_model_lags_until_the_relay_runs(
    service,
):
    assert service.handle(place("1001")) == 1
    assert service.queries.get("1001") is None  # the event is committed, not yet projected
    assert service.relay.pending() == 1
    assert service.relay.run_once() == 1
    assert service.queries.get("1001") is None  # publishing ran no subscriber
    service.catch_up()
    summary = service.queries.get("1001")
    assert (summary.status, summary.last_version, summary.total_amount) == ("placed", 1, "79.99")
    assert service.relay.pending() == 0


def test_the_summary_follows_an_order_through_its_whole_life(service):
    service.handle(place("1001", "C-0042", line("RETRO-CLOCK", 1, "79.99")))
    service.handle(add("1001", "BRASS-KEY", 2, "24.99"))
    service.handle(pay("1001", "129.97"))
    service.handle(ship("1001"))
    service.handle(deliver("1001"))
    assert service.catch_up() == 2 * 5  # two subscribers, five events each
    summary = service.queries.get("1001")
    assert summary.status == "delivered"
    assert (summary.total_amount, summary.currency, summary.item_count) == ("129.97", "EUR", 3)
    assert summary.skus == ("BRASS-KEY", "RETRO-CLOCK")
    assert summary.tracking_number == "JD014600006281230704"
    assert None not in (summary.paid_at, summary.shipped_at, summary.delivered_at)
    assert summary.cancelled_at is None
    assert (summary.last_version, summary.last_position) == (5, 5)
    assert service.queries.checkpoint() == 5


def test_a_refund_of_a_cancelled_paid_order_reaches_the_read_model_and_its_search(service):
    service.handle(place("1001"))
    service.handle(pay("1001", "79.99"))
    service.handle(cancel("1001"))
    refund = RefundOrder(order_id="1001", refund_id="REF-1", amount=money("79.99"))
    assert service.handle(refund) == 4
    service.catch_up()
    summary = service.queries.get("1001")
    assert (summary.status, summary.last_version, summary.total_amount) == ("refunded", 4, "79.99")
    assert summary.cancelled_at is not None
    assert [order.order_id for order in service.queries.search(status="refunded")] == ["1001"]


def test_a_rejected_command_appends_nothing_and_publishes_nothing(service):
    service.handle(place("1001"))
    with pytest.raises(ValueError, match="only a paid order ships"):
        service.handle(ship("1001"))
    assert service.store.load("1001")[-1]["version"] == 1
    assert service.relay.pending() == 1


def test_the_query_side_cannot_write_the_read_model(service):
    service.handle(place("1001"))
    service.catch_up()
    # SQLite: "attempt to write a readonly database"; PostgreSQL: "in a read-only transaction".
    with pytest.raises(service.read_db.Error, match=r"readonly|read-only"):
        service.queries.conn.execute("DELETE FROM order_summary")
    assert service.queries.get("1001") is not None


@pytest.fixture
def catalogue(service):
    """Four orders of two customers, in every status but delivered."""
    return fill_catalogue(service)


@pytest.fixture
def sqlite_catalogue(sqlite_service):
    """The same catalogue on SQLite only, for SQLite's query plans."""
    return fill_catalogue(sqlite_service)


def fill_catalogue(service):
    service.handle(place("1001", "C-0042", line("RETRO-CLOCK"), line("BRASS-KEY", 2, "24.99")))
    service.handle(place("1002", "C-0077", line("RETRO-CLOCK", 2)))
    service.handle(place("1003", "C-0042", line("GLOBE", 1, "45.00")))
    service.handle(place("1004", "C-0042", line("BRASS-KEY", 1, "24.99")))
    service.handle(pay("1001", "129.97"))
    service.handle(ship("1001"))
    service.handle(cancel("1002"))
    service.handle(pay("1004", "24.99"))
    service.catch_up()
    return service.queries


def ids(summaries):
    return [summary.order_id for summary in summaries]


def test_search_by_customer_lists_their_orders_newest_first(catalogue):
    assert ids(catalogue.search(customer_id="C-0042")) == ["1004", "1003", "1001"]


def test_search_by_status(catalogue):
    assert ids(catalogue.search(status="cancelled")) == ["1002"]
    assert ids(catalogue.search(status="placed")) == ["1003"]


def test_search_by_sku_finds_every_order_with_a_line_of_that_product(catalogue):
    assert ids(catalogue.search(sku="RETRO-CLOCK")) == ["1002", "1001"]
    assert ids(catalogue.search(sku="NO-SUCH-SKU")) == []


def test_search_by_a_date_range_includes_the_start_and_excludes_the_end(catalogue):
    placed = {order_id: catalogue.get(order_id).placed_at for order_id in ("1002", "1004")}
    found = catalogue.search(placed_from=placed["1002"], placed_before=placed["1004"])
    assert ids(found) == ["1003", "1002"]


def test_a_date_range_in_another_time_zone_is_read_as_the_same_instant(catalogue):
    placed_1002 = catalogue.get("1002").placed_at  # e.g. 2026-11-02T09:17:00Z
    hour = int(placed_1002[11:13])
    in_paris = f"{placed_1002[:11]}{hour + 1:02d}{placed_1002[13:19]}+01:00"
    assert ids(catalogue.search(placed_from=in_paris)) == ["1004", "1003", "1002"]


def test_filters_combine_and_the_limit_cuts_a_stable_order(catalogue):
    assert ids(catalogue.search(customer_id="C-0042", sku="BRASS-KEY")) == ["1004", "1001"]
    assert ids(catalogue.search(limit=2)) == ["1004", "1003"]
    assert ids(catalogue.search(limit=2)) == ids(catalogue.search(limit=4))[:2]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": 0}, "limit: 0 is not between 1 and 500"),
        ({"status": "lost"}, "status: 'lost' is not one of placed, paid"),
        ({"placed_from": "yesterday"}, "placed_from: 'yesterday' is not an ISO 8601 date"),
    ],
)
def test_invalid_search_arguments_are_refused_naming_the_argument(catalogue, arguments, message):
    with pytest.raises(QueryError, match=message):
        catalogue.search(**arguments)


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"customer_id": "C-0042"}, "USING INDEX order_summary_by_customer (customer_id=?)"),
        ({"status": "paid"}, "USING INDEX order_summary_by_status (status=?)"),
        ({"placed_from": "2026-11-02", "placed_before": "2026-11-03"},
         "USING INDEX order_summary_by_placed (placed_at>? AND placed_at<?)"),
        ({"sku": "RETRO-CLOCK"}, "SEARCH k USING PRIMARY KEY (sku=?)"),
        ({}, "SCAN s USING INDEX order_summary_by_placed"),
    ],
)  # fmt: skip
def test_every_search_is_backed_by_an_index(sqlite_catalogue, filters, index, monkeypatch):
    catalogue = sqlite_catalogue
    plans = []
    execute = catalogue.conn.execute

    class Spy:
        def execute(self, sql, params=()):
            plans.append([row[3] for row in execute("EXPLAIN QUERY PLAN " + sql, params)])
            return execute(sql, params)

    monkeypatch.setattr(catalogue, "conn", Spy())
    catalogue.search(**filters)
    [plan] = plans
    assert any(index in step for step in plan), plan
    assert not any(step.startswith("SCAN s") and "INDEX" not in step for step in plan), plan


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"customer_id": "C-0042"}, "order_summary_by_customer"),
        ({"status": "paid"}, "order_summary_by_status"),
        ({"placed_from": "2026-11-02", "placed_before": "2026-11-03"}, "order_summary_by_placed"),
        ({"sku": "RETRO-CLOCK"}, "order_summary_skus_pkey"),
        ({}, "order_summary_by_placed"),
    ],
)
def test_every_search_is_backed_by_an_index_on_postgresql(
    postgres_server, filters, index, monkeypatch
):
    service = bootstrap(postgres_server.new_url(), clock=TickingClock(), new_id=counting_ids())
    try:
        catalogue = fill_catalogue(service)
        plans = []
        execute = catalogue.conn.execute
        # Four rows: the planner would rightly scan them; forbid that to see the index it has.
        execute("SET enable_seqscan = off")

        class Spy:
            def execute(self, sql, params=()):
                plans.append("\n".join(row[0] for row in execute("EXPLAIN " + sql, params)))
                return execute(sql, params)

        monkeypatch.setattr(catalogue, "conn", Spy())
        catalogue.search(**filters)
        [plan] = plans
        assert index in plan, plan
        assert "Seq Scan on order_summary " not in plan, plan
    finally:
        monkeypatch.undo()
        service.close()


def test_read_your_writes_waits_until_the_worker_has_projected_the_version(service):
    with service.workers():
        version = service.handle(place("1001"))
        result = service.queries.wait_for("1001", version, timeout=10)
    assert result.reached
    assert result.seen_version == 1
    assert str(result) == "order 1001: read model at version 1"


def test_read_your_writes_times_out_with_a_clear_result_when_nothing_projects(service):
    version = service.handle(place("1001"))
    result = service.queries.wait_for("1001", version, timeout=0.05)
    assert not result.reached
    assert result.seen_version == 0
    assert "read model still at version 0" in str(result)
    assert "waiting for version 1: timed out" in str(result)


def test_the_versions_of_many_orders_come_in_one_read_and_none_asked_is_no_query(service):
    service.handle(place("1001"))
    service.handle(place("1002"))
    service.relay.run_once()
    service.catch_up()
    assert service.queries.versions_of(["1001", "1002", "1003"]) == {"1001": 1, "1002": 1}
    assert service.queries.versions_of([]) == {}  # PostgreSQL refuses `IN ()`


def test_a_subscriber_that_fails_outside_an_event_leaves_its_rows_and_position_as_they_were(
    service, monkeypatch
):
    service.handle(place("1001"))
    service.catch_up()
    service.handle(pay("1001"))
    before = contents(service.projector.conn)
    # The summary row is written, then the position's write fails: one transaction, so neither.
    subscription = service.subscriptions["order_summary"]
    monkeypatch.setattr(
        subscription.tracking,
        "advance",
        lambda position: subscription.tracking.conn.execute("UPDATE tracking SET disk_full = 1"),
    )
    with pytest.raises(service.read_db.Error, match="disk_full"):
        subscription.run_once()
    assert contents(service.projector.conn) == before
    assert service.queries.get("1001").status == "placed"


def test_a_failing_relay_says_so_at_once_retries_and_publishes_once_the_failure_ends(
    service, caplog
):
    class Broken:
        down = True

        def publish(self, event, position):
            if self.down:
                raise RuntimeError("the broker is down")

    broker = Broken()
    service.relay.publisher = broker
    worker = service.worker().start()
    try:
        service.handle(place("1001"))
        for _ in range(3000):  # bounded: the failure shows at once, within the first run
            if worker.failed:
                break
            time.sleep(0.01)
        assert worker.state == "failing: RuntimeError: the broker is down"
        assert "outbox relay failed, retrying in" in caplog.text
        assert service.store.pending() == 1  # the relay's own connection is the worker's
        broker.down = False  # the broker is back: the next retry publishes
        for _ in range(3000):
            if service.store.pending() == 0:
                break
            time.sleep(0.01)
        assert service.store.pending() == 0
        assert worker.state == "running"
        assert not worker.failed
    finally:
        worker.stop()


def test_the_shipping_notifier_sends_one_message_per_shipped_order_even_if_read_again(service):
    service.handle(place("1001"))
    service.handle(pay("1001"))
    service.handle(ship("1001"))
    service.catch_up()
    notifier = service.subscriptions["shipping_notifier"]
    notifier.subscriber.conn.execute("UPDATE tracking SET position = 0")  # read everything again
    assert notifier.catch_up() == 3
    assert service.notifier.sent() == [
        "order 1001 shipped with DHL, tracking number JD014600006281230704"
    ]


def test_the_store_refuses_a_stale_append_even_when_it_bypasses_the_handler(service):
    service.handle(place("1001"))
    [stale] = service.store.load("1001")
    with pytest.raises(ConcurrencyError):
        service.store.append([{**stale, "event_id": "00000000-0000-4000-8000-0000000000ff"}], 0)
