"""The peer: the same order, written with the `eventsourcing` library as its docs show.

Its default configuration: `Application` with `PERSISTENCE_MODULE=eventsourcing.sqlite` on a
file (`SQLITE_DBNAME`), the JSON transcoder, no cipher, no compressor, no aggregate cache. The
aggregate uses the `@event` decorator, so each command method records an event and the same
method body applies it on replay, exactly as the library's tutorial does.

Two tuned configurations, run under `python -O` (which removes the runtime-Protocol
`assert isinstance(...)` the library makes per replayed event), each named by the library's
`TRANSCODER_TOPIC` setting (its docs point to orjson for speed):

- `transcoder="orjson"`: `OrjsonTranscoder` below, the library's `JSONTranscoder` with orjson
  doing the parsing and the writing, same documents, same generic transcodings;
- `transcoder="minimal"`: `MinimalOrjsonTranscoder`, written for this aggregate's own types
  (orjson writes datetimes and decimals itself; reading revives only the known datetime and
  decimal fields): the fastest configuration built here.

On PostgreSQL (`open_app` given a `postgresql://...?schema=NAME` URL): the library's
documented `PERSISTENCE_MODULE=eventsourcing.postgres` with `POSTGRES_DBNAME`, `_HOST`,
`_PORT`, `_USER`, `_PASSWORD` and `_SCHEMA` (a schema of its own on the same server), every
other setting at its default (connection pool, no database functions, lock timeout).
"""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import JSONTranscoder, Transcoder
from psycopg.conninfo import conninfo_to_dict


class Order(Aggregate):
    """An order with the same events and state as ours: lines by SKU, a total, a status.

    Each line keeps its quantity and unit price (`[quantity, amount]`), as ours does: a
    snapshot restores the same state on both sides, not a lighter one for the peer.

    Event attributes are flat keyword scalars (money as a decimal string and a currency), the
    cheapest shape for the library's JSON transcoder: the peer is given its best case.
    """

    @event("Placed")
    def __init__(
        self, order_no: str, customer_id: str, sku: str, quantity: int, amount: str, currency: str
    ) -> None:
        self.order_no = order_no
        self.customer_id = customer_id
        self.currency = currency
        self.status = "placed"
        self.lines: dict[str, list[Any]] = {sku: [quantity, amount]}
        self.total = Decimal(amount) * quantity

    @event("ItemAdded")
    def add_item(self, sku: str, quantity: int, amount: str, currency: str) -> None:
        if self.status != "placed" or currency != self.currency:
            raise ValueError(f"cannot add a {currency} line to a {self.status} order")
        line = self.lines.setdefault(sku, [0, amount])  # a SKU added again keeps its price
        line[0] += quantity
        self.total += Decimal(amount) * quantity

    @event("Paid")
    def pay(self, payment_id: str, amount: str, currency: str) -> None:
        if self.status != "placed" or Decimal(amount) != self.total:
            raise ValueError("a payment must settle a placed order's total")
        self.status = "paid"
        self.payment_id = payment_id

    @event("Shipped")
    def ship(self, carrier: str, tracking_number: str) -> None:
        if self.status != "paid":
            raise ValueError("cannot ship an unpaid order")
        self.status = "shipped"
        self.carrier = carrier
        self.tracking_number = tracking_number


class OrjsonTranscoder(JSONTranscoder):
    """The library's JSON transcoder with orjson underneath: same documents, same transcodings.

    orjson writes datetimes itself unless told to pass them through, and has no object hook,
    so decoding walks the parsed value to turn `{"_type_", "_data_"}` objects back.
    """

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=self._encode_obj, option=_PASSTHROUGH)

    def decode(self, data: bytes) -> Any:
        return self._revive(orjson.loads(data))

    def _revive(self, value: Any) -> Any:
        if isinstance(value, dict):
            value = {key: self._revive(item) for key, item in value.items()}
            return self._decode_obj(value)
        if isinstance(value, list):
            return [self._revive(item) for item in value]
        return value


_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


