"""The reducer folds valid streams and refuses every broken rule by name, with no partial state."""

from __future__ import annotations

import copy
import logging
from functools import reduce

import pytest
from event_streams import (
    cancelled,
    delivered,
    envelope,
    item_added,
    lifecycle,
    line,
    paid,
    placed,
    shipped,
)
from order_service.reducer import (
    REDUCER_VERSION,
    ForeignOrder,
    IllegalTransition,
    InvariantBroken,
    MalformedEvent,
    OrderState,
    ReducerError,
    Snapshot,
    SnapshotRejected,
    UnknownEventType,
    UnknownSchemaVersion,
    VersionOutOfSequence,
    evolve,
    fold,
    take_snapshot,
)


def test_placed_paid_shipped_folds_to_shipped_with_the_total_of_the_lines():
    state = fold(
        [
            placed(1, line("RETRO-CLOCK", 1, "79.99"), line("BRASS-KEY", 2, "24.99")),
            paid(2, "129.97"),
            shipped(3),
        ]
    )
    assert state.status == "shipped"
    assert state.version == 3
    assert state.total == "129.97"
    assert state.to_dict()["total"] == {"amount": "129.97", "currency": "EUR"}
    assert state.tracking_number == "JD1"


def test_an_empty_stream_folds_to_no_state():
    assert fold([]) is None


def test_an_added_item_raises_the_total_and_a_known_sku_adds_to_its_quantity():
    state = fold(
        [placed(1), item_added(2), item_added(3), item_added(4, line("RETRO-CLOCK", 2, "79.99"))]
    )
    assert [(ln.sku, ln.quantity) for ln in state.lines] == [("RETRO-CLOCK", 3), ("BRASS-KEY", 2)]
    assert state.total == "289.95"


def test_fold_is_evolve_applied_in_turn():
    events = lifecycle("placed", "item_added", "paid", "shipped", "delivered")
    assert reduce(evolve, events, None) == fold(events)


def test_evolve_does_not_change_the_state_it_is_given():
    before = fold([placed(1)])
    after = evolve(before, item_added(2))
    assert before.total == "79.99" and len(before.lines) == 1
    assert after.total == "104.98" and len(after.lines) == 2


def test_fold_does_not_change_the_events_it_reads():
    events = lifecycle("placed", "item_added", "item_added", "paid")
    pristine = copy.deepcopy(events)
    fold(events)
    assert events == pristine


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        (("placed", "shipped"), "OrderShipped needs status paid, the order is placed"),
        (("placed", "paid", "paid"), "OrderPaid needs status placed, the order is paid"),
        (("placed", "paid", "shipped", "cancelled"), "OrderCancelled needs status paid or placed"),
        (("placed", "cancelled", "paid"), "OrderPaid after the order was cancelled"),
        (("placed", "paid", "shipped", "delivered", "delivered"), "after the order was delivered"),
        (("placed", "paid", "item_added"), "OrderItemAdded needs status placed, the order is paid"),
        (("paid",), "OrderPaid before the order was placed"),
    ],
    ids=[
        "ship before pay",
        "pay twice",
        "cancel after shipping",
        "pay after cancel",
        "deliver twice",
        "add after paying",
        "pay before placing",
    ],
)
def test_an_illegal_transition_is_refused_naming_order_event_version_and_rule(steps, refused):
    build = {
        "placed": placed,
        "item_added": item_added,
        "paid": paid,
        "shipped": shipped,
        "delivered": delivered,
        "cancelled": cancelled,
    }
    events = [build[step](version) for version, step in enumerate(steps, start=1)]
    last = events[-1]
    with pytest.raises(IllegalTransition) as refusal:
        fold(events)
    message = str(refusal.value)
    assert refused in message
    assert message.startswith(f"order 1001, event {last['event_id']} (version {len(steps)}): ")


def test_placing_an_order_twice_is_refused():
    with pytest.raises(IllegalTransition, match="already placed"):
        fold([placed(1), placed(2)])


def test_an_event_of_another_order_is_refused():
    with pytest.raises(ForeignOrder, match="event belongs to order 1002, not 1001"):
        fold([placed(1), paid(2, order_id="1002")])


@pytest.mark.parametrize(
    ("versions", "rule"),
    [
        ((1, 3), "version gap: expected version 2, got 3"),
        ((1, 2, 2), "duplicate version 2: already folded"),
        ((1, 2, 3, 2), "out-of-order version 2: expected version 4"),
        ((2,), "version gap: expected version 1, got 2"),
    ],
    ids=["gap", "duplicate", "out of order", "stream not starting at 1"],
)
def test_a_version_out_of_sequence_is_refused(versions, rule):
    events = lifecycle("placed", "paid", "shipped", "delivered")
    stream = [dict(e, version=v) for e, v in zip(events, versions, strict=False)]
    with pytest.raises(VersionOutOfSequence) as refusal:
        fold(stream)
    assert refusal.value.rule == rule


