"""The history check: every rule a stored history breaks, reported with its event and field.

Each rule is `decide`'s: the check replays each event as the command behind it.
"""

from __future__ import annotations

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
from order_service.model.history import COMMAND_BEHIND, check_history

BUILD = {"placed": placed, "item_added": item_added, "paid": paid, "shipped": shipped,
         "delivered": delivered, "cancelled": cancelled}  # fmt: skip


def test_a_valid_history_has_no_problem():
    assert check_history(lifecycle("placed", "item_added", "paid", "shipped", "delivered")) == []
    assert check_history(lifecycle("placed", "paid", "cancelled")) == []
    assert check_history([]) == []


@pytest.mark.parametrize(
    ("steps", "rule"),
    [
        (("placed", "shipped"), "only a paid order ships; the order is placed"),
        (("placed", "paid", "paid"), "the order is already paid"),
        (("placed", "paid", "shipped", "cancelled"), "a shipped order can no longer be cancelled"),
        (("placed", "cancelled", "paid"), "the order is already cancelled"),
        (("placed", "paid", "shipped", "delivered", "delivered"), "the order is already delivered"),
        (("placed", "paid", "item_added"), "lines can be added before payment only (paid)"),
        (("paid",), "no such order"),
        (("placed", "placed"), "the order already exists"),
    ],
    ids=[
        "ship before pay", "pay twice", "cancel after shipping", "pay after cancel",
        "deliver twice", "add after paying", "pay before placing", "place twice",
    ],
)  # fmt: skip
def test_an_event_out_of_turn_is_reported_at_its_event_type(steps, rule):
    events = [BUILD[step](version) for version, step in enumerate(steps, start=1)]
    [problem] = check_history(events)
    last = events[-1]
    assert (problem.index, problem.event_id, problem.version) == (
        len(steps) - 1, last["event_id"], len(steps),
    )  # fmt: skip
    assert (problem.pointer, problem.rule) == ("/event_type", rule)
    assert str(problem) == f"event {last['event_id']} (version {len(steps)}): /event_type: {rule}"


@pytest.mark.parametrize(
    ("events", "pointer", "rule"),
    [
        ([placed(1), paid(2, "79.98")], "/data/amount/amount",
         "paid 79.98 EUR, the total is 79.99 EUR"),
        ([placed(1), item_added(2, {"sku": "BRASS-KEY", "quantity": 1,
                                    "unit_price": {"amount": "1.00", "currency": "USD"}})],
         "/data/line/unit_price/currency", "BRASS-KEY is priced in USD, the order is in EUR"),
        ([placed(1), item_added(2, line("RETRO-CLOCK", 1, "9.99"))],
         "/data/line/unit_price/amount", "RETRO-CLOCK is already ordered at 79.99, not 9.99"),
        ([placed(1, line(), line("RETRO-CLOCK", 1, "9.99"))],
         "/data/lines/1/unit_price/amount", "RETRO-CLOCK is already ordered at 79.99, not 9.99"),
        ([*lifecycle("placed", "paid", "shipped"), delivered(4, "JD2")],
         "/data/tracking_number", "parcel JD2 is not the one shipped (JD1)"),
        ([placed(1, line("RETRO-CLOCK", 1000, "9999999.99"), line("X", 1000, "9999999.99"))],
         "/data/lines/1/quantity",
         "the total would exceed 9999999999.99, the largest payable amount"),
    ],
    ids=["paid other than total", "line in another currency", "sku at another price",
         "one sku at two prices in one order", "another parcel delivered", "total too large"],
)  # fmt: skip
def test_a_broken_rule_on_content_is_reported_at_the_field(events, pointer, rule):
    [problem] = check_history(events)
    assert (problem.version, problem.pointer, problem.rule) == (len(events), pointer, rule)


def test_every_broken_rule_is_reported_not_only_the_first():
    events = [placed(1), shipped(2), item_added(3), delivered(4, "JD2"), paid(5, "1.00")]
    problems = check_history(events)
    assert [(p.version, p.pointer) for p in problems] == [
        (2, "/event_type"),  # shipped before payment
        (3, "/event_type"),  # a line added to a shipped order
        (4, "/data/tracking_number"),  # another parcel than the one shipped
        (5, "/event_type"),  # paid after delivery
    ]


def test_a_broken_stream_is_reported_once_and_the_check_stops_there():
    events = [placed(1), shipped(2), paid(4), shipped(5)]
    problems = check_history(events)
    assert [(p.version, p.pointer) for p in problems] == [(2, "/event_type"), (4, "")]
    assert problems[-1].rule == "expected version 3, got 4 (a gap, duplicate or reordering)"


def test_an_unknown_event_type_is_reported_as_a_broken_stream():
    [problem] = check_history([placed(1), envelope(2, "OrderTeleported", {})])
    assert (problem.pointer, problem.rule) == ("", "unknown event type 'OrderTeleported'")


def test_the_check_replays_every_event_type_as_a_command():
    from order_service.model.fold import CURRENT_SCHEMA_VERSIONS

    assert set(COMMAND_BEHIND) == set(CURRENT_SCHEMA_VERSIONS)
