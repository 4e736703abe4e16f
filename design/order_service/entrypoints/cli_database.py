"""The `orders demo`, `replay`, `query`, `status`, `redrive` and `prune-keys` handlers.

`cli.py` owns the `orders` command and its parser, and imports this module only when one of
these three runs, so `orders validate` loads the model and the contract alone. Each handler takes
the parsed arguments and the output and error streams, and returns the exit
status: 0 on success, 1 when the answer is "not found" or the input is refused, with one
line on the error stream saying why.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import tempfile
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from order_service.app import bootstrap, read_db_for
from order_service.bus.subscription import Status
from order_service.entrypoints.demo import run_demo
from order_service.infra.clock import utc_now
from order_service.infra.database import Backend, SQLite, is_url, open_backend, shown
from order_service.read.queries import OrderQueries, QueryError
from order_service.read.read_model import PROJECTION
from order_service.write.store import COMMAND_ID_LIFETIME, EventStore
from order_service.write.temporal import AsOfError, order_as_of


def _fail(err: TextIO, message: str) -> int:
    print(f"orders: {message}", file=err)
    return 1


def _print_json(out: TextIO, value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), file=out)


def _database_errors() -> tuple[type[Exception], ...]:
    """What a database driver raises: sqlite3's, and psycopg's if it is installed."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def _backend(db: str) -> Backend:
    """`--db` as a backend; a URL without psycopg installed is a clear error."""
    try:
        return open_backend(db)
    except ImportError:
        raise FileNotFoundError(
            f"{db}: PostgreSQL needs psycopg: pip install 'order-service-design[pg]'"
        ) from None
    except ValueError as error:  # a URL whose schema name cannot be used
        raise FileNotFoundError(f"{db}: {error}") from None


def run_demo_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`orders demo [--db PATH or URL]`: #1001's story on fresh files or a fresh schema."""
    if args.db is not None and is_url(args.db):
        try:
            run_demo(_backend(args.db), out)
        except (FileExistsError, FileNotFoundError, ValueError) as error:
            return _fail(err, str(error))
        except _database_errors() as error:  # no server there, a refused login...
            reason = " ".join(str(error).split())  # libpq's message spans lines
            return _fail(err, f"cannot write the demo database {args.db}: {reason}")
        return 0
    if args.db is not None and not Path(args.db).name:
        return _fail(err, f"--db {args.db!r}: give a file path, e.g. --db orders.db")
    try:
        if args.db is None:
            with tempfile.TemporaryDirectory(prefix="orders-demo-") as folder:
                run_demo(Path(folder) / "orders.db", out)
        else:
            try:
                Path(args.db).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # a file where a folder should be, no permission...
                return _fail(err, f"cannot write the demo database {args.db}: {error}")
            run_demo(args.db, out)
    except FileExistsError as error:  # the demo's own refusal to reuse a database
        return _fail(err, str(error))
    except (OSError, sqlite3.Error) as error:  # a folder that cannot be written, a full disk...
        return _fail(err, f"cannot write the demo database {args.db}: {error}")
    return 0


def _write_db(path: str) -> Backend:
    """The write database at `path` (a file or a URL), checked before anything writes to it.

    Opening a database as the event store creates its tables: a mistyped `--db` (the read
    database, any other file) must be refused, not quietly turned into an empty store.
    """
    db = _backend(path)
    if not isinstance(db, SQLite):
        try:
            found = db.exists()
        except _database_errors() as error:
            reason = " ".join(str(error).split())  # libpq's message spans lines
            raise FileNotFoundError(f"{db}: cannot reach the server ({reason})") from None
        if not found:
            raise FileNotFoundError(f"{db}: not a write database (no order_events table there)")
        return db
    if not db.path.is_file():
        raise FileNotFoundError(f"{path}: no such write database (run `orders demo --db {path}`?)")
    try:
        with closing(db.connect(read_only=True)) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'order_events'"
            ).fetchone()
    except sqlite3.DatabaseError as error:
        raise FileNotFoundError(f"{path}: not a SQLite database ({error})") from None
    if found is None:
        raise FileNotFoundError(f"{path}: not a write database (it has no order_events table)")
    return db


def _read_db(path: str | Backend, write_db: Backend) -> Backend:
    db = path if isinstance(path, Backend) else _backend(path)
    if not db.holds():
        raise FileNotFoundError(
            f"{db}: no such read database (build it with `orders replay --db {write_db}`)"
        )
    return db


def run_replay_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`orders replay --db PATH`: rebuild the read DB from the write DB's events."""
    try:
        write_db = _write_db(args.db)
        service = bootstrap(write_db, args.read_db)
    except FileNotFoundError as error:
        return _fail(err, str(error))
    try:
        replayed = service.replay()
        print(f"replayed {replayed} events from {write_db} into {service.read_db}", file=out)
        [projector] = [s for s in service.status() if s.subscriber == PROJECTION]
    finally:
        service.close()
    if projector.parked:
        first = projector.parked[0]
        return _fail(
            err,
            f"replay parked {len(projector.parked)} event(s), the first: event {first.event_id} "
            f"of order {first.order_id} at position {first.position} ({first.error}); fix it, "
            f"then run `orders redrive --db {shown(args.db)} --subscriber {PROJECTION}`",
        )
    return 0


