"""The fold applies facts: valid or not by today's rules, a well-formed stream folds.

It refuses only what breaks the stream's integrity, by name, with no partial state.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import order_service.model.fold as fold_module
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
from order_service.model.fold import (
    CURRENT_SCHEMA_VERSIONS,
    ForeignOrder,
    MalformedEvent,
    UnknownEventType,
    UnknownSchemaVersion,
    VersionOutOfSequence,
    evolve,
    fold,
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


def test_each_evolve_step_moves_the_order_as_its_event_says():
    # Expected by hand from the builders (a 79.99 clock, a 24.99 key, PAY-1, DHL JD1), not by
    # running the fold a second way.
    expected = [
        (1, "placed", "79.99", None, None),
        (2, "placed", "104.98", None, None),
        (3, "paid", "104.98", "PAY-1", None),
        (4, "shipped", "104.98", "PAY-1", "JD1"),
        (5, "delivered", "104.98", "PAY-1", "JD1"),
    ]
    events = lifecycle("placed", "item_added", "paid", "shipped", "delivered")
    state = None
    for event, (version, status, total, payment_id, tracking) in zip(events, expected, strict=True):
        state = evolve(state, event)
        assert (state.version, state.status, state.total) == (version, status, total)
        assert (state.payment_id, state.tracking_number) == (payment_id, tracking)
    price = {"amount": "79.99", "currency": "EUR"}
    assert fold(events).to_dict() == {
        "order_id": "1001", "version": 5, "status": "delivered", "customer_id": "C-0042",
        "lines": [
            {"sku": "RETRO-CLOCK", "quantity": 1, "unit_price": price},
            {"sku": "BRASS-KEY", "quantity": 1,
             "unit_price": {"amount": "24.99", "currency": "EUR"}},
        ],
        "total": {"amount": "104.98", "currency": "EUR"}, "payment_id": "PAY-1",
        "carrier": "DHL", "tracking_number": "JD1", "cancellation_reason": None,
    }  # fmt: skip


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


def test_an_event_of_another_order_is_refused():
    with pytest.raises(ForeignOrder, match="event belongs to order 1002, not 1001"):
        fold([placed(1), paid(2, order_id="1002")])


@pytest.mark.parametrize(
    ("versions", "rule"),
    [
        ((1, 3), "expected version 2, got 3"),
        ((1, 2, 2), "expected version 3, got 2"),
        ((1, 2, 3, 2), "expected version 4, got 2"),
        ((2,), "expected version 1, got 2"),
    ],
    ids=["gap", "duplicate", "out of order", "stream not starting at 1"],
)
def test_a_version_out_of_sequence_is_refused(versions, rule):
    events = lifecycle("placed", "paid", "shipped", "delivered")
    stream = [dict(e, version=v) for e, v in zip(events, versions, strict=False)]
    with pytest.raises(VersionOutOfSequence) as refusal:
        fold(stream)
    assert refusal.value.rule == f"{rule} (a gap, duplicate or reordering)"


@pytest.mark.parametrize("version", [True, 1.0, "1"], ids=["true", "float", "string"])
def test_a_version_that_only_compares_equal_to_1_is_refused(version):
    with pytest.raises(VersionOutOfSequence, match=f"expected version 1, got {version!r}"):
        fold([dict(placed(1), version=version)])


@pytest.mark.parametrize("schema_version", [2.0, "2"], ids=["float", "string"])
def test_a_schema_version_that_only_looks_current_is_refused(schema_version):
    with pytest.raises(
        UnknownSchemaVersion, match=f"schema version {schema_version!r} is not the current one"
    ):
        fold([dict(placed(1), schema_version=schema_version)])


def test_an_unknown_event_type_is_refused_by_name():
    with pytest.raises(UnknownEventType, match="unknown event type 'OrderTeleported'"):
        fold([placed(1), envelope(2, "OrderTeleported", {})])


def test_an_old_schema_version_is_refused_until_upcast():
    old = dict(placed(1), schema_version=1)
    with pytest.raises(
        UnknownSchemaVersion, match="schema version 1 is not the current one; upcast"
    ):
        fold([old])


@pytest.mark.parametrize(
    ("break_it", "rule"),
    [
        (lambda e: e["data"].pop("customer_id"), "malformed event: 'customer_id'"),
        (lambda e: e["data"]["lines"][0]["unit_price"].update(amount=79.99), "malformed event"),
        (lambda e: e["data"]["lines"][0].update(quantity=1.0), "quantity must be an integer"),
        (lambda e: e["data"].update(lines=[]), "malformed event: list index out of range"),
    ],
    ids=["no customer", "float amount", "float quantity", "no line"],
)
def test_a_malformed_event_is_refused_as_malformed(break_it, rule):
    event = placed(1)
    break_it(event)
    with pytest.raises(MalformedEvent, match=rule):
        fold([event])


@pytest.mark.parametrize("field", ["event_id", "order_id", "version", "schema_version", "data"])
def test_an_event_without_an_envelope_field_is_refused_as_malformed_naming_it(field):
    event = paid(2)
    event.pop(field)
    with pytest.raises(MalformedEvent, match=f"malformed event: KeyError '{field}'"):
        fold([placed(1), event])


def test_a_stream_entry_that_is_not_an_object_is_refused_as_malformed():
    with pytest.raises(MalformedEvent, match="malformed event: TypeError"):
        fold([placed(1), ["not", "an", "event"]])


# evolve applies facts: a history that breaks a business rule still folds (the history check
# reports it), so a rule tightened later never makes a stored order unloadable.
@pytest.mark.parametrize(
    ("steps", "status"),
    [
        (("placed", "shipped"), "shipped"),
        (("placed", "paid", "paid"), "paid"),
        (("placed", "cancelled", "paid"), "paid"),
        (("placed", "paid", "item_added"), "paid"),
        (("paid",), "paid"),
    ],
    ids=["ship before pay", "pay twice", "pay after cancel", "add after paying", "pay first"],
)
def test_evolve_applies_an_event_whatever_the_status(steps, status):
    build = {"placed": placed, "item_added": item_added, "paid": paid, "shipped": shipped,
             "delivered": delivered, "cancelled": cancelled}  # fmt: skip
    state = fold([build[step](version) for version, step in enumerate(steps, start=1)])
    assert (state.status, state.version) == (status, len(steps))


def test_evolve_applies_a_payment_of_another_amount_and_a_delivery_of_another_parcel():
    state = fold([placed(1), paid(2, "1.00"), shipped(3), delivered(4, "JD2")])
    assert (state.status, state.total, state.tracking_number) == ("delivered", "79.99", "JD1")


def test_evolve_adds_a_known_sku_to_its_line_at_the_first_price():
    state = fold([placed(1), item_added(2, line("RETRO-CLOCK", 2, "9.99"))])
    assert state.lines == (("RETRO-CLOCK", 3, "79.99"),)


def test_fold_module_is_small_and_imports_the_standard_library_only():
    source = Path(fold_module.__file__).read_text(encoding="utf-8")
    assert len(source.splitlines()) < 200  # a budget with room for a few more event types
    imported = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported - {"__future__", "order_service"} <= sys.stdlib_module_names
    assert {
        line.split()[1] for line in source.splitlines() if line.startswith("from order_service")
    } == {"order_service.model.integrity", "order_service.model.money"}


def test_the_fold_applies_exactly_the_newest_schema_version_of_every_event_model():
    from order_service.model.events import EVENT_MODELS

    newest = {}
    for event_type, version in EVENT_MODELS:
        newest[event_type] = max(version, newest.get(event_type, 0))
    assert newest == CURRENT_SCHEMA_VERSIONS