@pytest.mark.parametrize("version", [True, 1.0, "1"], ids=["true", "float", "string"])
def test_a_version_that_only_compares_equal_to_1_is_refused(version):
    with pytest.raises(VersionOutOfSequence, match=f"version {version!r} is not an integer"):
        fold([dict(placed(1), version=version)])


@pytest.mark.parametrize("schema_version", [2.0, "2"], ids=["float", "string"])
def test_a_schema_version_that_only_looks_current_is_refused(schema_version):
    with pytest.raises(UnknownSchemaVersion, match=f"schema version {schema_version!r} is not"):
        fold([dict(placed(1), schema_version=schema_version)])


def test_an_unknown_event_type_is_refused_by_name():
    with pytest.raises(UnknownEventType, match="unknown event type 'OrderTeleported'"):
        fold([placed(1), envelope(2, "OrderTeleported", {})])


def test_an_old_schema_version_is_refused_until_upcast():
    old = dict(placed(1), schema_version=1)
    with pytest.raises(UnknownSchemaVersion, match="schema version 1 is not the current 2; upcast"):
        fold([old])


def test_a_paid_amount_other_than_the_total_is_refused():
    with pytest.raises(InvariantBroken, match=r"paid 79\.98 EUR but the total is 79\.99 EUR"):
        fold([placed(1), paid(2, "79.98")])


def test_a_line_in_another_currency_is_refused():
    foreign = {
        "sku": "BRASS-KEY",
        "quantity": 1,
        "unit_price": {"amount": "1.00", "currency": "USD"},
    }
    with pytest.raises(InvariantBroken, match="BRASS-KEY is priced in USD, the order in EUR"):
        fold([placed(1), item_added(2, foreign)])


def test_a_known_sku_at_another_price_is_refused():
    with pytest.raises(
        InvariantBroken, match=r"RETRO-CLOCK is already ordered at 79\.99, not 9\.99"
    ):
        fold([placed(1), item_added(2, line("RETRO-CLOCK", 1, "9.99"))])


def test_delivering_another_parcel_than_the_one_shipped_is_refused():
    with pytest.raises(InvariantBroken, match="delivered parcel JD2 is not the one shipped"):
        fold([*lifecycle("placed", "paid", "shipped"), delivered(4, "JD2")])


@pytest.mark.parametrize(
    ("break_it", "rule"),
    [
        (lambda e: e.pop("order_id"), "missing field 'order_id'"),
        (lambda e: e["data"].pop("customer_id"), "missing field 'customer_id'"),
        (lambda e: e["data"]["lines"][0]["unit_price"].update(amount=79.99), "is not a decimal"),
        (lambda e: e["data"]["lines"][0].update(quantity=-1), "must be a positive integer"),
    ],
    ids=["no order id", "no customer", "float amount", "negative quantity"],
)
def test_a_malformed_event_is_refused_as_malformed_or_broken(break_it, rule):
    event = placed(1)
    break_it(event)
    with pytest.raises(ReducerError, match=rule) as refusal:
        fold([event])
    assert isinstance(refusal.value, MalformedEvent | InvariantBroken)


def test_a_stream_entry_that_is_not_an_object_is_refused_as_malformed():
    with pytest.raises(MalformedEvent, match="malformed event"):
        fold([placed(1), ["not", "an", "event"]])


def test_a_refused_stream_yields_no_state_even_from_a_snapshot():
    snapshot = take_snapshot(fold([placed(1)]))
    with pytest.raises(InvariantBroken):
        fold([item_added(2), paid(3, "1.00")], snapshot)
    # The snapshot is data: a refusal cannot have changed it.
    assert snapshot.state["total"]["amount"] == "79.99"


def test_every_error_is_a_reducer_error_and_a_value_error():
    for kind in (
        IllegalTransition,
        ForeignOrder,
        VersionOutOfSequence,
        UnknownEventType,
        UnknownSchemaVersion,
        InvariantBroken,
        MalformedEvent,
        SnapshotRejected,
    ):
        assert issubclass(kind, ReducerError) and issubclass(kind, ValueError)


def test_folding_from_a_snapshot_and_the_rest_equals_folding_everything():
    events = lifecycle("placed", "item_added", "paid", "shipped")
    snapshot = take_snapshot(fold(events[:2]))
    assert fold(events[2:], snapshot) == fold(events)


