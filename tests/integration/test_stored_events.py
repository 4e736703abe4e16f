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
    service.catch_up()
    good = service.store.load("1001")[0]
    store_around_the_application(
        service,
        {**good, "event_id": POISON_ID, "version": 2, "event_type": "OrderItemAdded",
         "schema_version": 1, "data": {"line": {**line("GLOBE"), "quantity": 1.0}}},
    )  # fmt: skip
    return service


def projector_status(service):
    return next(s for s in service.status() if s.subscriber == "order_summary")


def test_a_poison_event_is_parked_by_name_and_logged_and_the_other_orders_go_on(poisoned, caplog):
    poisoned.handle(place("1002"))
    poisoned.catch_up()
    [parked] = projector_status(poisoned).parked
    assert (parked.event_id, parked.order_id, parked.version, parked.position) == (
        POISON_ID, "1001", 2, 2,
    )  # fmt: skip
    assert "MalformedEvent" in parked.error and POISON_ID in parked.error
    assert poisoned.queries.get("1001").last_version == 1
    assert poisoned.queries.get("1002").last_version == 1  # after the poison: applied
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert line.startswith(f"subscriber order_summary parked event {POISON_ID} of order 1001")
    notifier = next(s for s in poisoned.status() if s.subscriber == "shipping_notifier")
    assert notifier.healthy and notifier.lag == 0  # it never reads the quantity: not poisoned


def test_the_later_events_of_a_parked_order_wait_behind_it_in_version_order(poisoned):
    poisoned.catch_up()
    good = poisoned.store.load("1001")[0]
    for version in (3, 4):
        store_around_the_application(
            poisoned,
            {**good, "event_id": f"00000000-0000-4000-8000-00000000000{version}",
             "version": version, "event_type": "OrderItemAdded", "schema_version": 1,
             "data": {"line": line("GLOBE")}},
        )  # fmt: skip
    poisoned.catch_up()
    parked = projector_status(poisoned).parked
    assert [(p.version, p.position) for p in parked] == [(2, 2), (3, 3), (4, 4)]
    assert all("waits behind an earlier parked event" in p.error for p in parked[1:])
    assert poisoned.queries.get("1001").last_version == 1


def test_a_redrive_after_a_fix_applies_the_parked_events_in_order(poisoned, monkeypatch):
    poisoned.catch_up()
    subscription = poisoned.subscriptions["order_summary"]
    assert subscription.redrive() == (0, 1)  # not fixed yet: still parked
    # The fix: a projector that reads the stored 1.0 as 1 (as an upcaster would).
    apply = poisoned.projector.apply

    def fixed(event, position):
        if event["event_id"] == POISON_ID:
            event = {**event, "data": {"line": {**event["data"]["line"], "quantity": 1}}}
        apply(event, position)

    monkeypatch.setattr(poisoned.projector, "apply", fixed)
    assert subscription.redrive() == (1, 0)
    assert poisoned.queries.get("1001").last_version == 2
    assert projector_status(poisoned).healthy


def test_a_subscription_worker_parks_a_poison_event_and_keeps_running(poisoned):
    with poisoned.workers() as workers:
        version = poisoned.handle(place("1002"))
        assert poisoned.queries.wait_for("1002", version, timeout=30).reached
        assert workers.states()["order_summary"] == "running"
        assert not projector_status(poisoned).healthy


def test_orders_replay_parks_the_poison_event_and_says_so(poisoned):
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", "--db", str(poisoned.write_db)], out, err) == 1
    assert f"event {POISON_ID} of order 1001 at position 2" in err.getvalue()
    assert "orders redrive" in err.getvalue()
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
    back_in_time.catch_up()
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
    back_in_time.catch_up()
    orders = back_in_time.queries.search(**{bound: value})
    assert [summary.order_id for summary in orders] == (["1001"] if found else [])
    assert back_in_time.queries.get("1001").placed_at == "2026-11-02T10:00:00Z"


def test_a_shipment_keeps_working_after_the_clock_went_back(back_in_time):
    assert back_in_time.handle(ship("1001")) == 4