class MinimalOrjsonTranscoder(Transcoder):
    """orjson both ways, knowing this aggregate's types: no generic `_type_` walk.

    Writing: orjson writes a datetime as ISO 8601 and a `Decimal` (the snapshot's total) via
    `str`. Reading: a stored event is a flat dict whose only non-JSON value is `timestamp`;
    a snapshot's `state` also holds `_created_on`, `_modified_on` and `total`.
    """

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=str)

    def decode(self, data: bytes) -> Any:
        value: dict[str, Any] = orjson.loads(data)
        value["timestamp"] = datetime.fromisoformat(value["timestamp"])
        state = value.get("state")
        if isinstance(state, dict):
            for key in ("_created_on", "_modified_on"):
                state[key] = datetime.fromisoformat(state[key])
            state["total"] = Decimal(state["total"])
        return value


TRANSCODERS: dict[str, type[Transcoder]] = {
    "orjson": OrjsonTranscoder,
    "minimal": MinimalOrjsonTranscoder,
}

STRAY = ("AGGREGATE_CACHE_MAXSIZE", "COMPRESSOR_TOPIC", "CIPHER_TOPIC")


class Orders(Application[UUID]):
    """The application; snapshots are switched on only where a measurement needs them."""


class SnapshottingOrders(Orders):
    """The same application with its snapshot store (what `snapshotting_intervals` also enables)."""

    is_snapshotting_enabled = True


def environment(db: Path | str) -> dict[str, str]:
    """The library's documented configuration for a SQLite file or a PostgreSQL schema URL."""
    if not isinstance(db, str):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)}
    parts = urlsplit(db)
    (schema,) = parse_qs(parts.query)["schema"]
    server = conninfo_to_dict(urlunsplit(parts._replace(query="")))
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(server["dbname"]),
        "POSTGRES_HOST": str(server["host"]),
        "POSTGRES_PORT": str(server.get("port", 5432)),
        "POSTGRES_USER": str(server["user"]),
        "POSTGRES_PASSWORD": str(server.get("password", "")),
        "POSTGRES_SCHEMA": schema,
    }


def open_app(db: Path | str, *, snapshots: bool = False, transcoder: str = "json") -> Orders:
    """An application on a SQLite file or a PostgreSQL schema URL (the schema must exist).

    The process environment cannot override the benchmark's settings.
    `transcoder` ("json", "orjson" or "minimal") picks the transcoder (see the module).
    """
    env = environment(db)
    # Blank what a stray environment variable could switch on (an aggregate cache, a
    # compressor, a cipher, a PostgreSQL setting): the library's defaults are what is measured.
    for key in os.environ:
        if key in STRAY or (key.startswith("POSTGRES_") and key not in env):
            env[key] = ""
    env["IS_SNAPSHOTTING_ENABLED"] = "y" if snapshots else "n"
    if transcoder != "json":
        env["TRANSCODER_TOPIC"] = f"{__name__}:{TRANSCODERS[transcoder].__name__}"
    cls = SnapshottingOrders if snapshots else Orders
    app = cls(env=env)
    if isinstance(db, str):
        # Its pool opens its connections in background threads: let them finish before any
        # timing, or they would slow whichever contender runs meanwhile.
        app.recorder.datastore.pool.wait()  # type: ignore[attr-defined]  # only the PostgreSQL recorder has one
    return app


def _line_kwargs(line: dict[str, Any]) -> dict[str, Any]:
    price = line["unit_price"]
    return {
        "sku": line["sku"],
        "quantity": line["quantity"],
        "amount": price["amount"],
        "currency": price["currency"],
    }


def build_order(events: list[dict[str, Any]]) -> Order:
    """The aggregate of the workload's envelopes, with every event still pending (unsaved)."""
    placed, *added, paid, shipped = events
    (first_line,) = placed["data"]["lines"]
    order = Order(
        order_no=placed["order_id"],
        customer_id=placed["data"]["customer_id"],
        **_line_kwargs(first_line),
    )
    for item in added:
        order.add_item(**_line_kwargs(item["data"]["line"]))
    order.pay(payment_id=paid["data"]["payment_id"], **paid["data"]["amount"])
    order.ship(**shipped["data"])
    return order


def summary(order: Any) -> dict[str, Any]:
    """What every contender must agree on after a rebuild."""
    return {
        "version": order.version,
        "status": order.status,
        "total": str(order.total),
        "lines": len(order.lines),
    }
