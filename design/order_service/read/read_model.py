"""The Read DB box: the read model's tables, which the projector writes and the queries read.

The two sides share these tables and their names, not code: the queries import nothing from the
projector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from order_service.infra.database import Backend, open_backend

PROJECTION = "order_summary"
"""The projector's name in `tracking` and `parked_events`."""


def open_read_model(path: str | Path | Backend) -> Any:
    """Open (and on first use create) the read database for writing: the projector's side.

    `path` is a SQLite file, a `postgresql://` URL or a `Backend`; rows read by column name.
    """
    db = open_backend(path)
    conn = db.connect(by_name=True)  # the projector reads a summary row by column name
    db.create(conn, "read_model")
    return conn
