"""The PostgreSQL backend: the same store, outbox and read model on a server, with psycopg 3.

Writers of different orders commit at once here (SQLite serialises them all), so three
pieces differ: an append takes a per-order advisory lock, the relay claims its rows with
`FOR UPDATE SKIP LOCKED`, and a rebuild locks the read model against the projectors. The
DDL is `event_store.pg.sql` and `read_model.pg.sql`. Queries shared with SQLite are written
with `?` and `:name` parameters and translated here, once per statement text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.string import TextLoader

from order_service.infra.database import Backend, sql_text

DEFAULT_SCHEMA = "orders"
"""The schema a URL without `?schema=` puts its tables in."""

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,50}")


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """SQLite's `?` and `:name` parameters as psycopg's `%s` and `%(name)s`.

    The design's SQL binds every value, so no `?` or `:word` stands inside a string literal;
    SQL that had one would need its own PostgreSQL text.
    """
    sql = sql.replace("%", "%%").replace("?", "%s")
    return re.sub(r"(?<![:\w]):([a-z_]\w*)", r"%(\1)s", sql)


class Row(tuple[Any, ...]):
    """A row as `sqlite3.Row` gives it: by index, by column name, and `**row`."""

    _index: Mapping[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _named_rows(cursor: Any) -> Any:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._index = index
        return row

    return make


class Connection:
    """A psycopg connection that takes the SQL written for SQLite (`?`, `:name`)."""

    def __init__(
        self, raw: psycopg.Connection[Any], backend: PostgreSQL, *, read_only: bool, by_name: bool
    ) -> None:
        self.raw = raw
        self.backend = backend
        self.read_only = read_only
        self.by_name = by_name

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Run one statement; returns the cursor (`fetchone`, `fetchall`, iteration)."""
        return self.raw.execute(_pg_sql(sql), params or None)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Any:
        """Run one statement for each row of parameters."""
        cursor = self.raw.cursor()
        rows = list(rows)
        if rows:
            cursor.executemany(_pg_sql(sql), rows)
        return cursor

    def cursor(self) -> Cursor:
        """A cursor whose rows are plain tuples while its `row_factory` is None, as in sqlite3."""
        return Cursor(self.raw)

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


class Cursor:
    """The part of a `sqlite3.Cursor` the store uses: `row_factory`, then `execute`."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.row_factory: Any = None

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Run one statement; returns the psycopg cursor."""
        factory = tuple_row if self.row_factory is None else _named_rows
        return self.raw.cursor(row_factory=factory).execute(_pg_sql(sql), params or None)


