"""Generate the JSON Schemas in `schemas/` from the event models: the models are the source.

One file per event type and schema version (`order-placed.v2.schema.json`...), and
`order-event.schema.json`, which accepts any order event: it dispatches on `event_type`
and `schema_version` to the schema of that version, bundled inside it (each copy's own
`$defs` inlined) so that a tool given this one file needs nothing else. Every file is JSON
Schema draft 2020-12, its `$id` is its file name, every object refuses extra properties and
every property has a description (generation fails otherwise). These closed schemas are the
producer's contract.

`schemas/consumer/` holds the consumer's reading of the same files, derived by `tolerant`: no
object refuses a property it does not name, so a field added to an event breaks no consumer.

Run `python -m order_service.contract.schemas` (or `make schemas`) to rewrite both;
`--check` only reports files that differ, exiting 1.

Examples:
    >>> documents = generate()
    >>> sorted(documents)[:3]
    ['order-cancelled.v1.schema.json', 'order-delivered.v1.schema.json', 'order-event.schema.json']
    >>> documents["order-placed.v1.schema.json"]["$id"]
    'order-placed.v1.schema.json'
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, get_args

from order_service.model.events import CURRENT_SCHEMA_VERSIONS, EVENT_MODELS, Envelope

__all__ = [
    "ANY_EVENT_SCHEMA",
    "CONSUMER_DIR",
    "DRAFT",
    "event_schema",
    "generate",
    "main",
    "render",
    "schema_file_name",
    "schema_files",
    "tolerant",
]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ANY_EVENT_SCHEMA = "order-event.schema.json"
"""File name (and `$id`) of the schema that accepts any order event."""
CONSUMER_DIR = "consumer"
"""Folder of `schemas/` holding the consumer's reading of every schema (see `tolerant`)."""


def schema_file_name(event_type: str, schema_version: int) -> str:
    """`OrderPlaced`, 2 -> `order-placed.v2.schema.json`."""
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", event_type).lower()
    return f"{kebab}.v{schema_version}.schema.json"


def event_schema(model: type[Envelope]) -> dict[str, Any]:
    """The schema document of one event model, `$schema` and `$id` first."""
    (event_type,) = get_args(model.model_fields["event_type"].annotation)  # Literal["OrderPaid"]
    (version,) = get_args(model.model_fields["schema_version"].annotation)  # Literal[1]
    body = model.model_json_schema(mode="validation")
    document = {
        "$schema": DRAFT,
        "$id": schema_file_name(event_type, version),
        "title": f"{event_type}, schema version {version}",
        "description": body.pop("description"),
    }
    body.pop("title", None)
    document.update(body)
    _check_strict(document, document["$id"])
    return document


