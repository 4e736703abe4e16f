"""Make a table refuse inserts, on either backend: a crash or a full disk, simulated.

SQLite: a temporary trigger (on this connection only). PostgreSQL: a trigger in the test's
own schema (every connection; the schema is thrown away after the test).
"""

from __future__ import annotations

from typing import Any

from order_service.infra.database import backend_of


def fail_inserts(conn: Any, table: str, message: str) -> None:
    """Every INSERT into `table` raises the backend's IntegrityError carrying `message`."""
    if backend_of(conn).name == "sqlite":
        conn.execute(
            f"CREATE TEMP TRIGGER fail_{table} BEFORE INSERT ON main.{table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        return
    conn.execute(
        f"CREATE FUNCTION fail_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation'; END $$"
    )
    conn.execute(
        f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION fail_{table}()"
    )


def stop_failing_inserts(conn: Any, table: str) -> None:
    """Undo `fail_inserts`: the table takes inserts again."""
    if backend_of(conn).name == "sqlite":
        conn.execute(f"DROP TRIGGER IF EXISTS temp.fail_{table}")
        return
    conn.execute(f"DROP TRIGGER IF EXISTS fail_{table} ON {table}")
    conn.execute(f"DROP FUNCTION IF EXISTS fail_{table}()")
