"""The Command Handler box: load the order, decide, append with the expected version.

Loading starts from the order's latest snapshot (if this reducer made it) and folds only the
events after it. Snapshots are a cache: the policy below takes one every `SNAPSHOT_EVERY`
events, and dropping them all changes no result, only how many events a load folds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from order_service.model.commands import Command, command_digest
from order_service.model.decide import CommandRejected, decide
from order_service.model.fold import OrderState, fold
from order_service.model.snapshots import REDUCER_VERSION, resume, take_snapshot
from order_service.write.store import ConcurrencyError, EventStore

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 100
"""Snapshot policy: save the state each time an order's version reaches a multiple of 100.

An order's stream is short (four to a few dozen events), so most orders never get one: the
performance page measures where a snapshot starts to pay. `orders demo` passes a lower value
(`demo.DEMO_SNAPSHOT_EVERY`) so that #1001's story shows one being taken."""


@dataclass(frozen=True)
class LoadedOrder:
    """An order's current state and how it was loaded."""

    order_id: str
    state: OrderState | None
    """None if the order has no events."""
    snapshot_version: int
    """The version of the snapshot the load started from; 0 if it replayed from the start."""
    events_folded: int
    """How many events were folded on top of the snapshot (or from the start)."""

    @property
    def version(self) -> int:
        """The order's version: the expected version of the next append."""
        return 0 if self.state is None else self.state.version


def load_order(store: EventStore, order_id: str) -> LoadedOrder:
    """Fold the order from its latest trusted snapshot plus the events after it."""
    snapshot = store.latest_snapshot(order_id)
    if snapshot is not None and snapshot.reducer_version == REDUCER_VERSION:
        events = store.load(
            order_id, after_version=snapshot.version, with_metadata=False, upcast=True
        )
        state = resume(snapshot, events)
        return LoadedOrder(order_id, state, snapshot.version, len(events))
    # No snapshot, or one from another reducer version: resume logs it and replays everything.
    events = store.load(order_id, with_metadata=False, upcast=True)
    return LoadedOrder(order_id, resume(snapshot, events), 0, len(events))


class CommandHandler:
    """Handle commands against one event store; call it with a command.

    Commands are idempotent: each is recorded by its `command_id` with the events it caused,
    in one transaction, so a command sent again returns the version it left the order at and
    appends nothing, whatever happened to the order since. The same id with another command
    raises `CommandIdReused`.

    Commands are not retried here: a `ConcurrencyError` reaches the caller, who may send the
    command again (it is then decided against the newer state).
    """

    def __init__(
        self,
        store: EventStore,
        *,
        new_id: Callable[[], str],
        clock: Callable[[], str],
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.store = store
        self.new_id = new_id
        self.clock = clock
        self.snapshot_every = snapshot_every

    # --8<-- [start:handle]
    def __call__(self, command: Command, *, expected_version: int | None = None) -> int:
        """Carry out `command`; return the order's version after it (read-your-writes token).

        `expected_version` is the version the client decided on (HTTP `If-Match`): if the
        order is at another one, `ConcurrencyError` is raised and nothing is appended.

        Raises `CommandRejected` (a domain rule), `ConcurrencyError` (another writer won),
        `CommandIdReused` (the command id was used for another command).
        """
        carried_out = (command.command_id, command_digest(command))
        done = self.store.command_version(*carried_out)
        if done is not None:  # sent again (a lost response): the first result, nothing new
            return done
        loaded = load_order(self.store, command.order_id)
        if expected_version is not None and loaded.version != expected_version:
            raise ConcurrencyError(command.order_id, expected_version, loaded.version)
        try:
            events = decide(loaded.state, command, new_id=self.new_id, now=self.clock())
        except CommandRejected:
            # An identical copy of this command may have committed since the check above (two
            # retries racing): then this one succeeded too, and gets the winner's version.
            done = self.store.command_version(*carried_out)
            if done is not None:
                return done
            raise
        version = self.store.append(events, expected_version=loaded.version, command=carried_out)
        crossed = version // self.snapshot_every > loaded.version // self.snapshot_every
        if crossed and version == events[-1]["version"]:
            state = cast(OrderState, fold(events, loaded.state))  # events is not empty
            try:
                self.store.save_snapshot(take_snapshot(state))
            except self.store.db.Error as error:
                # The events are committed: the command succeeded. Raising now would make the
                # client retry it (AddOrderItem twice); a missing snapshot only costs a replay.
                log.warning("order %s: snapshot not saved: %s", command.order_id, error)
        return version

    # --8<-- [end:handle]