def _any_event_schema(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    versions: dict[str, list[int]] = {}
    for event_type, version in EVENT_MODELS:
        versions.setdefault(event_type, []).append(version)
    return {
        "$schema": DRAFT,
        "$id": ANY_EVENT_SCHEMA,
        "title": "Any order event",
        "description": (
            "An order event of any type and schema version: event_type and schema_version "
            "choose the schema file that validates the whole envelope."
        ),
        "type": "object",
        "required": ["event_type", "schema_version"],
        "properties": {
            "event_type": {
                "description": "What happened; one of the order's event types.",
                "enum": list(CURRENT_SCHEMA_VERSIONS),
            },
            "schema_version": {
                "description": "Version of the event type's schema.",
                "type": "integer",
            },
        },
        "allOf": [
            clause
            for event_type, known in versions.items()
            for clause in (
                {
                    "if": _matches(event_type),
                    "then": {"properties": {"schema_version": {"enum": sorted(known)}}},
                },
                *(
                    {
                        "if": _matches(event_type, version),
                        "then": {"$ref": schema_file_name(event_type, version)},
                    }
                    for version in sorted(known)
                ),
            )
        ],
        # The per-version schemas, bundled (JSON Schema 2020-12 embedded resources, each with
        # its own $id): tools given this one file resolve every $ref without fetching anything.
        "$defs": {
            name.removesuffix(".schema.json"): _bundled(doc) for name, doc in documents.items()
        },
    }


def _bundled(document: dict[str, Any]) -> dict[str, Any]:
    """One version's schema as the union embeds it: no `$schema`, and its own `$defs` inlined.

    Inlined because a tool that ignores an embedded `$id` (the AsyncAPI parser's resolver)
    would read the copy's `#/$defs/...` against the union's root, where no such name exists.
    """
    definitions = document.get("$defs", {})
    body = {k: v for k, v in document.items() if k not in ("$schema", "$defs")}
    inlined: dict[str, Any] = _inline(body, definitions, ())
    return inlined


def _inline(node: Any, definitions: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in seen:
            raise ValueError(f"{ref}: a recursive definition cannot be inlined")
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline(definitions[name], definitions, (*seen, name)) | rest
    return {key: _inline(value, definitions, seen) for key, value in node.items()}


def _matches(event_type: str, version: int | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"event_type": {"const": event_type}}
    required = ["event_type"]
    if version is not None:
        properties["schema_version"] = {"const": version}
        required.append("schema_version")
    return {"properties": properties, "required": required}


def _check_strict(schema: Any, where: str) -> None:
    """Every object schema closed, every property described: or no file is written."""
    for pointer, node in _walk(schema, ""):
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            raise ValueError(f"{where}#{pointer}: object schema without additionalProperties false")
        for name, prop in node.get("properties", {}).items():
            if not prop.get("description"):
                raise ValueError(f"{where}#{pointer}/properties/{name}: no description")


def _walk(node: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def generate() -> dict[str, dict[str, Any]]:
    """Every schema document, by file name."""
    documents = {}
    for model in EVENT_MODELS.values():
        document = event_schema(model)
        documents[document["$id"]] = document
    documents[ANY_EVENT_SCHEMA] = _any_event_schema(documents)
    return dict(sorted(documents.items()))


def tolerant(document: dict[str, Any]) -> dict[str, Any]:
    """The consumer's reading of a schema: the same document, no object closed to new properties.

    A consumer reads the fields it knows and ignores the rest (a tolerant reader), so an
    optional field the producer adds fails none of its checks. Everything else is kept.

    Examples:
        >>> closed = generate()["order-paid.v1.schema.json"]
        >>> closed["additionalProperties"], "additionalProperties" in tolerant(closed)
        (False, False)
    """
    opened: dict[str, Any] = _opened(document)
    return opened


def _opened(node: Any) -> Any:
    if isinstance(node, list):
        return [_opened(item) for item in node]
    if not isinstance(node, dict):
        return node
    opened = {key: _opened(value) for key, value in node.items()}
    if opened.get("additionalProperties") is False:
        del opened["additionalProperties"]
    if "$id" in opened and "description" in opened:
        opened["description"] += _CONSUMER_NOTE
    return opened


_CONSUMER_NOTE = " Consumer's reading: a property not named here is allowed, and ignored."


def schema_files() -> dict[str, dict[str, Any]]:
    """Every file `schemas/` holds, by path relative to it: the producer's, then the consumer's."""
    documents = generate()
    consumer = {f"{CONSUMER_DIR}/{name}": tolerant(doc) for name, doc in documents.items()}
    return documents | consumer


def render(document: dict[str, Any]) -> str:
    """The exact text of a schema file: two-space indent, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m order_service.contract.schemas [--out DIR] [--check]`."""
    parser = argparse.ArgumentParser(
        prog="python -m order_service.contract.schemas",
        description="Write the JSON Schemas generated from the event models.",
    )
    parser.add_argument("--out", type=Path, default=Path("schemas"), help="default: ./schemas")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file would change"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, document in schema_files().items():
        path = args.out / name
        text = render(document)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'differs' if args.check else 'wrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
