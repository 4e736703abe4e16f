"""Properties of the reducer, over streams hypothesis draws: the state machine, and snapshots."""

from __future__ import annotations

import json

import pytest
from event_streams import lifecycle
from hypothesis import assume, given
from hypothesis import strategies as st
from order_service.reducer import (
    IllegalTransition,
    Snapshot,
    VersionOutOfSequence,
    fold,
    take_snapshot,
)

# The lifecycle, written out independently of the reducer's own table: the oracle.
NEXT_STATUS = {
    (None, "placed"): "placed",
    ("placed", "item_added"): "placed",
    ("placed", "paid"): "paid",
    ("placed", "cancelled"): "cancelled",
    ("paid", "cancelled"): "cancelled",
    ("paid", "shipped"): "shipped",
    ("shipped", "delivered"): "delivered",
}
STEPS = ("placed", "item_added", "paid", "shipped", "delivered", "cancelled")


@st.composite
def valid_lifecycles(draw) -> list[str]:
    steps = ["placed", *["item_added"] * draw(st.integers(0, 6))]
    status = "placed"
    while status not in ("delivered", "cancelled") and draw(st.booleans()):
        step = draw(
            st.sampled_from([s for (f, s) in NEXT_STATUS if f == status and s != "item_added"])
        )
        steps.append(step)
        status = NEXT_STATUS[(status, step)]
    return steps


def expected_status(steps: list[str]) -> str | None:
    status = None
    for step in steps:
        status = NEXT_STATUS.get((status, step))
        if status is None:
            return None
    return status


@given(valid_lifecycles())
def test_every_valid_lifecycle_folds_to_the_status_of_its_last_step(steps):
    state = fold(lifecycle(*steps))
    assert state.status == expected_status(steps)
    assert state.version == len(steps)
    added = steps.count("item_added")
    assert state.total == f"{(7999 + 2499 * added) // 100}.{(7999 + 2499 * added) % 100:02d}"


@given(st.lists(st.sampled_from(STEPS), min_size=1, max_size=8))
def test_any_sequence_folds_if_the_lifecycle_allows_it_and_is_refused_otherwise(steps):
    status = expected_status(steps)
    if status is None:
        with pytest.raises(IllegalTransition):
            fold(lifecycle(*steps))
    else:
        assert fold(lifecycle(*steps)).status == status


@given(valid_lifecycles(), st.data())
def test_a_snapshot_at_any_version_plus_the_rest_folds_to_the_same_state(steps, data):
    events = lifecycle(*steps)
    k = data.draw(st.integers(1, len(events)), label="snapshot version")
    snapshot = take_snapshot(fold(events[:k]))
    through_json = Snapshot.from_dict(json.loads(json.dumps(snapshot.to_dict())))
    assert fold(events[k:], through_json) == fold(events)
    assert fold(events, through_json) == fold(events)


@st.composite
def illegal_sequences(draw) -> tuple[list[str], int]:
    """A valid lifecycle, then one step its last status does not allow, then anything.

    Returns the steps and the version of the illegal step: every draw is illegal by
    construction, whatever the draws before it (unlike random lists, mostly illegal at step 1).
    """
    prefix = draw(valid_lifecycles()) if draw(st.booleans()) else []
    status = expected_status(prefix)
    illegal = draw(st.sampled_from([s for s in STEPS if (status, s) not in NEXT_STATUS]))
    tail = draw(st.lists(st.sampled_from(STEPS), max_size=3))
    return [*prefix, illegal, *tail], len(prefix) + 1


@given(illegal_sequences())
def test_a_valid_prefix_then_an_illegal_step_is_refused_at_that_step(case):
    steps, refused_version = case
    with pytest.raises(IllegalTransition) as refused:
        fold(lifecycle(*steps))
    assert refused.value.version == refused_version
    assert refused.value.order_id == "1001"
    assert "illegal transition" in refused.value.rule


@given(valid_lifecycles(), st.data())
def test_any_reordering_drop_or_duplicate_of_a_valid_stream_is_refused(steps, data):
    events = lifecycle(*steps)
    assume(len(events) >= 2)
    how = data.draw(st.sampled_from(["reorder", "drop", "duplicate"]), label="how")
    if how == "reorder":
        order = data.draw(st.permutations(range(len(events))), label="order")
        assume(list(order) != sorted(order))
        broken = [events[i] for i in order]
    elif how == "drop":
        i = data.draw(st.integers(0, len(events) - 2), label="dropped")  # not the last: a gap
        broken = events[:i] + events[i + 1 :]
    else:
        i = data.draw(st.integers(0, len(events) - 1), label="duplicated")
        broken = events[: i + 1] + events[i:]
    with pytest.raises(VersionOutOfSequence):
        fold(broken)
