"""`orders demo`: order #1001's story through every box of the diagram, step by step.

Ids and clock are fixed, so the output is the same on every run; the "Run the design" page
shows it and a test checks that the page and the program agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO

from order_service.app import OrderService, bootstrap, read_db_for
from order_service.infra.database import Backend, open_backend
from order_service.model.commands import (
    CancelOrder,
    Command,
    DeliverOrder,
    PayOrder,
    PlaceOrder,
    ShipOrder,
)
from order_service.model.decide import CommandRejected
from order_service.read.notifications import NOTIFIER
from order_service.read.projections import contents, rebuild
from order_service.read.queries import OrderSummary
from order_service.read.read_model import open_read_model
from order_service.write.handlers import load_order
from order_service.write.temporal import order_as_of

DEMO_SNAPSHOT_EVERY = 3
"""The demo's snapshot policy: low, so that #1001's short story shows a snapshot being taken.

The service's default is `handlers.SNAPSHOT_EVERY`."""


class DemoClock:
    """A clock that says what it is told: each step of the story sets the time."""

    def __init__(self, now: str) -> None:
        self.now = now

    def __call__(self) -> str:
        return self.now


class DemoIds:
    """Event and command ids that count up: 00000000-0000-4000-8000-000000000001, ..."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"{self.prefix}-0000-4000-8000-{self.count:012d}"


def _line(sku: str, quantity: int, amount: str) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price": {"amount": amount, "currency": "EUR"}}


def describe(summary: OrderSummary | None) -> str:
    """One line for an order summary, as the demo prints it."""
    if summary is None:
        return "not in the read model"
    times = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("placed", summary.placed_at),
            ("paid", summary.paid_at),
            ("shipped", summary.shipped_at),
            ("delivered", summary.delivered_at),
            ("cancelled", summary.cancelled_at),
        )
        if value is not None
    )
    return (
        f"#{summary.order_id} {summary.status} (version {summary.last_version}): "
        f"{summary.customer_id}, {summary.total_amount} {summary.currency}, "
        f"{summary.item_count} items ({', '.join(summary.skus)})\n      {times}"
    )


class _Story:
    """The demo's narrator: runs each step on the service and prints what happened."""

    def __init__(self, service: OrderService, clock: DemoClock, out: TextIO) -> None:
        self.service = service
        self.clock = clock
        self.out = out
        self.commands = DemoIds("c0000000")
        self.step = 0

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def heading(self, box: str, text: str) -> None:
        self.step += 1
        self.say()
        self.say(f"[{self.step}] {box}: {text}")

    def command(self, at: str, kind: type[Command], **fields: Any) -> int | None:
        self.clock.now = at
        command = kind(command_id=self.commands(), **fields)
        self.heading("Client -> Command Handler", f"{command.type} #{command.order_id} at {at}")
        before = load_order(self.service.store, command.order_id).version
        try:
            version = self.service.handle(command)
        except CommandRejected as rejected:
            after = load_order(self.service.store, command.order_id).version
            self.say(f"    rejected: {rejected}")
            self.say(
                f"    Write DB: nothing appended (#{command.order_id} still at version {after})"
            )
            return None
        for event in self.service.store.load(command.order_id, after_version=before):
            self.say(f"    Write DB: appended version {event['version']} {event['event_type']}")
            self.say(f"      event_id {event['event_id']}")
            self.say(f"      data {json.dumps(event['data'], separators=(',', ':'))}")
        self.say(f"    outbox: {self.service.relay.pending()} event(s) wait for the relay")
        snapshot = self.service.store.latest_snapshot(command.order_id)
        if snapshot is not None and snapshot.version == version:
            self.say(
                f"    snapshot: state saved at version {version} "
                f"(demo policy: every {DEMO_SNAPSHOT_EVERY} events)"
            )
        return version

    def relay(self, at: str) -> None:
        self.clock.now = at
        published = self.service.relay.run_once()
        self.heading("Outbox relay -> Event Bus", f"published {published} event(s) at {at}")
        self.service.catch_up()  # what each subscription worker does when the bus wakes it
        for status in self.service.status():
            self.say(f"    Event Handler {status.subscriber}: read the store from its "
                     f"tracking record up to position {status.position}, "
                     f"{len(status.parked)} parked")  # fmt: skip

    def get(self, order_id: str, note: str = "") -> None:
        self.heading("Client -> Query Handler", f"get #{order_id}{note}")
        self.say(f"    {describe(self.service.queries.get(order_id))}")

    def search(self, **filters: Any) -> None:
        shown = ", ".join(f"{key}={value}" for key, value in filters.items())
        self.heading("Client -> Query Handler", f"search {shown}")
        for summary in self.service.queries.search(**filters):
            self.say(f"    {describe(summary)}")


def _refuse_existing(*databases: Backend) -> None:
    for db in databases:
        if db.holds():
            what = "file" if db.name == "sqlite" else "schema"
            raise FileExistsError(
                f"{db}: the demo writes a fresh database and this {what} exists; "
                f"give a new --db {'path' if what == 'file' else '?schema='} or delete the {what}"
            )


