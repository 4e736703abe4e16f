"""The PostgreSQL section: ours, `eventsourcing`'s PostgreSQL backend and a bare psycopg floor.

All three run on one server, each in schemas of its own, in the same run as the SQLite
section and with the same workload, timing and checks:

- replay: one order of N events rebuilt (ours full and from its latest snapshot, the peer the
  same two ways, the floor);
- append: the N events of a new order in one transaction, into a fresh schema each round;
- read model: `order_summary` rebuilt for many orders (ours, the floor).

The floor is `floor`'s SQLite floor on psycopg: the same tables (our PostgreSQL DDL), only
the columns it needs, one batched JSON parse, one `executemany` per table, no checks.
The server is `ORDERS_BENCH_PG_URL` if set, else a throwaway cluster (`postgres_server`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from order_service.infra.database import sql_text
from order_service.read import read_model
from psycopg.types.string import TextLoader

from order_service_bench import floor, ours, peer, workload
from order_service_bench.postgres_server import Server
from order_service_bench.timing import Contender, Measurement, Progress, Scratch, compare
from order_service_bench.worker import checker

URL_VARIABLE = "ORDERS_BENCH_PG_URL"
"""A server to measure on instead of a throwaway cluster (its schemas are dropped after)."""

REPLAY = ("ours_full", "ours_snapshot_latest", "peer_full", "peer_snapshot_latest", "floor_fold")
APPEND = ("ours", "peer", "floor_executemany")
READ_MODEL = ("ours_rebuild", "floor_upserts")

SELECT_STREAM = floor.SELECT_STREAM.replace("?", "%s")
INSERT_EVENT = floor.INSERT_EVENT.replace("?", "%s")
INSERT_SUMMARY = floor.INSERT_SUMMARY.replace("?", "%s")
INSERT_SKU = "INSERT INTO order_summary_skus (sku, order_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"


def start(environ: Mapping[str, str]) -> Server:
    """The server to measure on; raises `postgres_server.Unavailable` saying what to do."""
    return Server.start(environ, url_variable=URL_VARIABLE)


class Schemas(Scratch):
    """Fresh schemas on one server: `fresh(tag)` drops the previous one of that tag."""

    def __init__(self, server: Server) -> None:
        super().__init__()
        self.server = server
        self.admin = psycopg.connect(server.url, autocommit=True)

    def _new(self, tag: str) -> str:
        """A URL naming a new, empty schema (created, so the peer can use it too)."""
        url = self.server.new_url()
        self.admin.execute(f"CREATE SCHEMA {schema_of(url)}")
        return url

    def _remove(self, url: str) -> None:
        self.admin.execute(f"DROP SCHEMA {schema_of(url)} CASCADE")

    def close(self) -> None:
        super().close()
        self.admin.close()


def schema_of(url: str) -> str:
    """The schema a `...?schema=NAME` URL names (the harness makes safe names)."""
    return url.rsplit("?schema=", 1)[1]


def connect(url: str) -> psycopg.Connection[Any]:
    """A bare psycopg connection to a URL's schema; JSON columns come back as text."""
    conn = psycopg.connect(
        url.rsplit("?", 1)[0], autocommit=True, options=f"-c search_path={schema_of(url)}"
    )
    conn.adapters.register_loader("json", TextLoader)
    return conn


def open_event_store(url: str) -> psycopg.Connection[Any]:
    """Our `order_events` DDL in the URL's schema, on a bare connection (the floor's)."""
    conn = connect(url)
    conn.execute(sql_text("event_store.pg.sql"))
    return conn


def fold(conn: psycopg.Connection[Any], order_id: str) -> dict[str, Any]:
    """The floor's replay: two columns, one batched JSON parse, a dict fold, trusting every row."""
    return floor.fold_rows(conn.execute(SELECT_STREAM, (order_id,)).fetchall())


