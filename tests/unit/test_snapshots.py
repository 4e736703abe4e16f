"""Snapshots: resuming from one equals folding everything; an untrusted one is replayed past."""

from __future__ import annotations

import logging

import pytest
from event_streams import item_added, lifecycle, paid, placed, shipped
from order_service.model.fold import FoldError, ForeignOrder, VersionOutOfSequence, fold
from order_service.model.snapshots import (
    REDUCER_VERSION,
    Snapshot,
    SnapshotRejected,
    resume,
    state_from_dict,
    take_snapshot,
)


def test_a_refused_stream_yields_no_state_even_from_a_snapshot():
    snapshot = take_snapshot(fold([placed(1)]))
    with pytest.raises(VersionOutOfSequence):
        resume(snapshot, [item_added(2), paid(4, "1.00")])
    # The snapshot is data: a refusal cannot have changed it.
    assert snapshot.state["total"]["amount"] == "79.99"


def test_a_rejected_snapshot_is_a_fold_error():
    assert issubclass(SnapshotRejected, FoldError)


def test_folding_from_a_snapshot_and_the_rest_equals_folding_everything():
    events = lifecycle("placed", "item_added", "paid", "shipped")
    snapshot = take_snapshot(fold(events[:2]))
    assert resume(snapshot, events[2:]) == fold(events)


def test_a_snapshot_given_the_whole_stream_skips_what_it_already_holds():
    events = lifecycle("placed", "item_added", "paid", "shipped")
    snapshot = take_snapshot(fold(events[:3]))
    assert resume(snapshot, events) == fold(events)


def test_a_snapshot_survives_json():
    import json

    snapshot = take_snapshot(fold(lifecycle("placed", "item_added")))
    again = Snapshot.from_dict(json.loads(json.dumps(snapshot.to_dict())))
    assert again == snapshot
    assert state_from_dict(again.state) == fold(lifecycle("placed", "item_added"))


def test_a_snapshot_of_another_reducer_version_is_discarded_and_the_stream_replayed(caplog):
    events = lifecycle("placed", "paid", "shipped")
    stale = Snapshot("1001", 2, REDUCER_VERSION - 1, {"status": "whatever an old reducer wrote"})
    with caplog.at_level(logging.WARNING, logger="order_service.model.snapshots"):
        state = resume(stale, events)
    assert state == fold(events)
    assert [r.getMessage() for r in caplog.records] == [
        f"snapshot of order 1001 at version 2 was made by reducer version {REDUCER_VERSION - 1}, "
        f"this is version {REDUCER_VERSION}: discarded, replaying the stream from version 1"
    ]


def test_a_trusted_snapshot_logs_nothing(caplog):
    events = lifecycle("placed", "paid", "shipped")
    with caplog.at_level(logging.DEBUG, logger="order_service.model.snapshots"):
        resume(take_snapshot(fold(events[:1])), events[1:])
    assert caplog.records == []


def test_a_discarded_snapshot_with_only_the_tail_is_refused_as_a_gap():
    events = lifecycle("placed", "paid", "shipped")
    stale = Snapshot("1001", 2, REDUCER_VERSION + 1, {})
    with pytest.raises(VersionOutOfSequence, match="expected version 1, got 3"):
        resume(stale, events[2:])


def test_a_snapshot_of_another_order_is_refused():
    snapshot = take_snapshot(fold([placed(1, order_id="1002")]))
    with pytest.raises(ForeignOrder, match="event belongs to order 1001, not 1002"):
        resume(snapshot, [paid(2)])


def test_a_snapshot_whose_state_does_not_add_up_is_refused():
    state = fold([placed(1)]).to_dict()
    state["total"]["amount"] = "1.00"
    with pytest.raises(SnapshotRejected, match="total is not the sum of the lines"):
        resume(Snapshot("1001", 1, REDUCER_VERSION, state), [paid(2, "1.00")])


@pytest.mark.parametrize("quantity", [0, -1, 1.0], ids=["zero", "negative", "float"])
def test_a_snapshot_with_a_line_no_event_could_have_made_is_refused(quantity):
    state = fold([placed(1)]).to_dict()
    state["lines"].append(
        {"sku": "X", "quantity": quantity, "unit_price": {"amount": "0.00", "currency": "EUR"}}
    )
    with pytest.raises(SnapshotRejected, match="quantity of X must be a positive integer"):
        resume(Snapshot("1001", 1, REDUCER_VERSION, state), [paid(2, "79.99")])


def test_a_snapshot_whose_state_is_at_another_version_is_refused():
    state = fold([placed(1)]).to_dict()
    with pytest.raises(SnapshotRejected, match="snapshot state is order 1001 at version 1"):
        resume(Snapshot("1001", 2, REDUCER_VERSION, state), [shipped(3)])


def test_a_snapshot_file_without_a_state_is_refused():
    with pytest.raises(SnapshotRejected, match="snapshot lacks state"):
        Snapshot.from_dict({"order_id": "1001", "version": 1, "reducer_version": 1})


def test_a_stream_that_skips_part_of_the_snapshot_prefix_is_refused():
    events = lifecycle("placed", "item_added", "paid", "shipped")
    snapshot = take_snapshot(fold(events[:3]))
    with pytest.raises(VersionOutOfSequence, match="out of sequence: 1 then 3"):
        resume(snapshot, [events[0], events[2], events[3]])


def test_a_stream_whose_snapshot_prefix_stops_short_and_jumps_past_it_is_refused():
    events = lifecycle("placed", "item_added", "paid", "shipped")
    snapshot = take_snapshot(fold(events[:3]))
    with pytest.raises(
        VersionOutOfSequence, match="stop at version 1, the snapshot is at version 3"
    ):
        resume(snapshot, [events[0], events[3]])
