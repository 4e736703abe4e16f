"""How every part opens SQLite: WAL, a busy timeout, explicit transactions.

Both databases of the design (the write store and the read model) are SQLite files opened
here, so the settings that make concurrency and crash recovery work live in one place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

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
        )
    else:
        conn = sqlite3.connect(
            path, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
        )
        # WAL lets readers read while one writer writes; NORMAL syncs at checkpoints, which
        # survives a crash of the process (not necessarily a power cut) and is WAL's advice.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def run_script(conn: sqlite3.Connection, sql_file: str) -> None:
    """Run a DDL file shipped in this package (`event_store.sql`, `read_model.sql`)."""
    conn.executescript(files("order_service").joinpath(sql_file).read_text(encoding="utf-8"))


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
