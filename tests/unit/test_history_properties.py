"""Properties over drawn streams and commands: the life cycle, the history check, snapshots.

The life cycle is written out here, independently of `decide`: the oracle.
"""

from __future__ import annotations

import json

import pytest
from event_streams import lifecycle
from hypothesis import assume, find, given, settings
from hypothesis import strategies as st
from order_service.model.commands import COMMANDS, parse_command
from order_service.model.decide import CommandRejected, decide
from order_service.model.fold import VersionOutOfSequence, evolve, fold
from order_service.model.history import check_history
from order_service.model.snapshots import Snapshot, resume, take_snapshot

# The life cycle: (status, step) -> the status after it; any other pair is refused.
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


@settings(deadline=None)  # a shared CI machine: time is not the property
@given(valid_lifecycles())
def test_every_valid_lifecycle_folds_to_the_status_of_its_last_step(steps):
    state = fold(lifecycle(*steps))
    assert state.status == expected_status(steps)
    assert state.version == len(steps)
    added = steps.count("item_added")
    assert state.total == f"{(7999 + 2499 * added) // 100}.{(7999 + 2499 * added) % 100:02d}"


@settings(deadline=None)  # a shared CI machine: time is not the property
@given(st.lists(st.sampled_from(STEPS), min_size=1, max_size=8))
def test_any_sequence_folds_and_its_history_is_valid_exactly_if_the_life_cycle_allows_it(steps):
    state = fold(lifecycle(*steps))  # evolve applies facts: every well-formed stream folds
    assert state.version == len(steps)
    problems = check_history(lifecycle(*steps))
    if expected_status(steps) is None:
        assert problems, steps
    else:
        assert problems == [] and state.status == expected_status(steps)


@settings(deadline=None)  # a shared CI machine: time is not the property
@given(valid_lifecycles(), st.data())
def test_a_snapshot_at_any_version_plus_the_rest_folds_to_the_same_state(steps, data):
    events = lifecycle(*steps)
    k = data.draw(st.integers(1, len(events)), label="snapshot version")
    snapshot = take_snapshot(fold(events[:k]))
    through_json = Snapshot.from_dict(json.loads(json.dumps(snapshot.to_dict())))
    assert resume(through_json, events[k:]) == fold(events)
    assert resume(through_json, events) == fold(events)


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


@settings(deadline=None)  # a shared CI machine: time is not the property
@given(illegal_sequences())
def test_a_valid_prefix_then_an_illegal_step_is_reported_first_at_that_step(case):
    steps, refused_version = case
    first = check_history(lifecycle(*steps))[0]
    assert (first.version, first.pointer) == (refused_version, "/event_type")


@settings(deadline=None)  # a shared CI machine: time is not the property
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
    assert check_history(broken)[-1].pointer == ""  # reported as a broken stream, last


# --- every history `decide` can produce passes the check --------------------------------------

SKUS = st.sampled_from(["RETRO-CLOCK", "BRASS-KEY", "GLOBE"])
PRICES = st.sampled_from(["0.01", "9.99", "24.99", "79.99", "9999999.99"])


@st.composite
def command_payloads(draw, total: str, tracking: str | None) -> dict:
    """Any registered command for order 1001, often plausible (the right total, the parcel).

    The kinds come from the registry, so a new command is drawn too: with its `example` body
    until a branch below varies it.
    """
    kind = draw(st.sampled_from([command.__name__ for command in COMMANDS]))
    currency = draw(st.sampled_from(["EUR", "EUR", "EUR", "USD"]))

    def line():
        price = {"amount": draw(PRICES), "currency": currency}
        return {"sku": draw(SKUS), "quantity": draw(st.integers(1, 1000)), "unit_price": price}

    base = {"type": kind, "order_id": "1001"}
    if kind == "PlaceOrder":
        return {
            **base,
            "customer_id": "C-7",
            "lines": [line() for _ in range(draw(st.integers(1, 3)))],
        }
    if kind == "AddOrderItem":
        return {**base, "line": line()}
    if kind in ("PayOrder", "RefundOrder"):  # each must name the order's total
        amount = {"amount": draw(st.sampled_from([total, total, "1.00"])), "currency": currency}
        reference = "payment_id" if kind == "PayOrder" else "refund_id"
        return {**base, reference: "PAY-1", "amount": amount}
    if kind == "ShipOrder":
        return {**base, "carrier": "DHL", "tracking_number": draw(st.sampled_from(["JD1", "JD2"]))}
    if kind == "DeliverOrder":
        parcel = draw(st.sampled_from([tracking or "JD1", "JD2"]))
        return {**base, "tracking_number": parcel}
    return {**base, **BY_NAME[kind].example}


BY_NAME = {command.__name__: command for command in COMMANDS}


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_the_history_property_draws_every_registered_command(name):
    payload = find(command_payloads("129.97", "JD1"), lambda p: p["type"] == name)
    assert type(parse_command(payload)).__name__ == name


@settings(deadline=None)  # a shared CI machine: time is not the property
@given(st.data())
def test_every_history_decide_produces_passes_the_history_check(data):
    state, events = None, []
    ids = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 100))
    for _ in range(data.draw(st.integers(1, 12), label="commands")):
        total = "0.00" if state is None else state.total
        payload = data.draw(command_payloads(total, state and state.tracking_number))
        try:
            new = decide(state, parse_command(payload), new_id=lambda: next(ids),
                         now="2026-11-02T09:15:00Z")  # fmt: skip
        except CommandRejected:
            continue
        for event in new:
            state = evolve(state, event)
        events.extend(new)
    assert check_history(events) == []
