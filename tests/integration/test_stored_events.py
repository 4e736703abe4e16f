"""Events as they are stored, whatever wrote them: no worker, command or query ends in a traceback.

A bad event can reach the store only around the application (an older version, another writer
appending with SQL); these tests put one there that way. And time in events is compared as text,
which is time order because every timestamp is whole seconds in UTC.
"""

from __future__ import annotations

import io
import json

import pytest
from command_builders import add, line, pay, place, ship
from order_service.app import bootstrap
from order_service.entrypoints.cli import main
from order_service.model.fold import MalformedEvent
from order_service.read.projections import ProjectionError
from order_service.write.temporal import order_as_of

POISON_ID = "00000000-0000-4000-8000-00000000dead"


def store_around_the_application(service, event):
    """Append `event` with SQL, as an older version or another writer might have."""
    with service.store.transaction():
        service.store.conn.execute(
            "INSERT INTO order_events (event_id, order_id, version, event_type, schema_version,"
            " data, metadata, occurred_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event["event_id"], event["order_id"], event["version"], event["event_type"],
             event["schema_version"], json.dumps(event["data"]), json.dumps(event["metadata"]),
             event["occurred_at"], event["occurred_at"]),
        )  # fmt: skip
        service.store.conn.execute(
            "INSERT INTO outbox (position) SELECT position FROM order_events WHERE event_id = ?",
            (event["event_id"],),
        )


@pytest.fixture
def poisoned(service):
    """#1001 placed, then an OrderItemAdded with "quantity": 1.0 stored around the contract."""
    service.handle(place("1001"))
    service.relay.run_once()
    good = service.store.load("1001")[0]
    store_around_the_application(
        service,
        {**good, "event_id": POISON_ID, "version": 2, "event_type": "OrderItemAdded",
         "schema_version": 1, "data": {"line": {**line("GLOBE"), "quantity": 1.0}}},
    )  # fmt: skip
    return service


def test_the_relay_stops_at_a_poison_event_naming_it_and_leaves_it_unsent(poisoned):
    with pytest.raises(ProjectionError, match=f"order 1001: event {POISON_ID} at position 2"):
        poisoned.relay.run_once()
    assert poisoned.relay.pending() == 1  # not marked sent: it is retried after a fix
    assert poisoned.queries.get("1001").last_version == 1


def test_a_relay_worker_stops_at_a_poison_event_and_raises_it_by_name(poisoned):
    worker = poisoned.worker().start()
    assert worker.join(30), "the worker stops at the poison event"
    with pytest.raises(ProjectionError, match=POISON_ID):
        worker.stop()


def test_orders_replay_reports_the_poison_event_and_exits_1(poisoned):
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", "--db", str(poisoned.write_db)], out, err) == 1
    assert err.getvalue().startswith(f"orders: replay stopped: order 1001: event {POISON_ID}")
    assert "Traceback" not in err.getvalue()


def test_a_command_on_the_poisoned_order_is_refused_by_name(poisoned):
    with pytest.raises(MalformedEvent) as refused:
        poisoned.handle(pay("1001", "79.99"))
    assert (refused.value.event_id, refused.value.version) == (POISON_ID, 2)


def test_a_stored_event_the_contract_refuses_cannot_be_appended_through_the_store(service):
    service.handle(place("1001"))
    event = service.store.load("1001")[0]
    bad = {**event, "event_id": POISON_ID, "version": 2, "event_type": "OrderItemAdded",
           "schema_version": 1, "data": {"line": {**line("GLOBE"), "quantity": 1.0}}}  # fmt: skip
    with pytest.raises(ValueError, match="integer"):
        service.store.append([bad], expected_version=1)
    assert len(service.store.load("1001")) == 1


# --- time ---------------------------------------------------------------------------------------


class SettableClock:
    def __init__(self) -> None:
        self.now = "2026-11-02T10:00:00Z"

    def __call__(self) -> str:
        return self.now


@pytest.fixture
def back_in_time(new_db):
    """#1001 placed at 10:00, a line added at 09:00 (a clock set back), paid at 11:00."""
    clock = SettableClock()
    service = bootstrap(new_db(), clock=clock)
    for now, command in (
        ("2026-11-02T10:00:00Z", place("1001")),
        ("2026-11-02T09:00:00Z", add("1001")),
        ("2026-11-02T11:00:00Z", pay("1001", "104.98")),
    ):
        clock.now = now
        service.handle(command)
    yield service
    service.close()


@pytest.mark.parametrize(
    ("at", "version"),
    [
        ("2026-11-02T08:00:00Z", None),  # before anything
        ("2026-11-02T09:30:00Z", None),  # the line's time, but the order was not placed yet
        ("2026-11-02T10:00:00Z", 2),  # placed, and the line recorded after it (at 09:00)
        ("2026-11-02T10:00:00.999Z", 2),  # a fraction: events at 10:00:00 happened by then
        ("2026-11-02T10:59:59.5+00:00", 2),
        ("2026-11-02T12:00:00+01:00", 3),  # 11:00 UTC
    ],
)
def test_as_of_a_time_is_the_stream_up_to_the_first_event_after_it(back_in_time, at, version):
    state = order_as_of(back_in_time.store, "1001", at=at)
    assert (None if state is None else state.version) == version


def test_orders_query_as_of_a_time_going_back_answers_cleanly(back_in_time):
    back_in_time.relay.run_once()
    out, err = io.StringIO(), io.StringIO()
    argv = ["query", "--db", str(back_in_time.write_db), "as-of", "1001"]
    assert main([*argv, "--at", "2026-11-02T10:30:00Z"], out, err) == 0
    assert json.loads(out.getvalue())["version"] == 2
    assert err.getvalue() == ""


@pytest.mark.parametrize(
    ("bound", "value", "found"),
    [
        ("placed_from", "2026-11-02T10:00:00Z", True),
        ("placed_from", "2026-11-02T10:00:00.5Z", False),  # placed before the half second
        ("placed_before", "2026-11-02T10:00:00Z", False),
        ("placed_before", "2026-11-02T10:00:00.5Z", True),
        ("placed_before", "2026-11-02T10:00:00.000001Z", True),
    ],
)
def test_a_search_by_placing_time_is_exact_at_every_precision(back_in_time, bound, value, found):
    back_in_time.relay.run_once()
    orders = back_in_time.queries.search(**{bound: value})
    assert [summary.order_id for summary in orders] == (["1001"] if found else [])
    assert back_in_time.queries.get("1001").placed_at == "2026-11-02T10:00:00Z"


def test_a_shipment_keeps_working_after_the_clock_went_back(back_in_time):
    assert back_in_time.handle(ship("1001")) == 4
