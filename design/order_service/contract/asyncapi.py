"""Generate the AsyncAPI 3.0 document of the `order-events` topic from the code.

The topic, its partitions and the header come from `bus.kafka`, the consumer groups from the
subscribers' names. The topic carries one message, any order event: its payload is a relative
`$ref` to `schemas/order-event.schema.json`, where `event_type` and `schema_version` choose the
schema of that version (the log keeps every event as it was stored, so old versions too). A new
event type changes `schemas/`, never this document.

Run `python -m order_service.contract.asyncapi` (or `make asyncapi`) to rewrite
`docs/design/asyncapi.json`; `--check` only reports whether it differs, exiting 1.

Examples:
    >>> document = generate()
    >>> document["channels"]["orderEvents"]["address"]
    'order-events'
    >>> document["components"]["messages"]["OrderEvent"]["payload"]
    {'$ref': '../../schemas/order-event.schema.json'}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from order_service.bus.kafka import PARTITIONS, POSITION, PRODUCER, TOPIC, KafkaBus
from order_service.bus.kafka_consumer import group_id
from order_service.contract.schemas import ANY_EVENT_SCHEMA
from order_service.model.events import ORDER_ID_PATTERN
from order_service.read.notifications import NOTIFIER
from order_service.read.read_model import PROJECTION

__all__ = ["ASYNCAPI", "DOCUMENT", "generate", "main", "render"]

ASYNCAPI = "3.0.0"
"""The AsyncAPI version the document follows."""
BINDING = "0.5.0"
"""The Kafka bindings' version (bindings/kafka in the AsyncAPI bindings)."""
DOCUMENT = Path("docs/design/asyncapi.json")
"""Where the document is committed, relative to the repository root."""
SCHEMAS = "../../schemas/"
"""The `schemas/` folder as seen from the document's folder."""
MAX_LINE = 100
"""The longest line the rendered document may have: the site shows it in a code block."""

SERVER = "127.0.0.1:9092"
"""The broker the document names (any `--bus kafka://HOST:PORT` serves the same channel)."""

_CHANNEL = "orderEvents"
_MESSAGE = "OrderEvent"


def _message() -> dict[str, Any]:
    return {
        "name": _MESSAGE,
        "title": "Any order event",
        "summary": "event_type and schema_version choose the schema of that version.",
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/RecordHeaders"},
        "payload": {"$ref": SCHEMAS + ANY_EVENT_SCHEMA},
        "bindings": {
            "kafka": {"key": {"$ref": "#/components/schemas/OrderId"}, "bindingVersion": BINDING}
        },
    }


def _subscriber(name: str, who: str) -> dict[str, Any]:
    group = group_id(KafkaBus(SERVER), name)
    return {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{_CHANNEL}"},
        "summary": f"{who}: commits an offset after its own transaction committed.",
        "bindings": {
            "kafka": {"groupId": {"type": "string", "enum": [group]}, "bindingVersion": BINDING}
        },
    }


def generate() -> dict[str, Any]:
    """The AsyncAPI document, as a dict in the order it is written."""
    if not PRODUCER.get("enable_idempotence"):
        raise ValueError("bus.kafka.PRODUCER is not idempotent: the document says it is")
    return {
        "asyncapi": ASYNCAPI,
        "info": {
            "title": "Order events",
            "version": "1.0.0",
            "description": (
                "The events the outbox relay publishes to Kafka, as the event store holds them."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": SERVER,
                "protocol": "kafka",
                "description": "A broker as `--bus kafka://HOST:PORT` names it.",
            }
        },
        "channels": {
            _CHANNEL: {
                "address": TOPIC,
                "title": "Every order's events",
                "summary": "Key order_id: an order's events share a partition, in version order.",
                "messages": {_MESSAGE: {"$ref": f"#/components/messages/{_MESSAGE}"}},
                "bindings": {
                    "kafka": {"partitions": PARTITIONS, "replicas": 1, "bindingVersion": BINDING}
                },
            }
        },
        "operations": {
            "publishOrderEvents": {
                "action": "send",
                "channel": {"$ref": f"#/channels/{_CHANNEL}"},
                "summary": f"The outbox relay: idempotent producer, acks={PRODUCER['acks']}, "
                "key order_id.",
            },
            "projectOrderSummary": _subscriber(PROJECTION, "The projector"),
            "notifyShipping": _subscriber(NOTIFIER, "The shipping notifier"),
        },
        "components": {
            "schemas": {
                "OrderId": {
                    "type": "string",
                    "pattern": ORDER_ID_PATTERN,
                    "description": "The record key: the event's order_id, UTF-8.",
                },
                "RecordHeaders": {
                    "type": "object",
                    "required": [POSITION],
                    "properties": {
                        POSITION: {
                            "type": "string",
                            "pattern": "^[0-9]+$",
                            "description": "The event's global position in the store, decimal.",
                        }
                    },
                },
            },
            "messages": {_MESSAGE: _message()},
        },
    }


def render(document: dict[str, Any]) -> str:
    """The exact text of the file: two-space indent, a final newline, no line over MAX_LINE."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_LINE:
            raise ValueError(f"line {number} has {len(line)} characters (> {MAX_LINE}): {line}")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m order_service.contract.asyncapi [--out FILE] [--check]`."""
    parser = argparse.ArgumentParser(
        prog="python -m order_service.contract.asyncapi",
        description="Write the AsyncAPI document generated from the code.",
    )
    parser.add_argument("--out", type=Path, default=DOCUMENT, help=f"default: ./{DOCUMENT}")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file would change"
    )
    args = parser.parse_args(argv)
    text = render(generate())
    if args.out.exists() and args.out.read_text(encoding="utf-8") == text:
        return 0
    if args.check:
        print(f"differs: {args.out} (run `make asyncapi`)")
        return 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
