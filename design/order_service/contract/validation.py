"""Validate event payloads against the JSON Schemas, reporting each problem by JSON pointer.

The schema used is `order-event.schema.json` (it bundles every event type and version),
generated from the models in this package; the committed `schemas/` files are the same (a test
keeps them identical). Formats are checked (`uuid`, `date-time`). One rule spans fields and no
JSON Schema states it: an order's unit prices are in one currency. The event model checks it,
and `event_problems` reports it (keyword `one_currency`).

The producer checks what it writes strictly: a property the contract does not name is a
problem. A consumer reads tolerantly (`event_problems(..., consumer=True)`, the reading of
`schemas/consumer/`): such a property is ignored, and the rest is checked as strictly.

Examples:
    >>> event = {"event_type": "OrderShipped", "schema_version": 1, "order_id": 1001}
    >>> for problem in validate_event(event)[:3]:
    ...     print(problem)
    /data: required property is missing
    /event_id: required property is missing
    /metadata: required property is missing
    >>> validate_event({"event_type": "OrderTeleported", "schema_version": 1})
    [Problem(pointer='/event_type', keyword='enum', reason="'OrderTeleported' is not one of ...)]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from pydantic import ValidationError as ModelError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from order_service.contract.schemas import ANY_EVENT_SCHEMA, generate
from order_service.model.events import parse_event

__all__ = [
    "ECHO_LIMIT",
    "Problem",
    "any_event_validator",
    "bounded",
    "event_problems",
    "known_properties",
    "validate_event",
    "validator_for",
]

ECHO_LIMIT = 80
"""The most characters of a bad value a message repeats: a 10 MB value is not echoed whole."""


def bounded(text: str, limit: int | None = ECHO_LIMIT) -> str:
    """`text` cut to `limit` characters (None: never cut), the last an ellipsis, with lone
    surrogates escaped.

    A path in another encoding than UTF-8 (Python's `surrogateescape`) or a JSON string with
    a lone `\\udcff` holds surrogates, which cannot be printed or stored as UTF-8: they are
    shown as `\\udcff`.

    Examples:
        >>> bounded("P" * 100, limit=10)
        'PPPPPPPPP…'
    """
    if any("\ud800" <= char <= "\udfff" for char in text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a payload is invalid.

    Attributes:
        pointer: JSON pointer (RFC 6901) to the offending value inside the event; for a
            missing or unexpected property, the pointer of that property.
        keyword: The JSON Schema keyword that failed (`required`, `pattern`, `type`...), or
            for a rule only the event model checks, its error type (`one_currency`).
        reason: What is wrong, in words.
    """

    pointer: str
    keyword: str
    reason: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.reason}"


@cache
def any_event_validator(schema_file: Path | None = None) -> Draft202012Validator:
    """A validator for any order event, with format checking; `schema_file` overrides the default.

    Without `schema_file`, the schema is generated from the models: the package reads nothing
    outside itself. A test keeps the committed `schemas/order-event.schema.json` identical to it.
    """
    if schema_file is not None:
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
    else:
        schema = generate()[ANY_EVENT_SCHEMA]
    return validator_for(schema)


def validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    """A draft 2020-12 validator for `schema` that checks formats and reads patterns as ECMA-262.

    Its `$ref` registry is crawled once here: left uncrawled, `referencing` crawls the whole
    schema again at each `$ref` it follows, and validating an invalid event took 2.5 times as long.
    """
    resource = DRAFT202012.create_resource(schema)
    registry: Registry[Any] = Registry().with_resource(schema.get("$id", ""), resource).crawl()
    return _EcmaPatternValidator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    # JSON Schema patterns are ECMA-262: "$" ends the string. Python's "$" also matches
    # before a final newline, which would let "C-42\n" through; "\Z" is the ECMA meaning.
    if not validator.is_type(instance, "string"):
        return
    python_pattern = pattern
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        python_pattern = pattern[:-1] + "\\Z"
    if not re.search(python_pattern, instance):
        yield ValidationError(f"{bounded(repr(instance))} does not match the pattern {pattern}")


def _is_integer(checker: Any, instance: Any) -> bool:
    # "integer" is an int written as one: JSON Schema would also take 2.0; the contract does not,
    # so this validator, the event model and the fold agree (true is not an integer either).
    return type(instance) is int


_EcmaPatternValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _ecma_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def validate_event(payload: Any, validator: Draft202012Validator | None = None) -> list[Problem]:
    """Every problem of one event payload, sorted by pointer; `[]` when it is valid."""
    validator = validator or any_event_validator()
    problems = [problem for error in validator.iter_errors(payload) for problem in _problems(error)]
    return sorted(set(problems), key=lambda p: (p.pointer, p.keyword, p.reason))


def _pointer(parts: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _problems(error: ValidationError) -> list[Problem]:
    here = _pointer(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        return [
            Problem(f"{here}{_pointer([name])}", "required", "required property is missing")
            for name in error.validator_value
            if name not in instance
        ]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(error.schema.get("properties", {}))
        return [
            Problem(f"{here}{_pointer([name])}", "additionalProperties", "property not allowed")
            for name in instance
            if name not in allowed
        ]
    message, shown = error.message, repr(instance)
    if len(shown) > ECHO_LIMIT:  # jsonschema's messages start with the value, whole
        message = message.replace(shown, bounded(shown))
    return [Problem(here, str(error.validator), message)]


def known_properties(payload: Any) -> Any:
    """`payload` without the properties the contract does not name (itself if it has none).

    What a tolerant reader reads: the closed schema's `additionalProperties` failures name
    each unknown property, and a copy is returned without them.

    Examples:
        >>> from order_service.model.examples import EXAMPLE_STREAM
        >>> paid = EXAMPLE_STREAM[1]
        >>> known_properties({**paid, "data": {**paid["data"], "channel": "web"}}) == paid
        True
    """
    unknown = [
        (list(error.absolute_path), name)
        for error in _with_context(any_event_validator().iter_errors(payload))
        if error.validator == "additionalProperties" and isinstance(error.instance, dict)
        for name in error.instance
        if name not in error.schema.get("properties", {})
    ]
    if not unknown:
        return payload
    copy = deepcopy(payload)
    for path, name in unknown:
        node = copy
        for part in path:
            node = node[part]
        node.pop(name, None)
    return copy


def _with_context(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    # anyOf and oneOf keep their branches' failures in `context`, where an unknown property of
    # an optional object shows up.
    for error in errors:
        yield error
        yield from _with_context(error.context or ())


def event_problems(payload: Any, *, consumer: bool = False) -> list[Problem]:
    """Every problem of one event payload: the schema's, then the rules only the model checks.

    The event model (pydantic, validating in Rust) accepts what the schema accepts, except one
    rule no JSON Schema can state: one currency per order (the differential tests,
    `test_schemas_differential` and `test_contract_agreement`, hold the two to that). So a
    payload the model accepts has no problem (about 50 times faster than `validate_event`), and
    a payload it refuses gets the schema's problems, or if the schema finds none, the model's.

    Examples:
        >>> from order_service.model.examples import EXAMPLE_STREAM
        >>> placed = EXAMPLE_STREAM[0]
        >>> line = placed["data"]["lines"][0]
        >>> other = {**line, "sku": "GLOBE", "unit_price": {"amount": "1.00", "currency": "USD"}}
        >>> mixed = {**placed, "data": {**placed["data"], "lines": [line, other]}}
        >>> validate_event(mixed)
        []
        >>> [(problem.pointer, problem.keyword) for problem in event_problems(mixed)]
        [('/data/lines', 'one_currency')]

    With `consumer=True`, a property the contract does not name is no problem: the payload's
    `known_properties` are checked.

        >>> added = {**placed, "data": {**placed["data"], "channel": "web"}}
        >>> [str(problem) for problem in event_problems(added)]
        ['/data/channel: property not allowed']
        >>> event_problems(added, consumer=True)
        []
    """
    try:
        parse_event(payload)
    except ModelError as error:
        if consumer and (known := known_properties(payload)) is not payload:
            return event_problems(known)
        return validate_event(payload) or _model_problems(error)
    return []


def _model_problems(error: ModelError) -> list[Problem]:
    # The location starts with the union's tag ("OrderPlaced/v2"), which is not in the payload.
    return [
        Problem(_pointer(item["loc"][1:]), item["type"], bounded(item["msg"], 4 * ECHO_LIMIT))
        for item in error.errors(include_input=False)
    ]
