"""derive(): what `orders derive` makes of a stream, with the state after each event."""

from __future__ import annotations

import json

import pytest
from event_streams import envelope, lifecycle, paid, placed, shipped
from order_service.model.derivation import derive, derive_state, lint_history, read_input, report
from order_service.model.fold import FoldError, VersionOutOfSequence, evolve, fold
from order_service.model.snapshots import take_snapshot


def test_the_steps_are_the_states_evolve_gives_one_event_at_a_time_and_the_end_is_derive_states():
    events = lifecycle("placed", "item_added", "paid", "shipped", "delivered")
    derivation = derive(events)
    state = None
    expected = []
    for event in events:
        state = evolve(state, event)
        expected.append((event["event_type"], state))
    assert [(step.event_type, step.state) for step in derivation.steps] == expected
    assert derivation.state == derive_state(events) == fold(events)
    assert derivation.broken is None and derivation.problems == ()


def test_a_history_that_breaks_a_rule_is_folded_whole_and_linted_beside_the_state():
    events = [placed(1), shipped(2), paid(3)]
    derivation = derive(events)
    assert derivation.state == derive_state(events) == fold(events)
    assert list(derivation.problems) == lint_history(events)
    assert derivation.problems[0].index == 1
    assert derivation.problems[0].pointer == "/event_type"
    assert [step.state.version for step in derivation.steps] == [1, 2, 3]


def test_the_lint_from_a_snapshot_checks_the_events_after_it_at_their_index():
    events = [placed(1), paid(2), shipped(3), paid(4)]  # paid twice: the fourth event
    snapshot = take_snapshot(fold(events[:2]))
    [problem] = lint_history(events, snapshot)
    assert (problem.index, problem.version) == (3, 4)
    assert derive(events, snapshot).state == fold(events)


def test_an_event_delivered_twice_breaks_the_stream_and_the_steps_stop_before_it():
    events = [placed(1), paid(2), paid(2)]
    with pytest.raises(FoldError) as raised:
        derive_state(events)
    derivation = derive(events)
    assert isinstance(derivation.broken, VersionOutOfSequence)
    assert str(derivation.broken) == str(raised.value)
    assert [step.state.version for step in derivation.steps] == [1, 2]


def test_an_order_placed_v1_is_upcast_before_it_is_derived():
    v1 = envelope(
        1,
        "OrderPlaced",
        {
            "customer_id": "C-0042",
            "currency": "EUR",
            "items": [{"sku": "RETRO-CLOCK", "qty": 1, "unit_price_cents": 7999}],
        },
    )
    assert derive([v1, paid(2)]).state == fold([placed(1), paid(2)])


@pytest.mark.parametrize("given", ["after", "whole"], ids=["events after it", "whole stream"])
def test_from_a_snapshot_the_steps_start_after_it_and_the_end_is_the_full_folds(given):
    events = lifecycle("placed", "paid", "shipped", "delivered")
    snapshot = take_snapshot(fold(events[:2]))
    derivation = derive(events[2:] if given == "after" else events, snapshot)
    assert [step.state.version for step in derivation.steps] == [3, 4]
    assert derivation.state == fold(events)


def test_report_is_json_ready_and_prints_the_state_as_orders_derive_does():
    events = lifecycle("placed", "paid")
    result = report(events)
    assert json.loads(json.dumps(result)) == result
    assert result["printed"] == json.dumps(fold(events).to_dict(), indent=2, ensure_ascii=False)
    assert [step["event_type"] for step in result["steps"]] == ["OrderPlaced", "OrderPaid"]
    assert result["refusal"] is None


def test_report_gives_the_state_and_words_the_lint_as_orders_derive_does_without_the_file_name():
    events = [placed(1), paid(2, "79.98")]
    result = report(events)
    assert result["refusal"] is None
    assert result["lint"] == [
        f"event {events[1]['event_id']}: /data/amount/amount: "
        "paid 79.98 EUR, the total is 79.99 EUR",
        "orders: history lint: 1 event(s) today's rules would refuse as commands "
        "(the state is derived from the events as stored)",
    ]
    assert result["state"] == fold(events).to_dict()


def test_report_refuses_a_snapshot_that_lacks_a_field_by_name():
    result = report(lifecycle("placed"), {"order_id": "1001", "version": 1, "state": {}})
    assert result["refusal"] == ["snapshot: snapshot lacks reducer_version"]
    assert result["steps"] == []


@pytest.mark.parametrize(
    ("events_text", "snapshot_text", "error"),
    [
        (
            '[{"a": 1},\n {"b": 2]',
            None,
            "events:2: malformed JSON: Expecting ',' delimiter (column 9)",
        ),
        ("[]", None, "events: empty: no events"),
        ("  ", None, "events: empty: nothing to read"),
        (
            "[{}]",
            "{oops",
            "snapshot:1: malformed JSON: Expecting property name enclosed in double quotes"
            " (column 2)",
        ),
        ("[" * 100_000, None, "events: malformed JSON: nested too deeply to parse"),
    ],
    ids=["broken array", "empty array", "blank", "broken snapshot", "too deep"],
)
def test_input_that_is_not_the_json_expected_is_one_line_naming_where(
    events_text, snapshot_text, error
):
    assert read_input(events_text, snapshot_text) == {
        "events": None,
        "for_schema": None,
        "snapshot": None,
        "error": error,
    }


def test_one_event_alone_is_read_as_a_stream_of_one():
    event = placed(1)
    assert read_input(json.dumps(event))["events"] == [event]


def test_a_whole_number_written_as_a_float_stays_off_the_integers_for_a_javascript_validator():
    event = {**placed(1), "version": 1.0}
    read = read_input(json.dumps([event]))
    assert read["events"] == [event] and type(read["events"][0]["version"]) is float
    assert read["for_schema"][0]["version"] == 1.5
    assert read["for_schema"][0]["data"] == event["data"]
