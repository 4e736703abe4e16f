"""The committed JSON Schemas are what the models generate, and they bite where they should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from order_service.contract.schemas import (
    ANY_EVENT_SCHEMA,
    generate,
    main,
    render,
    schema_file_name,
)
from order_service.contract.validation import any_event_validator, validate_event
from order_service.model.events import EVENT_MODELS, parse_event
from order_service.model.fold import fold
from order_service.model.upcasting import upcast
from pydantic import ValidationError

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
VALID = SCHEMAS / "fixtures" / "valid"
INVALID = SCHEMAS / "fixtures" / "invalid"

# Each invalid fixture, named after the rule it breaks: the JSON pointer and keyword that must fail.
BROKEN_RULES = {
    "missing-order-id.json": ("/order_id", "required"),
    "missing-event-type.json": ("/event_type", "required"),
    "unknown-event-type.json": ("/event_type", "enum"),
    "unknown-schema-version.json": ("/schema_version", "enum"),
    "float-amount.json": ("/data/amount/amount", "type"),
    "amount-with-one-decimal.json": ("/data/amount/amount", "pattern"),
    "lowercase-currency.json": ("/data/amount/currency", "pattern"),
    "extra-property.json": ("/data/signed_for", "additionalProperties"),
    "personal-data.json": ("/data/customer_name", "additionalProperties"),
    "timestamp-not-utc.json": ("/occurred_at", "pattern"),
    "timestamp-not-a-date.json": ("/occurred_at", "format"),
    "event-id-not-a-uuid.json": ("/event_id", "format"),
    "negative-quantity.json": ("/data/lines/0/quantity", "minimum"),
    "no-lines.json": ("/data/lines", "minItems"),
    "version-zero.json": ("/version", "minimum"),
    "order-id-as-number.json": ("/order_id", "type"),
}


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _committed_schemas() -> dict[str, dict]:
    return {path.name: _load(path) for path in sorted(SCHEMAS.glob("*.schema.json"))}


def test_the_committed_schema_files_are_exactly_what_the_models_generate():
    generated = generate()
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(generated), (
        "schemas/ holds other files than the generated ones: run `make schemas`"
    )
    for name, document in generated.items():
        assert (SCHEMAS / name).read_text(encoding="utf-8") == render(document), (
            f"schemas/{name} differs from the models: run `make schemas`"
        )


def test_the_generator_check_mode_reports_a_stale_file(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "order-paid.v1.schema.json").write_text("{}\n", encoding="utf-8")
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert f"differs: {tmp_path / 'order-paid.v1.schema.json'}" in capsys.readouterr().out


def test_there_is_one_schema_per_event_type_and_version_plus_one_for_any_event():
    expected = {schema_file_name(t, v) for t, v in EVENT_MODELS} | {ANY_EVENT_SCHEMA}
    assert set(_committed_schemas()) == expected


@pytest.mark.parametrize("name", sorted(_committed_schemas()))
def test_each_schema_is_draft_2020_12_with_its_file_name_as_id(name):
    schema = _committed_schemas()[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == name


def _objects(node, pointer=""):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield pointer, node
        for key, value in node.items():
            yield from _objects(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{pointer}/{index}")


@pytest.mark.parametrize("name", sorted(set(_committed_schemas()) - {ANY_EVENT_SCHEMA}))
def test_every_object_is_closed_and_every_property_described(name):
    objects = list(_objects(_committed_schemas()[name]))
    assert len(objects) >= 3  # the envelope, its metadata, its data
    for pointer, node in objects:
        assert node["additionalProperties"] is False, pointer
        for prop, spec in node["properties"].items():
            assert spec.get("description"), f"{pointer}/properties/{prop}"


@pytest.mark.parametrize("name", sorted(set(_committed_schemas()) - {ANY_EVENT_SCHEMA}))
def test_the_discriminator_is_required_and_constant(name):
    schema = _committed_schemas()[name]
    assert {"event_type", "schema_version"} <= set(schema["required"])
    assert "const" in schema["properties"]["event_type"]
    assert "const" in schema["properties"]["schema_version"]


def test_money_is_a_string_with_a_pattern_never_a_number():
    money = _committed_schemas()["order-paid.v1.schema.json"]["$defs"]["Money"]
    assert money["properties"]["amount"]["type"] == "string"
    assert "anyOf" not in money["properties"]["amount"]
    assert money["properties"]["amount"]["pattern"] == r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$"


def _refs(node):
    if isinstance(node, dict):
        yield from ([node["$ref"]] if "$ref" in node else [])
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _verdict(schema, instance):
    return sorted(
        (e.json_path, e.validator) for e in Draft202012Validator(schema).iter_errors(instance)
    )


def test_the_any_event_schema_embeds_each_version_self_contained_and_judging_as_its_file():
    """Each embedded copy has its `$defs` inlined (no `#/...` reference, which a tool ignoring
    embedded `$id`s would resolve against the union's root) and gives every fixture the same
    errors as the file it copies."""
    union = _committed_schemas()[ANY_EVENT_SCHEMA]
    fixtures = [
        _load(path) for path in sorted(VALID.glob("*.json")) + sorted(INVALID.glob("*.json"))
    ]
    assert len(union["$defs"]) == len(EVENT_MODELS)
    for event_type, version in EVENT_MODELS:
        name = schema_file_name(event_type, version)
        copy = union["$defs"][name.removesuffix(".schema.json")]
        assert [ref for ref in _refs(copy) if ref.startswith("#")] == [], name
        file = _committed_schemas()[name]
        for fixture in fixtures:
            assert _verdict(copy, fixture) == _verdict(file, fixture), (name, fixture)


def test_the_validator_uses_the_committed_any_event_schema():
    assert any_event_validator().schema == _load(SCHEMAS / ANY_EVENT_SCHEMA)


def test_every_event_model_has_one_valid_fixture_and_each_passes_the_schema_and_the_models():
    fixtures = sorted(VALID.glob("*.json"))
    expected = {schema_file_name(t, v).replace(".schema.json", ".json") for t, v in EVENT_MODELS}
    assert {path.name for path in fixtures} == expected
    for path in fixtures:
        assert validate_event(_load(path)) == [], path.name
        parse_event(_load(path))


def test_the_valid_fixtures_fold_into_a_delivered_order_from_the_frozen_v1_event():
    names = [
        "order-placed.v1",
        "order-item-added.v1",
        "order-paid.v1",
        "order-shipped.v1",
        "order-delivered.v1",
    ]
    state = fold(upcast(_load(VALID / f"{name}.json")) for name in names)
    assert (state.status, state.total, state.version) == ("delivered", "43.50", 5)


def test_every_invalid_fixture_has_its_rule_written_down():
    assert sorted(p.name for p in INVALID.glob("*.json")) == sorted(BROKEN_RULES)


@pytest.mark.parametrize("name", sorted(BROKEN_RULES))
def test_each_invalid_fixture_fails_for_the_rule_it_is_named_after(name):
    pointer, keyword = BROKEN_RULES[name]
    problems = validate_event(_load(INVALID / name))
    assert problems, f"{name} passed the schema"
    assert {p.pointer for p in problems} == {pointer}, problems
    assert keyword in {p.keyword for p in problems}, problems


@pytest.mark.parametrize("name", sorted(BROKEN_RULES))
def test_each_invalid_fixture_is_refused_by_the_models_too(name):
    with pytest.raises(ValidationError):
        parse_event(_load(INVALID / name))


def test_a_pattern_does_not_accept_a_trailing_newline():
    payload = _load(VALID / "order-paid.v1.json")
    payload["data"]["payment_id"] = "PAY-5120\n"
    assert [(p.pointer, p.keyword) for p in validate_event(payload)] == [
        ("/data/payment_id", "pattern")
    ]
