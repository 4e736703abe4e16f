"""The Write DB box: an append-only event store, with its outbox and snapshots.

It runs on SQLite (the default) or PostgreSQL: the backend (`order_service.infra.database`)
connects and holds what differs. The DDL is `event_store.sql` or `event_store.pg.sql`, the
files the site shows. `append` is the only way in: it checks
the expected version (optimistic concurrency), stores each event and its outbox row in one
transaction, and stores an event id once however often it is appended.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic_core import from_json, to_json

from order_service.infra.clock import TIMESTAMP_FORMAT
from order_service.infra.database import Backend, open_backend
from order_service.model import upcasting
from order_service.model.fold import CURRENT_SCHEMA_VERSIONS
from order_service.model.snapshots import Snapshot

log = logging.getLogger(__name__)

Event = dict[str, Any]
"""An event envelope as a plain dict: the shape of the JSON contract."""

EVENT_COLUMNS = (
    "event_id, order_id, version, event_type, schema_version, data, metadata, occurred_at"
)


COMMAND_ID_LIFETIME = timedelta(hours=24)
"""How long a carried-out command id (an `Idempotency-Key`) is remembered, at least.

Counted from when the store recorded the command's events. After it, `append` deletes the id
(at most `PRUNE_EVERY` later on each store that appends; `orders prune-keys` does it at once),
and a command sent with it again is decided again, as a new one. So the `commands` table holds
about a lifetime of commands, not every command ever carried out.
"""

PRUNE_EVERY = timedelta(hours=1)
"""How often a store deletes forgotten command ids, at most."""


def _shifted(timestamp: str, by: timedelta) -> str:
    """An RFC 3339 UTC timestamp moved by `by`, in the same text form (it compares as text)."""
    moment = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return (moment + by).strftime(TIMESTAMP_FORMAT)


class ConcurrencyError(Exception):
    """Another writer appended to the order since it was loaded; nothing was written.

    Reload the order and decide again: the command may still be valid, or may not be.
    """

    def __init__(self, order_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"order {order_id}: expected version {expected}, but the stream is at version "
            f"{actual}; nothing was appended (reload the order and retry)"
        )
        self.order_id = order_id
        self.expected = expected
        self.actual = actual


_RETRY_KEYS = ("event_type", "schema_version", "occurred_at", "data", "metadata")
"""What a retried event must repeat, besides its id, order and version, to count as the same."""


class CommandIdReused(ValueError):
    """A command id already carried out another command; nothing was appended.

    Attributes:
        command_id: The id sent again with a different command.
    """

    def __init__(self, command_id: str, order_id: str) -> None:
        super().__init__(
            f"command {command_id} was already carried out as another command (on order "
            f"{order_id}): a command id names one command only; send a new id"
        )
        self.command_id = command_id
        self.order_id = order_id


class EventIdConflictError(ValueError):
    """An event id is already stored for another event: it cannot be appended again."""


def events_from_rows(rows: Sequence[Any], *, with_metadata: bool = True) -> list[Event]:
    """Turn rows holding `EVENT_COLUMNS` back into envelope dicts, in the same order.

    Each JSON column of all rows is parsed by one `json.loads` of one JSON array: for small
    payloads the cost of a call outweighs the parsing, so this is about twice as fast as a
    call per column. The columns hold valid JSON (a CHECK guarantees it), so joining them
    gives valid JSON. `with_metadata=False` leaves `metadata` out: a fold never reads it.
    """
    if not rows:
        return []
    payloads = json.loads("[" + ",".join([row["data"] for row in rows]) + "]")
    events = [
        {
            "event_id": row["event_id"],
            "event_type": row["event_type"],
            "schema_version": row["schema_version"],
            "order_id": row["order_id"],
            "version": row["version"],
            "occurred_at": row["occurred_at"],
            "data": data,
        }
        for row, data in zip(rows, payloads, strict=True)
    ]
    if with_metadata:
        metadata = json.loads("[" + ",".join([row["metadata"] for row in rows]) + "]")
        for event, meta in zip(events, metadata, strict=True):
            event["metadata"] = meta
    return events


FOLD_COLUMNS = "event_id, version, event_type, schema_version, occurred_at, data"
"""What a fold reads of a stored event: `EVENT_COLUMNS` less `metadata` and the order id."""


def _fold_envelopes(rows: Sequence[tuple[Any, ...]], order_ids: Sequence[str]) -> list[Event]:
    """Envelopes without `metadata` from rows starting with `FOLD_COLUMNS`, in the same order.

    The lean path a replay takes (`load` for one order, `read_all` for the store), so it does
    the least: `order_ids` gives each row's order (for one order, the query's: not a column
    read 10,000 times); the `data` of every row is parsed by one call of pydantic-core's JSON
    parser, faster than `json.loads` here (it shares the repeated keys' strings), same values.
    """
    payloads = from_json("[" + ",".join([row[5] for row in rows]) + "]")
    return [
        {
            "event_id": row[0],
            "event_type": row[2],
            "schema_version": row[3],
            "order_id": order_id,
            "version": row[1],
            "occurred_at": row[4],
            "data": data,
        }
        for row, order_id, data in zip(rows, order_ids, payloads, strict=True)
    ]


def _compact(value: Any) -> str:
    """Compact JSON text (no spaces, UTF-8 kept) for a `data` or `metadata` column.

    pydantic-core's serialiser (pydantic's own engine, already a dependency) writes the same
    text as `json.dumps(value, separators=(",", ":"), ensure_ascii=False)` about four times
    faster: the two columns of an event then cost about 1.2 µs.
    """
    return to_json(value).decode()


class EventStore:
    """The event store on one database: a SQLite file or a PostgreSQL schema.

    One instance holds one connection: give each thread or process its own instance.
    """

    def __init__(
        self,
        path: str | Path | Backend,
        *,
        clock: Callable[[], str],
        validate: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
        read_only: bool = False,
        command_id_lifetime: timedelta = COMMAND_ID_LIFETIME,
    ) -> None:
        """Open (and on first use create) the store.

        Args:
            path: the write database: a SQLite file, a `postgresql://` URL, or a `Backend`.
            clock: returns `recorded_at`, an RFC 3339 UTC timestamp (injected so runs repeat).
            validate: checks one new event at the boundary, raises on a bad one, and returns
                its canonical form, which is what is stored (never the raw input); the
                application passes `events.canonical_event`.
            read_only: open for reading only (temporal queries); `append` then fails.
            command_id_lifetime: how long a carried-out command id is remembered.
        """
        self.db = open_backend(path)
        self.path: Path | None = getattr(self.db, "path", None)  # the SQLite file, if any
        self.clock = clock
        self.validate = validate
        self.command_id_lifetime = command_id_lifetime
        self._next_prune = ""  # the clock's time of the next prune: the first append prunes
        self.conn = self.db.connect(read_only=read_only, by_name=True)  # rows by column name
        if not read_only:
            self.db.create(self.conn, "event_store")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    # --8<-- [start:append]
    def append(
        self,
        events: Sequence[Mapping[str, Any]],
        expected_version: int,
        *,
        command: tuple[str, str] | None = None,
    ) -> int:
        """Append one order's new events if the order is still at `expected_version`.

        Returns the order's version after the append. Raises `ConcurrencyError` (and writes
        nothing) when another writer got there first. Appending events whose ids are all
        stored already (a retried request) changes nothing and returns their last version.

        `command` is the `(command_id, digest)` of the command that produced the events: it is
        recorded in the same transaction. If that command id is recorded already with the same
        digest, nothing is appended and its recorded version is returned (an identical retry
        that lost the race); with another digest, `CommandIdReused` is raised.
        """
        if not events:
            raise ValueError("append needs at least one event")
        if self.validate is not None:
            events = [self.validate(event) for event in events]
        order_id = events[0]["order_id"]
        for offset, event in enumerate(events, start=1):
            if event["order_id"] != order_id:
                raise ValueError(
                    f"event {event['event_id']}: order {event['order_id']} in a batch for "
                    f"order {order_id}: one append writes one order's stream"
                )
            if event["version"] != expected_version + offset:
                raise ValueError(
                    f"event {event['event_id']}: version {event['version']} should be "
                    f"{expected_version + offset} (expected version {expected_version} "
                    f"+ its place in the batch)"
                )
        recorded_at = self.clock()
        rows = [
            (
                e["event_id"],
                order_id,
                e["version"],
                e["event_type"],
                e["schema_version"],
                _compact(e["data"]),
                _compact(e["metadata"]),
                e["occurred_at"],
                recorded_at,
            )
            for e in events
        ]
        try:
            # SQLite: BEGIN IMMEDIATE, every writer queues here. PostgreSQL: writers of this
            # order queue at lock_order, writers of other orders go on.
            with self.db.transaction(self.conn):
                self.db.lock_order(self.conn, order_id)
                if command is not None:
                    done = self.command_version(*command)
                    if done is not None:
                        return done
                actual = self._version(order_id)
                if actual != expected_version:
                    if self._already_stored(events):  # a retried request: its events are in
                        return expected_version + len(events)  # checked above: the last
                    raise ConcurrencyError(order_id, expected_version, actual)
                self.db.lock_positions(self.conn)  # PostgreSQL: commits in position order
                self.conn.executemany(
                    f"INSERT INTO order_events ({EVENT_COLUMNS}, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                # The outbox rows, in the same transaction: no event without its announcement.
                self.conn.execute(
                    "INSERT INTO outbox (position) SELECT position FROM order_events "
                    "WHERE order_id = ? AND version > ? ORDER BY position",
                    (order_id, expected_version),
                )
                if command is not None:
                    self.conn.execute(
                        "INSERT INTO commands (command_id, order_id, digest, version) "
                        "VALUES (?, ?, ?, ?)",
                        (command[0], order_id, command[1], events[-1]["version"]),
                    )
                self.db.notify_append(self.conn)  # PostgreSQL: wakes the relays at the commit
        except self.db.IntegrityError:
            # Rolled back, nothing written. An id taken by another order's writer: say which.
            if command is not None:
                done = self.command_version(*command)  # raises CommandIdReused if another
                if done is not None:  # an identical command committed first: its version
                    return done
            self._already_stored(events)  # raises, naming the event id already taken
            raise
        self._prune_now_and_then(recorded_at)
        return expected_version + len(events)  # each event's version was checked above

    # --8<-- [end:append]

    def command_version(self, command_id: str, digest: str) -> int | None:
        """The version a command left its order at, or None if it was never carried out.

        Raises `CommandIdReused` if `command_id` was carried out with another digest.
        """
        row = self.conn.execute(
            "SELECT order_id, digest, version FROM commands WHERE command_id = ?", (command_id,)
        ).fetchone()
        if row is None:
            return None
        if row["digest"] != digest:
            raise CommandIdReused(command_id, row["order_id"])
        version: int = row["version"]
        return version

    def prune_command_ids(self, now: str | None = None) -> int:
        """Delete the command ids carried out a lifetime before `now`; returns how many.

        A command's time is when the store recorded its last event. `now` is the clock's.
        """
        before = _shifted(self.clock() if now is None else now, -self.command_id_lifetime)
        with self.db.transaction(self.conn):
            cursor = self.conn.execute(
                "DELETE FROM commands WHERE command_id IN (SELECT c.command_id FROM commands AS c "
                "JOIN order_events AS e ON e.order_id = c.order_id AND e.version = c.version "
                "WHERE e.recorded_at < ?)",
                (before,),
            )
            pruned: int = cursor.rowcount
        return pruned

    def _prune_now_and_then(self, now: str) -> None:
        """Prune the forgotten command ids if this store has not done so for `PRUNE_EVERY`."""
        if now < self._next_prune:
            return
        self._next_prune = _shifted(now, PRUNE_EVERY)
        try:
            self.prune_command_ids(now)
        except self.db.Error as error:  # the events are committed; the next prune tries again
            log.warning("command ids not pruned: %s", error)

    def _already_stored(self, events: Sequence[Mapping[str, Any]]) -> bool:
        """True if every event is stored already, as it is; raise if an id is reused."""
        wanted = {e["event_id"]: e for e in events}
        ids = list(wanted)
        stored: dict[str, Event] = {}
        for start in range(0, len(ids), 500):  # SQLite caps the parameters of one statement
            chunk = ids[start : start + 500]
            rows = self.conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM order_events "
                f"WHERE event_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            stored.update((event["event_id"], event) for event in events_from_rows(rows))
        for event_id, event in stored.items():
            new = wanted[event_id]
            if (event["order_id"], event["version"]) != (new["order_id"], new["version"]):
                raise EventIdConflictError(
                    f"event {event_id} is already stored as order {event['order_id']} version "
                    f"{event['version']}: an event id names one event only"
                )
            # Same place, other content: not a retry of this event but another one under its id.
            if any(event[key] != new[key] for key in _RETRY_KEYS):
                raise EventIdConflictError(
                    f"event {event_id} is already stored as order {event['order_id']} version "
                    f"{event['version']} with other content: an event id names one event only"
                )
        if stored and len(stored) != len(wanted):
            missing = sorted(set(wanted) - set(stored))
            raise EventIdConflictError(
                f"order {events[0]['order_id']}: events {sorted(stored)} are stored but "
                f"{missing} are not: a batch is appended whole or not at all"
            )
        return bool(stored)

    def _version(self, order_id: str) -> int:
        version: int
        (version,) = self.conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM order_events WHERE order_id = ?",
            (order_id,),
        ).fetchone()
        return version

    def load(
        self,
        order_id: str,
        *,
        after_version: int = 0,
        upto_version: int | None = None,
        with_metadata: bool = True,
        upcast: bool = False,
    ) -> list[Event]:
        """One order's events in version order, optionally only a slice of them.

        Args:
            order_id: the stream.
            after_version: skip the events up to this version (those a snapshot holds).
            upto_version: stop after this version (a temporal query by version).
            with_metadata: False leaves `metadata` out of each envelope (a fold ignores it).
            upcast: True returns every event at its type's current schema version, upcasting
                on the way out only the rows stored at an older one (see `upcasting`).
        """
        columns = EVENT_COLUMNS if with_metadata else FOLD_COLUMNS
        sql = f"SELECT {columns} FROM order_events WHERE order_id = ? AND version > ?"
        params: list[Any] = [order_id, after_version]
        if upto_version is not None:
            sql += " AND version <= ?"
            params.append(upto_version)
        if with_metadata:
            rows = self.conn.execute(sql + " ORDER BY version", params).fetchall()
            events = events_from_rows(rows)
            return [upcasting.upcast(e) for e in events] if upcast else events
        cursor = self.conn.cursor()
        cursor.row_factory = None  # plain tuples: a replay reads thousands of rows
        rows = cursor.execute(sql + " ORDER BY version", params).fetchall()
        events = _fold_envelopes(rows, [order_id] * len(rows))
        if upcast:  # only the rows stored at an older schema version are lifted
            current = CURRENT_SCHEMA_VERSIONS.get
            for index in [i for i, row in enumerate(rows) if current(row[2]) != row[3]]:
                events[index] = upcasting.upcast(events[index])
        return events

    def read_all(
        self, *, after_position: int = 0, with_metadata: bool = True, limit: int | None = None
    ) -> Iterator[tuple[int, Event]]:
        """Every stored event with its global position, in position order: what a replay reads.

        `with_metadata=False` leaves `metadata` out of each envelope: a replay that never
        reads it (a projection's rebuild) saves a column and a JSON decode per event, and
        gets its rows as plain tuples. `limit` reads at most that many events (a subscription
        behind by many events then fetches one batch, not its whole backlog).
        """
        last = "" if limit is None else f" LIMIT {int(limit)}"
        if with_metadata:
            cursor = self.conn.execute(
                f"SELECT {EVENT_COLUMNS}, position FROM order_events "
                f"WHERE position > ? ORDER BY position{last}",
                (after_position,),
            )
            while rows := cursor.fetchmany(1000):
                events = events_from_rows(rows)
                yield from zip([row["position"] for row in rows], events, strict=True)
            return
        cursor = self.conn.cursor()
        cursor.row_factory = None  # plain tuples: a rebuild reads every row of the store
        result = cursor.execute(
            f"SELECT {FOLD_COLUMNS}, order_id, position FROM order_events "
            f"WHERE position > ? ORDER BY position{last}",
            (after_position,),
        )
        while rows := result.fetchmany(1000):
            envelopes = _fold_envelopes(rows, [row[6] for row in rows])
            yield from zip([row[7] for row in rows], envelopes, strict=True)

    # --- the outbox: its rows are written by `append`; the relay reads and marks them here ---

    def transaction(self) -> AbstractContextManager[Any]:
        """One write transaction on this store's connection (the relay's batch)."""
        return self.db.transaction(self.conn)

    # --8<-- [start:unsent]
    def unsent(self, *, limit: int | None = None) -> list[tuple[int, Event]]:
        """Up to `limit` events not yet published, with their positions, in position order.

        Inside `transaction()` the rows are claimed until it ends: on PostgreSQL another relay
        skips them (`FOR UPDATE SKIP LOCKED`), and an order's later rows are left out while
        another relay holds its earlier ones, so each order reaches the bus in version order.
        """
        rows = self.conn.execute(
            f"SELECT {EVENT_COLUMNS}, e.position AS position FROM outbox AS o "
            "JOIN order_events AS e ON e.position = o.position "
            "WHERE o.sent_at IS NULL ORDER BY o.position"
            + ("" if limit is None else f" LIMIT {int(limit)}")
            + self.db.claim
        ).fetchall()
        if self.db.concurrent_writers:
            rows = self._first_in_their_orders(rows)
        events = events_from_rows(rows)
        return [(row["position"], event) for row, event in zip(rows, events, strict=True)]

    def _first_in_their_orders(self, rows: list[Any]) -> list[Any]:
        """The claimed rows that no unsent row claimed by another relay precedes in its order."""
        if not rows:
            return rows
        mine = {row["position"] for row in rows}
        unsent = self.conn.execute(
            "SELECT e.order_id AS order_id, o.position AS position FROM outbox AS o "
            "JOIN order_events AS e ON e.position = o.position "
            "WHERE o.sent_at IS NULL AND e.order_id = ANY(?) AND o.position <= ? "
            "ORDER BY o.position",
            (sorted({row["order_id"] for row in rows}), max(mine)),
        ).fetchall()
        held_elsewhere: dict[str, int] = {}  # each order's first unsent row another relay holds
        for row in unsent:
            if row["position"] not in mine:
                held_elsewhere.setdefault(row["order_id"], row["position"])
        return [
            row
            for row in rows
            if row["position"] < held_elsewhere.get(row["order_id"], row["position"] + 1)
        ]

    # --8<-- [end:unsent]

    def mark_sent(self, position: int, sent_at: str) -> None:
        """Record that the event at `position` was published at `sent_at`."""
        self.conn.execute("UPDATE outbox SET sent_at = ? WHERE position = ?", (sent_at, position))

    def pending(self) -> int:
        """How many outbox rows wait to be published."""
        count: int
        (count,) = self.conn.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return count

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Keep `snapshot` as the order's latest, unless a later one is stored already."""
        with self.db.transaction(self.conn):
            self.conn.execute(
                "INSERT INTO order_snapshots (order_id, version, reducer_version, state, taken_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET"
                " version = excluded.version, reducer_version = excluded.reducer_version,"
                " state = excluded.state, taken_at = excluded.taken_at"
                " WHERE excluded.version > order_snapshots.version",
                (
                    snapshot.order_id,
                    snapshot.version,
                    snapshot.reducer_version,
                    _compact(dict(snapshot.state)),
                    self.clock(),
                ),
            )

    def latest_snapshot(self, order_id: str) -> Snapshot | None:
        """The order's latest snapshot, whatever reducer made it (the caller decides trust)."""
        row = self.conn.execute(
            "SELECT order_id, version, reducer_version, state FROM order_snapshots "
            "WHERE order_id = ?",
            (order_id,),
        ).fetchone()
        if row is None:
            return None
        # pydantic-core parses a state of a hundred lines about twice as fast as `json.loads`.
        return Snapshot(
            row["order_id"], row["version"], row["reducer_version"], from_json(row["state"])
        )