class PostgreSQL(Backend):
    """A schema on a PostgreSQL server; each order's writers wait for each other, no one else."""

    name = "postgresql"
    Error = psycopg.Error
    IntegrityError = psycopg.IntegrityError
    concurrent_writers = True

    def __init__(self, conninfo: str, schema: str = DEFAULT_SCHEMA) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(
                f"schema {schema!r}: use lower-case letters, digits and _ (e.g. ?schema=orders)"
            )
        self.conninfo = conninfo
        self.schema = schema

    @classmethod
    def from_url(cls, url: str) -> PostgreSQL:
        """Read `postgresql://user@host:port/dbname?schema=NAME` (the schema is optional)."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for key, value in query if key == "schema"]
        rest = urlencode([(key, value) for key, value in query if key != "schema"])
        conninfo = urlunsplit(parts._replace(query=rest))
        return cls(conninfo, schemas[-1] if schemas else DEFAULT_SCHEMA)

    def __str__(self) -> str:
        parts = urlsplit(self.conninfo)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("schema", self.schema)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def __repr__(self) -> str:
        return f"PostgreSQL({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PostgreSQL) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash(str(self))

    def connect(self, *, read_only: bool = False, by_name: bool = False) -> Connection:
        return Connection(self._raw(read_only, by_name), self, read_only=read_only, by_name=by_name)

    def _raw(self, read_only: bool, by_name: bool) -> psycopg.Connection[Any]:
        raw = psycopg.connect(
            self.conninfo,
            autocommit=True,  # as SQLite's connections: transactions are begun explicitly
            options=f"-c search_path={self.schema}"
            + (" -c default_transaction_read_only=on" if read_only else ""),
        )
        for json_type in ("json", "jsonb"):  # JSON columns come back as their text, as in SQLite
            raw.adapters.register_loader(json_type, TextLoader)
        if by_name:
            raw.row_factory = _named_rows
        return raw

    def is_broken(self, conn: Connection) -> bool:
        return conn.raw.closed or conn.raw.broken

    def reconnect(self, conn: Connection) -> None:
        # A connection the server dropped (a restart) fails every statement from then on;
        # a new one in its place lets the tracking positions and the outbox carry on.
        raw = self._raw(conn.read_only, conn.by_name)
        try:
            conn.raw.close()
        finally:
            conn.raw = raw

    def create(self, conn: Connection, schema: str) -> None:
        """Run the DDL of `schema`; a role without the privilege to runs on the tables it finds.

        The application may run as a role granted only what it reads and writes (see the
        PostgreSQL page's privileges): then the owner has created the tables, and this role
        uses them as they are, or is told which are missing.
        """
        ddl = sql_text(f"{schema}.pg.sql")
        try:
            with conn.raw.transaction():
                # Two processes creating the same tables at once would collide in the catalog.
                conn.raw.execute("SELECT pg_advisory_xact_lock(hashtext('order_service ddl'))")
                conn.raw.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                conn.raw.execute(ddl)
        except psycopg.errors.InsufficientPrivilege as refused:
            tables = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", ddl)
            missing = [
                table
                for table in tables
                if conn.raw.execute(
                    "SELECT to_regclass(%s) IS NULL", (f"{self.schema}.{table}",)
                ).fetchone()
                in (None, (True,))
            ]
            if missing:
                reason = str(refused).splitlines()[0]
                raise psycopg.errors.InsufficientPrivilege(
                    f"schema {self.schema}: tables {', '.join(missing)} are missing and this "
                    f"role may not create them ({reason}): let their owner run the "
                    f"application once, or create them (see the PostgreSQL page)"
                ) from None

    def transaction(self, conn: Connection) -> AbstractContextManager[Any]:
        return conn.raw.transaction()

    def exists(self) -> bool:
        with psycopg.connect(self.conninfo, autocommit=True) as raw:
            row = raw.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{self.schema}.order_events",)
            ).fetchone()  # one row: a SELECT of an expression
        return row is not None and bool(row[0])

    def holds(self) -> bool:
        with psycopg.connect(self.conninfo, autocommit=True) as raw:
            found = raw.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
        return found is not None

    @property
    def label(self) -> str:
        return f"schema {self.schema}"

    def sibling(self, kind: str) -> PostgreSQL:
        return PostgreSQL(self.conninfo, f"{self.schema}_{kind}")

    # --8<-- [start:dialect]
    for_update = " FOR UPDATE"  # the projector's read of the row it rewrites
    claim = " FOR UPDATE OF o SKIP LOCKED"  # the relay's claim on its outbox rows

    def lock_order(self, conn: Connection, order_id: str) -> None:
        # Held to the commit: a second writer of the order waits, then sees the new version
        # and gets a ConcurrencyError. Writers of other orders do not wait.
        conn.raw.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (order_id,))

    def lock_positions(self, conn: Connection) -> None:
        # Held to the commit, so appends take positions and commit one after the other (as in
        # the eventsourcing library); the per-order work before it (load, decide) stays parallel.
        conn.raw.execute("SELECT pg_advisory_xact_lock(hashtext('order_service positions'))")

    def lock_read_model(self, conn: Connection) -> None:
        # EXCLUSIVE lets readers read but makes a projector's SELECT ... FOR UPDATE wait.
        conn.raw.execute("LOCK TABLE order_summary IN EXCLUSIVE MODE")

    # --8<-- [end:dialect]

    # --8<-- [start:notify]
    def notify_append(self, conn: Connection) -> None:
        conn.raw.execute("NOTIFY order_appended")  # delivered at the commit, never before

    def listen(self, conn: Connection) -> None:
        conn.raw.execute("LISTEN order_appended")

    def wait_for_append(self, conn: Connection, timeout: float, stop: threading.Event) -> None:
        # Polling stays the fallback: a notification that arrived during the last run is
        # consumed with it, and the next wait ends at `timeout` at the latest.
        if not stop.is_set():
            for _ in conn.raw.notifies(timeout=timeout, stop_after=1):
                pass

    def wake(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as raw:
            raw.execute("NOTIFY order_appended")

    # --8<-- [end:notify]