def test_a_snapshot_given_the_whole_stream_skips_what_it_already_holds():
    events = lifecycle("placed", "item_added", "paid", "shipped")
    snapshot = take_snapshot(fold(events[:3]))
    assert fold(events, snapshot) == fold(events)


def test_a_snapshot_survives_json():
    import json

    snapshot = take_snapshot(fold(lifecycle("placed", "item_added")))
    again = Snapshot.from_dict(json.loads(json.dumps(snapshot.to_dict())))
    assert again == snapshot
    assert OrderState.from_dict(again.state) == fold(lifecycle("placed", "item_added"))


def test_a_snapshot_of_another_reducer_version_is_discarded_and_the_stream_replayed(caplog):
    events = lifecycle("placed", "paid", "shipped")
    stale = Snapshot("1001", 2, REDUCER_VERSION - 1, {"status": "whatever an old reducer wrote"})
    with caplog.at_level(logging.WARNING, logger="order_service.reducer"):
        state = fold(events, stale)
    assert state == fold(events)
    assert [r.getMessage() for r in caplog.records] == [
        f"snapshot of order 1001 at version 2 was made by reducer version {REDUCER_VERSION - 1}, "
        f"this is version {REDUCER_VERSION}: discarded, replaying the stream from version 1"
    ]


def test_a_trusted_snapshot_logs_nothing(caplog):
    events = lifecycle("placed", "paid", "shipped")
    with caplog.at_level(logging.DEBUG, logger="order_service.reducer"):
        fold(events[1:], take_snapshot(fold(events[:1])))
    assert caplog.records == []


def test_a_discarded_snapshot_with_only_the_tail_is_refused_as_a_gap():
    events = lifecycle("placed", "paid", "shipped")
    stale = Snapshot("1001", 2, REDUCER_VERSION + 1, {})
    with pytest.raises(VersionOutOfSequence, match="expected version 1, got 3"):
        fold(events[2:], stale)


def test_a_snapshot_of_another_order_is_refused():
    snapshot = take_snapshot(fold([placed(1, order_id="1002")]))
    with pytest.raises(ForeignOrder, match="event belongs to order 1001, not 1002"):
        fold([paid(2)], snapshot)


def test_a_snapshot_whose_state_does_not_add_up_is_refused():
    state = fold([placed(1)]).to_dict()
    state["total"]["amount"] = "1.00"
    with pytest.raises(SnapshotRejected, match="total is not the sum of the lines"):
        fold([paid(2, "1.00")], Snapshot("1001", 1, REDUCER_VERSION, state))


@pytest.mark.parametrize("quantity", [0, -1, 1.0], ids=["zero", "negative", "float"])
def test_a_snapshot_with_a_line_no_event_could_have_made_is_refused(quantity):
    state = fold([placed(1)]).to_dict()
    state["lines"].append(
        {"sku": "X", "quantity": quantity, "unit_price": {"amount": "0.00", "currency": "EUR"}}
    )
    with pytest.raises(SnapshotRejected, match="quantity of X must be a positive integer"):
        fold([paid(2, "79.99")], Snapshot("1001", 1, REDUCER_VERSION, state))


def test_a_snapshot_whose_state_is_at_another_version_is_refused():
    state = fold([placed(1)]).to_dict()
    with pytest.raises(SnapshotRejected, match="snapshot state is order 1001 at version 1"):
        fold([shipped(3)], Snapshot("1001", 2, REDUCER_VERSION, state))


def test_a_snapshot_file_without_a_state_is_refused():
    with pytest.raises(SnapshotRejected, match="snapshot lacks state"):
        Snapshot.from_dict({"order_id": "1001", "version": 1, "reducer_version": 1})


def test_a_stream_that_skips_part_of_the_snapshot_prefix_is_refused():
    events = lifecycle("placed", "item_added", "paid", "shipped")
    snapshot = take_snapshot(fold(events[:3]))
    with pytest.raises(VersionOutOfSequence, match="out of sequence: 1 then 3"):
        fold([events[0], events[2], events[3]], snapshot)


def test_a_stream_whose_snapshot_prefix_stops_short_and_jumps_past_it_is_refused():
    events = lifecycle("placed", "item_added", "paid", "shipped")
    snapshot = take_snapshot(fold(events[:3]))
    with pytest.raises(
        VersionOutOfSequence, match="stop at version 1, the snapshot is at version 3"
    ):
        fold([events[0], events[3]], snapshot)


def test_the_reducer_folds_exactly_the_current_schema_version_of_every_event_type():
    from order_service.events import CURRENT_SCHEMA_VERSIONS
    from order_service.reducer import _TRANSITIONS

    assert {name: entry[0] for name, entry in _TRANSITIONS.items()} == CURRENT_SCHEMA_VERSIONS