def run_demo(write_db: str | Path | Backend, out: TextIO) -> None:
    """Run #1001's story on a fresh write database (and its read database) and narrate it.

    `write_db` is a SQLite file or a `postgresql://` URL (its `?schema=` must not exist yet).
    """
    write_db = open_backend(write_db)
    replay_db = write_db.sibling("replay")
    _refuse_existing(write_db, read_db_for(write_db), write_db.sibling(NOTIFIER), replay_db)
    clock = DemoClock("2026-11-02T09:15:00Z")
    service = bootstrap(
        write_db, clock=clock, new_id=DemoIds("00000000"), snapshot_every=DEMO_SNAPSHOT_EVERY
    )
    story = _Story(service, clock, out)
    try:
        _tell(story, service, replay_db)
    finally:
        service.close()


def _tell(story: _Story, service: OrderService, replay_db: Backend) -> None:
    say = story.say
    say("orders demo: order #1001 from command to query, with fixed ids and clock")
    say(f"Write DB: {service.write_db.label} (order_events, outbox, order_snapshots)")
    say(f"Read DB:  {service.read_db.label} (order_summary, the projector's tracking record)")
    notifier_db = service.subscriber_dbs[NOTIFIER]
    say(f"Notifier DB: {notifier_db.label} (notifications, the notifier's tracking record)")

    story.command(
        "2026-11-02T09:15:00Z", PlaceOrder, order_id="1001", customer_id="C-0042",
        lines=[_line("RETRO-CLOCK", 1, "79.99"), _line("BRASS-KEY", 2, "24.99")],
    )  # fmt: skip
    story.command(
        "2026-11-02T09:17:30Z", PlaceOrder, order_id="1002", customer_id="C-0077",
        lines=[_line("RETRO-CLOCK", 2, "79.99")],
    )  # fmt: skip
    story.relay("2026-11-02T09:17:31Z")
    story.get("1001")

    paid = story.command(
        "2026-11-02T09:21:40Z", PayOrder, order_id="1001", payment_id="PAY-7731",
        amount={"amount": "129.97", "currency": "EUR"},
    )  # fmt: skip
    if paid is None:  # story.command printed the refusal; the rest of the story needs the payment
        raise RuntimeError("the demo's PayOrder for #1001 was refused: the story stops here")
    story.get("1001", ", before the relay has run: the read model is behind")
    waited = service.queries.wait_for("1001", paid, timeout=0)
    say(f"    read-your-writes: wait for version {paid} (timeout 0 s) -> "
        f"{'reached' if waited.reached else 'not reached'}, read model at version "
        f"{waited.seen_version}")  # fmt: skip
    story.relay("2026-11-02T09:21:41Z")
    waited = service.queries.wait_for("1001", paid, timeout=1)
    say(f"    read-your-writes: wait for version {paid} -> "
        f"{'reached' if waited.reached else 'not reached'}")  # fmt: skip
    story.get("1001", ", after the projection caught up")

    story.command(
        "2026-11-03T14:02:11Z", ShipOrder, order_id="1001", carrier="DHL",
        tracking_number="JD014600006281230704",
    )  # fmt: skip
    story.command("2026-11-03T15:00:00Z", CancelOrder, order_id="1001", reason="customer_request")
    story.command("2026-11-03T15:05:00Z", CancelOrder, order_id="1002", reason="out_of_stock")

    loaded = load_order(service.store, "1001")
    story.heading("Command Handler", "load #1001 before the next command")
    say(f"    from the snapshot at version {loaded.snapshot_version} "
        f"+ {loaded.events_folded} event(s) after it: "
        f"{loaded.state.status if loaded.state else 'no such order'} "
        f"at version {loaded.version}")  # fmt: skip
    story.command(
        "2026-11-05T10:30:00Z", DeliverOrder, order_id="1001",
        tracking_number="JD014600006281230704",
    )  # fmt: skip
    story.relay("2026-11-05T10:30:01Z")
    for message in service.notifier.sent():
        say(f"    shipping notifier sent: {message}")

    story.get("1001")
    story.search(customer_id="C-0042")
    story.search(sku="RETRO-CLOCK")
    story.search(status="cancelled")
    story.search(placed_from="2026-11-02T09:16:00Z", placed_before="2026-11-03")

    sent_before = len(service.notifier.sent())
    with closing(open_read_model(replay_db)) as fresh:
        replayed = rebuild(service.store, fresh, clock=service.clock)
        story.heading("Replay", f"rebuild the read model from nothing into {replay_db.label}")
        say(f"    replayed {replayed} events from order_events")
        with closing(open_read_model(service.read_db)) as live:
            same = contents(fresh) == contents(live)
        say(f"    same rows as the incrementally built read model: {'yes' if same else 'NO'}")
    say(f"    notifications sent during the replay: {len(service.notifier.sent()) - sent_before}")

    story.heading("Temporal query", "#1001 as it was, folded from order_events")
    for label, as_of in (
        ("at version 2", order_as_of(service.store, "1001", version=2)),
        ("at 2026-11-03T00:00:00Z", order_as_of(service.store, "1001", at="2026-11-03T00:00:00Z")),
    ):
        say(f"    {label}: {_state_line(as_of.to_dict()) if as_of else 'no such order'}")


def _state_line(state: Mapping[str, Any]) -> str:
    total = state["total"]
    return (
        f"{state['status']} (version {state['version']}), {total['amount']} {total['currency']}, "
        f"payment {state['payment_id']}, tracking {state['tracking_number']}"
    )