def append(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> int:
    """The floor's append: one `executemany` in one transaction; returns the last version."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(INSERT_EVENT, rows)
    version: int = rows[-1][2]
    return version


def rebuild(conn: psycopg.Connection[Any], rows: tuple[floor.Rows, floor.Rows]) -> int:
    """The floor's rebuild: empty the read model, upsert the precomputed rows, one transaction."""
    summaries, skus = rows
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("DELETE FROM order_summary_skus")
        cursor.execute("DELETE FROM order_summary")
        cursor.executemany(INSERT_SUMMARY, summaries)
        cursor.executemany(INSERT_SKU, skus)
    return len(summaries)


def settings(server: Server) -> dict[str, str]:
    """The server's version and durability settings, as every contender runs with them."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        shown = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]  # SHOW gives one row
            for name in ("server_version", "fsync", "synchronous_commit")
        }
    source = "a URL (ORDERS_BENCH_PG_URL)" if server.folder is None else "a throwaway cluster"
    return {**shown, "server": source}


def measure_replay(
    n: int, schemas: Schemas, warmup: int, repeats: int, progress: Progress
) -> dict[str, Measurement]:
    """Rebuild one order of `n` events, every way, interleaved."""
    order_id = str(6000 + n)
    events = workload.order_events(order_id, n)
    expected = workload.expected_summary(n)

    stores = {}
    for policy in ("full", "latest"):
        url = schemas.fresh(f"ours-{policy}")
        store = schemas.hold(f"ours-{policy}", ours.open_store(url))
        store.append(events, expected_version=0)
        if policy == "latest":
            ours.save_snapshot_at(store, events, n)
        else:
            floor_conn = schemas.hold("floor", connect(url))  # the floor reads our rows
        stores[policy] = store
    peers = {}
    for policy in ("full", "latest"):
        app = peer.open_app(schemas.fresh(f"peer-{policy}"), snapshots=policy == "latest")
        schemas.hold(f"peer-{policy}", app)
        aggregate = peer.build_order(events)
        app.save(aggregate)
        if policy == "latest":
            app.take_snapshot(aggregate.id, version=n)
        peers[policy] = (app, aggregate.id)

    def ours_load(policy: str) -> Any:
        return lambda: lambda: ours.replay(stores[policy], order_id)

    def peer_get(policy: str) -> Any:
        app, aggregate_id = peers[policy]
        return lambda: lambda: app.repository.get(aggregate_id)

    check_ours, check_peer = checker(expected, ours.summary), checker(expected, peer.summary)
    contenders = [
        Contender("ours_full", ours_load("full"), check_ours),
        Contender("ours_snapshot_latest", ours_load("latest"), check_ours),
        Contender("peer_full", peer_get("full"), check_peer),
        Contender("peer_snapshot_latest", peer_get("latest"), check_peer),
        Contender(
            "floor_fold",
            lambda: lambda: fold(floor_conn, order_id),
            checker(expected, floor.summary),
        ),
    ]
    label = f"PostgreSQL replay N={n:,}"
    return compare(label, contenders, warmup=warmup, repeats=repeats, progress=progress)


def measure_append(
    n: int, schemas: Schemas, warmup: int, repeats: int, progress: Progress
) -> dict[str, Measurement]:
    """Append `n` new events of one order in one transaction, each way into a fresh schema."""
    order_id = str(7000 + n)
    events = workload.order_events(order_id, n)
    rows = floor.event_rows(events, ours.RECORDED_AT)

    def prepare_ours() -> Any:
        store = schemas.hold("ours", ours.open_store(schemas.fresh("ours")))
        return lambda: store.append(events, expected_version=0)

    def prepare_peer() -> Any:
        app = schemas.hold("peer", peer.open_app(schemas.fresh("peer")))
        aggregate = peer.build_order(events)
        return lambda: (app.save(aggregate), aggregate.version)[1]

    def prepare_floor() -> Any:
        conn = schemas.hold("floor", open_event_store(schemas.fresh("floor")))
        return lambda: append(conn, rows)

    def check(version: int) -> None:
        if version != n:
            raise AssertionError(f"an append returned version {version}, expected {n}")

    contenders = [
        Contender("ours", prepare_ours, check),
        Contender("peer", prepare_peer, check),
        Contender("floor_executemany", prepare_floor, check),
    ]
    label = f"PostgreSQL append N={n:,}"
    return compare(label, contenders, warmup=warmup, repeats=repeats, progress=progress)


def measure_read_model(
    orders: int, schemas: Schemas, warmup: int, repeats: int, progress: Progress
) -> dict[str, Measurement]:
    """Rebuild the read model of `orders` orders of 4 events, ours and the floor."""
    write_url = schemas.fresh("read-model-events")
    seed = schemas.hold("read-model-events", open_event_store(write_url))
    append(
        seed,
        [
            row
            for i in range(orders)
            for row in floor.event_rows(workload.order_events(str(10_000 + i), 4), ours.RECORDED_AT)
        ],
    )
    store = schemas.hold("read-model-store", ours.open_store(write_url, validate=False))
    ours_conn = read_model.open_read_model(schemas.fresh("read-model-ours"))
    schemas.hold("read-model-ours", ours_conn)
    floor_url = schemas.fresh("read-model-floor")
    read_model.open_read_model(floor_url).close()  # our read-model DDL, for the floor too
    floor_conn = schemas.hold("read-model-floor", connect(floor_url))
    ours.rebuild(store, ours_conn)  # untimed: the rows the floor writes are ours, precomputed
    floor_rows = floor.read_model_rows(ours_conn)

    def check_ours(replayed: int) -> None:
        if replayed != orders * 4 or floor.count_shipped(ours_conn) != orders:
            raise AssertionError("our rebuild did not project every order as shipped")

    def check_floor(written: int) -> None:
        if written != orders or floor.count_shipped(floor_conn) != orders:
            raise AssertionError("the floor did not write every order as shipped")

    contenders = [
        Contender("ours_rebuild", lambda: lambda: ours.rebuild(store, ours_conn), check_ours),
        Contender("floor_upserts", lambda: lambda: rebuild(floor_conn, floor_rows), check_floor),
    ]
    label = f"PostgreSQL read model, {orders:,} orders x 4 events"
    return compare(label, contenders, warmup=warmup, repeats=repeats, progress=progress)


def measure(
    server: Server,
    sizes: tuple[int, ...],
    read_model_orders: int,
    warmup: int,
    repeats: int,
    progress: Progress,
) -> dict[str, Any]:
    """Every comparison of the section, on `server`; the schemas are dropped at the end."""

    def as_json(results: dict[str, Measurement]) -> dict[str, Any]:
        return {name: m.as_json() for name, m in results.items()}

    schemas = Schemas(server)
    try:
        return {
            "replay": {
                str(n): as_json(measure_replay(n, schemas, warmup, repeats, progress))
                for n in sizes
            },
            "append": {
                str(n): as_json(measure_append(n, schemas, warmup, repeats, progress))
                for n in sizes
            },
            "read_model": as_json(
                measure_read_model(read_model_orders, schemas, warmup, repeats, progress)
            ),
        }
    finally:
        schemas.close()
