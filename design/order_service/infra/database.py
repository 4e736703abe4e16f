"""Where the design's two databases live: a SQLite file (the default) or a PostgreSQL schema.

Every part opens its database through a `Backend`, so the store, outbox, projector and
queries are written once. What must differ is here and in `order_service.infra.postgres`: how to
connect, the DDL file (`event_store.sql` or `event_store.pg.sql`...), how a transaction
starts, and a few dialect pieces (a per-order lock, the relay's `SKIP LOCKED` claim).
SQL shared by both backends uses `?` and `:name` parameters, SQLite's style.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from order_service.model.fold import STATUSES

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a writer waits for another writer's lock before SQLite raises `database is locked`."""


def connect(path: str | Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a SQLite file in autocommit mode; transactions are begun explicitly.

    Args:
        path: the database file. A writer creates it; a reader needs it to exist.
        read_only: open with a `mode=ro` URI, so that any write fails in SQLite itself.

    Rows come back as tuples (the fastest form); set `row_factory` where names read better.
    The connection may be handed to another thread (`check_same_thread=False`), but it must
    be used by one thread at a time: each worker thread of the design owns its connections.
    """
    if read_only:
        uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_SECONDS,
            check_same_thread=False,
            factory=_Connection,
        )
    else:
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_SECONDS,
            check_same_thread=False,
            factory=_Connection,
        )
        # WAL lets readers read while one writer writes; NORMAL syncs at checkpoints, which
        # survives a crash of the process (not necessarily a power cut) and is WAL's advice.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class _Connection(sqlite3.Connection):
    """A `sqlite3.Connection` that knows its `Backend` (as a PostgreSQL connection does)."""

    backend: Backend


def backend_of(conn: Any) -> Backend:
    """The backend a connection was opened by (its transactions and dialect pieces)."""
    backend: Backend | None = getattr(conn, "backend", None)
    if backend is None:
        raise TypeError(f"{conn!r} was not opened by a Backend: open it with Backend.connect()")
    return backend


DDL_FOLDERS = {
    "event_store": "write", "read_model": "read", "subscription": "bus", "notifications": "read",
}  # fmt: skip
"""Where each schema's DDL files live: in the folder of the box that owns its tables."""


DDL_LISTS = {":STATUSES": STATUSES}
"""The lists a DDL file names rather than copies: each `:NAME` is put in as SQL string literals."""


def sql_text(sql_file: str) -> str:
    """The DDL of a file shipped in this package (`event_store.sql`, `read_model.pg.sql`).

    A `:NAME` of `DDL_LISTS` in the file becomes its list, so `CHECK (status IN (:STATUSES))`
    checks the model's statuses, written once in `model.fold`.
    """
    folder = DDL_FOLDERS[sql_file.split(".", 1)[0]]
    text = files("order_service").joinpath(folder, sql_file).read_text(encoding="utf-8")
    for name, values in DDL_LISTS.items():
        text = text.replace(name, ", ".join(f"'{value}'" for value in values))
    return text


def run_script(conn: sqlite3.Connection, sql_file: str) -> None:
    """Run a DDL file shipped in this package (`event_store.sql`, `read_model.sql`)."""
    conn.executescript(sql_text(sql_file))


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[None]:
    """Run the block in one transaction: commit at the end, roll back on any exception.

    `BEGIN IMMEDIATE` takes the write lock at the start, so concurrent writers queue up
    (for up to `BUSY_TIMEOUT_SECONDS`) instead of failing half-way with a lock upgrade error.
    """
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Backend:
    """One database of the design, and how to talk to it. `str()` gives its `--db` form.

    Attributes:
        name: `sqlite` or `postgresql`.
        Error: the driver's base error class (`sqlite3.Error`, `psycopg.Error`).
        IntegrityError: what a refused constraint raises.
        concurrent_writers: False if the database serialises every writer (SQLite); True if
            writers of different orders run at once (PostgreSQL), so that positions can
            commit out of order and relays must claim rows.
    """

    name: str
    Error: type[Exception]
    IntegrityError: type[Exception]
    concurrent_writers: bool

    def connect(self, *, read_only: bool = False, by_name: bool = False) -> Any:
        """A connection whose `execute` returns a cursor; rows by column name if `by_name`."""
        raise NotImplementedError

    def create(self, conn: Any, schema: str) -> None:
        """Create the tables of `schema` (`event_store` or `read_model`) if they are missing."""
        raise NotImplementedError

    def transaction(self, conn: Any) -> AbstractContextManager[None]:
        """One write transaction: committed at the end of the block, rolled back on error."""
        raise NotImplementedError

    def exists(self) -> bool:
        """True if the database holds the event store's `order_events` table."""
        raise NotImplementedError

    def holds(self) -> bool:
        """True if the database exists at all (a file, a schema), whatever it holds."""
        raise NotImplementedError

    def sibling(self, kind: str) -> Backend:
        """Another database beside this one: `orders.read.db`, or the schema `orders_read`."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """A short name for output: the file's name, or `schema NAME`."""
        raise NotImplementedError

    def lock_order(self, conn: Any, order_id: str) -> None:
        """Inside a write transaction, make other writers of this order wait until it ends."""

    def lock_positions(self, conn: Any) -> None:
        """Inside an append, before its INSERT: positions then commit in position order.

        A catch-up subscription reads the events after its position; had a later position
        committed before an earlier one, it would step over the earlier one for good.
        """

    def lock_read_model(self, conn: Any) -> None:
        """Inside a transaction, keep projectors out of the read model until it ends."""

    def notify_append(self, conn: Any) -> None:
        """Inside an append's transaction: tell listening relays at the commit (PostgreSQL)."""

    def listen(self, conn: Any) -> None:
        """Make `wait_for_append` on this connection wake at an append's commit, if it can."""

    def wait_for_append(self, conn: Any, timeout: float, stop: threading.Event) -> None:
        """Wait up to `timeout` seconds, less if an append commits (PostgreSQL) or `stop` is set."""
        stop.wait(timeout)

    def wake(self) -> None:
        """Wake every relay waiting in `wait_for_append` (PostgreSQL; SQLite polls)."""

    def is_broken(self, conn: Any) -> bool:
        """True if `conn` is known to be closed or lost (a server restart): do not use it."""
        return False

    def reconnect(self, conn: Any) -> None:
        """Replace a lost connection under `conn` in place, so every holder keeps using `conn`.

        A SQLite file needs no server, so its connections are never lost: nothing to do.
        Raises the driver's error if the database is still away.
        """

    for_update = ""
    """Appended to a SELECT whose rows the transaction is about to write."""

    claim = ""
    """Appended to the relay's SELECT of unsent rows: rows another relay holds are skipped."""


class SQLite(Backend):
    """A SQLite file: one writer at a time (`BEGIN IMMEDIATE`), which orders every commit."""

    name = "sqlite"
    Error = sqlite3.Error
    IntegrityError = sqlite3.IntegrityError
    concurrent_writers = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:  # a SQLite backend is its file: open(), sqlite3.connect()
        return str(self.path)

    def __repr__(self) -> str:
        return f"SQLite({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SQLite) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def connect(self, *, read_only: bool = False, by_name: bool = False) -> sqlite3.Connection:
        conn = connect(self.path, read_only=read_only)
        conn.backend = self  # type: ignore[attr-defined]  # a _Connection, typed as its base class
        if by_name:
            conn.row_factory = sqlite3.Row
        return conn

    def create(self, conn: sqlite3.Connection, schema: str) -> None:
        run_script(conn, f"{schema}.sql")

    def transaction(self, conn: sqlite3.Connection) -> AbstractContextManager[None]:
        return transaction(conn)

    def exists(self) -> bool:
        if not self.path.is_file():
            return False
        try:
            with _closing(connect(self.path, read_only=True)) as conn:
                found = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'order_events'"
                ).fetchone()
        except sqlite3.DatabaseError:
            return False
        return found is not None

    def holds(self) -> bool:
        return self.path.exists()

    @property
    def label(self) -> str:
        return self.path.name

    def sibling(self, kind: str) -> SQLite:
        return SQLite(self.path.with_name(f"{self.path.stem}.{kind}{self.path.suffix or '.db'}"))


@contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield conn
    finally:
        conn.close()


def is_unavailable(error: BaseException) -> bool:
    """True if `error` says the database is away or busy (a restart, a refused connection, a
    lock held too long), not that the request was wrong: retry later, the data is intact."""
    if isinstance(error, sqlite3.OperationalError):
        return True
    psycopg = sys.modules.get("psycopg")  # imported only when a URL was given
    return psycopg is not None and isinstance(
        error, (psycopg.OperationalError, psycopg.InterfaceError)
    )


def is_url(text: str | Path) -> bool:
    """True if `text` names a PostgreSQL server rather than a SQLite file."""
    return isinstance(text, str) and text.startswith(("postgresql://", "postgres://"))


def shown(url_or_path: str | Path) -> str:
    """`url_or_path` as it may be printed: a URL's password, if any, replaced by `***`.

    >>> shown("postgresql://shop:s3cret@db.example:5432/orders")
    'postgresql://shop:***@db.example:5432/orders'
    """
    text = str(url_or_path)
    if not is_url(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def open_backend(url_or_path: str | Path | Backend) -> Backend:
    """The backend a `--db` value names: a `postgresql://` URL, else a SQLite file path.

    A URL may end with `?schema=NAME` (default `orders`): the tables live in that schema,
    and the read model in `NAME_read`. Raises `ValueError` naming what is wrong with a URL.
    """
    if isinstance(url_or_path, Backend):
        return url_or_path
    if is_url(url_or_path):
        from order_service.infra.postgres import PostgreSQL  # psycopg: only if a URL is given

        return PostgreSQL.from_url(str(url_or_path))
    return SQLite(url_or_path)