def _status_lines(status: Status) -> list[str]:
    worker = "" if status.worker == "not started" else f", worker {status.worker}"
    lines = [
        f"{status.subscriber}: {'ok' if status.healthy else 'NOT OK'}, position {status.position}, "
        f"lag {status.lag}, {len(status.parked)} parked{worker}"
    ]
    lines += [
        f"  parked: position {p.position}, event {p.event_id}, order {p.order_id} version "
        f"{p.version}: {p.error}"
        for p in status.parked
    ]
    return lines


def _refusals() -> tuple[type[Exception], ...]:
    """What opening the databases may raise: a missing file, or a driver's error."""
    return (FileNotFoundError, *_database_errors())


def _service(args: argparse.Namespace) -> Any:
    """The running design over `--db` and `--read-db`, both checked first."""
    write_db = _write_db(args.db)
    return bootstrap(write_db, _read_db(args.read_db or read_db_for(write_db), write_db))


def run_status_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`orders status --db PATH`: each subscriber's position, lag and parked events.

    Exit 1 if any subscriber has parked events.
    """
    try:
        service = _service(args)
    except _refusals() as error:
        return _fail(err, str(error))
    try:
        found = service.status()
    finally:
        service.close()
    lags: dict[str, int] = {}
    if getattr(args, "bus", None) is not None:
        try:
            lags = _kafka_lags(args.bus, [status.subscriber for status in found])
        except Exception as error:  # a bad URL, no broker answering, the extra missing
            return _fail(err, f"--bus {args.bus}: {type(error).__name__}: {error}")
    if args.json:
        subscribers = [s.to_dict() | ({"kafka_lag": lags[s.subscriber]} if lags else {})
                       for s in found]  # fmt: skip
        _print_json(out, {"healthy": all(s.healthy for s in found), "subscribers": subscribers})
    else:
        for status in found:
            lines = _status_lines(status)
            if lags:
                lines.append(f"  kafka: {lags[status.subscriber]} record(s) not yet committed")
            print("\n".join(lines), file=out)
    return 0 if all(status.healthy for status in found) else 1


def _kafka_lags(url: str, names: list[str]) -> dict[str, int]:
    """Each subscriber's consumer group: how many records it has not committed yet."""
    from order_service.bus.kafka import KafkaBus
    from order_service.bus.kafka_consumer import group_lag

    bus = KafkaBus.parse(url)
    return {name: group_lag(bus, name) for name in names}


def run_redrive_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`orders redrive --db PATH --subscriber NAME`: apply the parked events again.

    Exit 1 if events are still parked (each failure is logged on one line).
    """
    try:
        service = _service(args)
    except _refusals() as error:
        return _fail(err, str(error))
    try:
        subscription = service.subscriptions.get(args.subscriber)
        if subscription is None:
            names = ", ".join(service.subscriptions)
            return _fail(err, f"--subscriber {args.subscriber!r}: no such subscriber ({names})")
        applied, parked = subscription.redrive()
    finally:
        service.close()
    print(f"{args.subscriber}: redrove {applied} event(s), {parked} still parked", file=out)
    return 0 if parked == 0 else 1


def run_prune_keys_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`orders prune-keys --db PATH [--hours N]`: forget the command ids older than N hours."""
    lifetime = COMMAND_ID_LIFETIME if args.hours is None else timedelta(hours=args.hours)
    if args.hours is not None and not 1 <= args.hours <= 1_000_000:
        return _fail(err, f"--hours {args.hours}: give a whole number of hours from 1 to 1000000")
    refused: tuple[type[Exception], ...] = (FileNotFoundError, *_database_errors())
    try:
        write_db = _write_db(args.db)
        store = EventStore(write_db, clock=utc_now, command_id_lifetime=lifetime)
        try:
            pruned = store.prune_command_ids()
        finally:
            store.close()
    except refused as error:
        return _fail(err, str(error))
    hours = int(lifetime.total_seconds() // 3600)
    print(f"forgot {pruned} command id(s) carried out over {hours} hour(s) ago", file=out)
    return 0


def run_query_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`orders query --db PATH get|search|as-of ...`: read-only answers, as JSON."""
    refused: tuple[type[Exception], ...] = (
        FileNotFoundError,
        QueryError,
        AsOfError,
        *_database_errors(),
    )
    try:
        write_db = _write_db(args.db)
        read_db = _read_db(args.read_db or read_db_for(write_db), write_db)
        if args.query == "as-of":
            store = EventStore(write_db, clock=lambda: "", read_only=True)
            try:
                state = order_as_of(store, args.order_id, version=args.version, at=args.at)
            finally:
                store.close()
            if state is None:
                return _fail(err, f"order {args.order_id} had no event by then")
            _print_json(out, state.to_dict())
            return 0
        queries = OrderQueries(read_db)
        try:
            if args.query == "get":
                summary = queries.get(args.order_id)
                if summary is None:
                    return _fail(err, f"order {args.order_id} is not in the read model")
                _print_json(out, dataclasses.asdict(summary))
            else:
                found = queries.search(
                    customer_id=args.customer,
                    status=args.status,
                    placed_from=args.placed_from,
                    placed_before=args.placed_before,
                    sku=args.sku,
                    limit=args.limit,
                )
                _print_json(out, [dataclasses.asdict(summary) for summary in found])
        finally:
            queries.close()
    except refused as error:
        return _fail(err, str(error))
    return 0
