"""What the reliability tests run in threads and separate processes.

It lives outside the test modules so that a spawned process can import it cheaply.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from order_service.app import bootstrap
from order_service.bus.subscription import Subscription
from order_service.infra.clock import utc_now
from order_service.model.commands import AddOrderItem
from order_service.model.decide import decide
from order_service.model.events import canonical_event
from order_service.read.read_model import open_read_model
from order_service.write.handlers import CommandHandler, load_order
from order_service.write.store import ConcurrencyError, EventStore

MAX_RETRIES = 200


def _validate(event: Any) -> dict[str, Any]:
    return canonical_event(event)


def race(write_db: str, writer: int, barrier: Any, results: Any) -> None:
    """Load #1001, wait for every writer at the barrier, append one line, retry if beaten.

    Puts (writer, "won" or "lost", attempts, final version) on `results`.
    """
    store = EventStore(write_db, clock=utc_now, validate=_validate)
    try:
        command = AddOrderItem(
            order_id="1001",
            line={"sku": f"PART-{writer}", "quantity": 1,
                  "unit_price": {"amount": "1.00", "currency": "EUR"}},
        )  # fmt: skip
        loaded = load_order(store, "1001")
        events = decide(loaded.state, command, new_id=lambda: str(uuid.uuid4()), now=utc_now())
        barrier.wait(timeout=60)  # every writer has loaded the same version before anyone appends
        try:
            version = store.append(events, expected_version=loaded.version)
            results.put((writer, "won", 1, version))
            return
        except ConcurrencyError:
            pass
        handle = CommandHandler(store, new_id=lambda: str(uuid.uuid4()), clock=utc_now)
        for attempt in range(2, MAX_RETRIES + 2):
            try:
                version = handle(command)
            except ConcurrencyError:
                continue
            results.put((writer, "lost", attempt, version))
            return
        results.put((writer, "gave up", MAX_RETRIES + 1, None))
    except BaseException as error:  # reported, so the test fails with it instead of hanging
        results.put((writer, f"error: {error!r}", 0, None))
    finally:
        store.close()


def send_when_released(write_db: str, command: Any, barrier: Any, results: Any) -> None:
    """Wait for every sender at the barrier, then send `command` (one id, sent by all).

    Puts ("ok", version) or ("error: ...", None) on `results`.
    """
    store = EventStore(write_db, clock=utc_now, validate=_validate)
    try:
        handle = CommandHandler(store, new_id=lambda: str(uuid.uuid4()), clock=utc_now)
        barrier.wait(timeout=60)
        for _ in range(MAX_RETRIES):
            try:
                results.put(("ok", handle(command)))
                return
            except ConcurrencyError:  # another command moved the order on: decide again
                continue
        results.put(("gave up", None))
    except BaseException as error:  # reported, so the test fails with it instead of hanging
        results.put((f"error: {error!r}", None))
    finally:
        store.close()


def crash_after_publishing(write_db: str, command: Any) -> None:
    """Handle `command`, project and publish it, and die (os._exit) before marking it sent."""

    class DieAfterPublishing:
        def publish(self, event: Any, position: int) -> None:
            os._exit(17)

    service = bootstrap(write_db, clock=lambda: "2026-11-02T09:15:00Z")
    service.handle(command)
    service.catch_up()
    service.relay.publisher = DieAfterPublishing()
    service.relay.run_once()
    raise AssertionError("the process should have died in the relay")


AUDIT_TABLE = (
    "CREATE TABLE IF NOT EXISTS audit (position BIGINT PRIMARY KEY, event_id TEXT NOT NULL)"
)


class Audit:
    """A subscriber that writes one row per event, keyed by position: a second apply fails."""

    name = "audit"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def apply(self, event: Any, position: int) -> None:
        self.conn.execute(
            "INSERT INTO audit (position, event_id) VALUES (?, ?)", (position, event["event_id"])
        )


def subscribe_until_killed(
    write_db: str, name: str, committed: int, kill_at: int, inside: Any
) -> None:
    """Run subscriber `name` (`audit` or `order_summary`): commit the first `committed` events,
    then take the rest in one transaction; inside the event at `kill_at`, after its writes, set
    `inside` and wait to be killed (SIGKILL)."""
    service = bootstrap(write_db, clock=lambda: "2026-11-02T09:15:00Z")
    if name == "audit":
        subscription = Subscription(
            EventStore(write_db, clock=service.clock),
            Audit(open_read_model(service.read_db)),
            clock=service.clock,
        )
    else:
        subscription = service.subscriptions[name]
    apply = subscription.subscriber.apply

    def apply_then_hang(event: Any, position: int) -> None:
        apply(event, position)
        if position == kill_at:
            inside.set()
            time.sleep(600)  # mid-batch, mid-transaction: the parent kills the process here

    subscription.subscriber.apply = apply_then_hang
    apply_batch = getattr(subscription.subscriber, "apply_batch", None)
    if apply_batch is not None:  # the projector applies a batch at once: die after all of it

        def apply_batch_then_hang(events: Any) -> Any:
            refused = apply_batch(events)
            if any(position == kill_at for position, _ in events):
                inside.set()
                time.sleep(600)
            return refused

        subscription.subscriber.apply_batch = apply_batch_then_hang
    subscription.transaction_seconds = 600  # the second transaction takes every event left
    subscription.run_once(limit=committed)
    subscription.handle(list(subscription.store.read_all(after_position=committed)))
    raise AssertionError("the process should have been killed inside its batch")
