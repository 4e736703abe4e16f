"""The consumer's contract: the producer's schemas read tolerantly, derived from them, never copied.

The producer's check refuses a property the contract does not name; the consumer's check accepts
an event carrying one (a field the producer added since the consumer pinned its version) and
still refuses what is wrong in the fields it knows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from order_service.contract.schemas import (
    ANY_EVENT_SCHEMA,
    CONSUMER_DIR,
    render,
    schema_files,
    tolerant,
)
from order_service.contract.validation import (
    event_problems,
    known_properties,
    validate_event,
    validator_for,
)
from order_service.entrypoints.cli import EXIT_INVALID, EXIT_OK, main

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CONSUMER = SCHEMAS / CONSUMER_DIR
FIXTURES = SCHEMAS / "fixtures"


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*/*.json"))


def _with_added_field(payload: dict) -> dict:
    """The event as a newer producer writes it: one more optional field in `data`."""
    return {**payload, "data": {**payload["data"], "sales_channel": "web"}}


def _producer_validator():
    return validator_for(_load(SCHEMAS / ANY_EVENT_SCHEMA))


def _consumer_validator():
    return validator_for(_load(CONSUMER / ANY_EVENT_SCHEMA))


def test_the_committed_consumer_schemas_are_exactly_what_the_producer_schemas_derive():
    expected = {
        name.removeprefix(f"{CONSUMER_DIR}/"): document
        for name, document in schema_files().items()
        if name.startswith(f"{CONSUMER_DIR}/")
    }
    assert sorted(path.name for path in CONSUMER.glob("*")) == sorted(expected), (
        "schemas/consumer/ holds other files than the derived ones: run `make schemas`"
    )
    for name, document in expected.items():
        assert (CONSUMER / name).read_text(encoding="utf-8") == render(document), (
            f"schemas/consumer/{name} differs from the producer's schema: run `make schemas`"
        )


@pytest.mark.parametrize("name", sorted(path.name for path in SCHEMAS.glob("*.schema.json")))
def test_a_consumer_schema_is_the_producer_s_with_no_object_closed(name):
    producer, consumer = _load(SCHEMAS / name), _load(CONSUMER / name)
    assert '"additionalProperties": false' in json.dumps(producer)
    assert '"additionalProperties"' not in json.dumps(consumer)
    assert consumer == tolerant(producer)
    assert (consumer["$id"], consumer["required"]) == (producer["$id"], producer["required"])


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("valid/*.json")), ids=lambda p: p.name)
def test_an_added_optional_field_fails_the_producer_check_and_passes_the_consumer_check(path):
    newer = _with_added_field(_load(path))
    assert [str(p) for p in validate_event(newer, _producer_validator())] == [
        "/data/sales_channel: property not allowed"
    ]
    assert validate_event(newer, _consumer_validator()) == []
    assert [str(p) for p in event_problems(newer)] == ["/data/sales_channel: property not allowed"]
    assert event_problems(newer, consumer=True) == []


def test_the_consumer_check_still_refuses_a_known_field_that_is_wrong():
    newer = _with_added_field(_load(FIXTURES / "invalid" / "float-amount.json"))
    expected = ["/data/amount/amount: 43.5 is not of type 'string'"]
    assert [str(p) for p in validate_event(newer, _consumer_validator())] == expected
    assert [str(p) for p in event_problems(newer, consumer=True)] == expected


def test_the_consumer_check_still_applies_the_one_currency_rule_to_the_fields_it_knows():
    placed = _load(FIXTURES / "valid" / "order-placed.v2.json")
    line = placed["data"]["lines"][0]
    other = {**line, "sku": "GLOBE", "unit_price": {"amount": "1.00", "currency": "USD"}}
    mixed = _with_added_field({**placed, "data": {**placed["data"], "lines": [line, other]}})
    assert [p.keyword for p in event_problems(mixed, consumer=True)] == ["one_currency"]


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("added", [False, True], ids=["as-is", "with-added-field"])
def test_the_consumer_schema_file_and_orders_validate_consumer_agree(path, added):
    payload = _load(path)
    if added and isinstance(payload.get("data"), dict):
        payload = _with_added_field(payload)
    by_file = {p.pointer for p in validate_event(payload, _consumer_validator())}
    by_command = {p.pointer for p in event_problems(payload, consumer=True)}
    assert by_file == by_command


def test_known_properties_drops_unknown_properties_at_every_depth_and_leaves_the_payload_alone():
    paid = _load(FIXTURES / "valid" / "order-paid.v1.json")
    deep = {**paid, "trace": "x", "data": {**paid["data"], "amount": {**paid["data"]["amount"]}}}
    deep["data"]["amount"]["rounding"] = "half-even"
    before = json.dumps(deep)
    assert known_properties(deep) == paid
    assert json.dumps(deep) == before  # a copy is pruned, not the caller's payload
    assert known_properties(paid) is paid


def test_orders_validate_consumer_accepts_the_newer_event_that_plain_validate_refuses(
    tmp_path, capsys
):
    path = tmp_path / "paid.json"
    path.write_text(json.dumps(_with_added_field(_load(FIXTURES / "valid" / "order-paid.v1.json"))))
    assert main(["validate", str(path)]) == EXIT_INVALID
    assert "/data/sales_channel: property not allowed" in capsys.readouterr().out
    assert main(["validate", "--consumer", str(path)]) == EXIT_OK
    assert capsys.readouterr().err == "orders: 1 event(s) valid\n"
