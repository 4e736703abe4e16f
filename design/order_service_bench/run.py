"""The benchmark suite: what is measured, on which data, and which targets hold.

Each full run times, in interleaved rounds:

- replay: one order of N events rebuilt (ours full and from a snapshot, `eventsourcing` in its
  default configuration, the true floor); then, in a `python -O` worker, `eventsourcing` in its
  fastest configurations with ours and the floor again as controls;
- append: the N events of a new order in one transaction (ours, ours at `synchronous=FULL`,
  `eventsourcing`, the floor);
- read model: `order_summary` rebuilt for many orders (ours, the floor);
- `orders validate` on a JSON Lines file of about 50 MB, in a child process;
- the stages of our replay at the largest N, each timed on its own;
- on PostgreSQL (`order_service_bench.postgresql`), at fewer sizes and rounds: replay, snapshot
  load, append and read-model rebuild, ours against `eventsourcing`'s PostgreSQL backend and a
  bare psycopg floor, on one server started for the run (or given by `ORDERS_BENCH_PG_URL`);
- the pipeline (`order_service_bench.pipeline`): orders sent through the running HTTP API, on
  SQLite and on PostgreSQL, with and without a subscriber that sleeps on every event, and with
  Kafka as the bus (on one broker started for the run, or given by `ORDERS_TEST_KAFKA`): command
  latency, commands per second, and the lag from each command's 2xx to the read model.

`make bench` makes two full runs: a target holds only if it holds in every run, each time
both on the medians and in at least `MAJORITY` of the rounds (the PostgreSQL figures are
reported, not judged). Every timed call's result is checked (all contenders derive the same
order), so a contender cannot win by doing less.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from order_service.read import read_model

from order_service_bench import (
    floor,
    ours,
    peer,
    pipeline,
    postgresql,
    stages,
    validate_scale,
    workload,
)
from order_service_bench.kafka_server import Broker
from order_service_bench.kafka_server import Unavailable as NoKafka
from order_service_bench.postgres_server import Server
from order_service_bench.timing import Contender, Measurement, Progress, Scratch, compare
from order_service_bench.worker import OPTIMISED, checker

RESULTS_FORMAT = 4
MAJORITY = 0.8
"""The share of rounds in which a target must hold too, in each run (8 of 10 rounds)."""
DESIGN = Path(__file__).resolve().parents[1] / "order_service"
"""The code measured: `results.json` records a digest of it, and a test compares."""


@dataclass(frozen=True)
class Config:
    """How big and how often: the full run and the quick run differ only here."""

    mode: str
    sizes: tuple[int, ...]
    warmup: int
    repeats: int
    runs: int
    read_model_orders: int
    validate_events: int
    validate_rounds: int
    pg_sizes: tuple[int, ...]
    pg_repeats: int
    pg_read_model_orders: int
    pipeline: pipeline.Load
    snapshot_interval: int = 100
    events_per_order: int = 4


FULL = Config(
    mode="full", sizes=(10, 100, 1_000, 10_000), warmup=1, repeats=10, runs=2,
    read_model_orders=10_000, validate_events=126_000, validate_rounds=2,
    pg_sizes=(100, 10_000), pg_repeats=6, pg_read_model_orders=2_000,
    pipeline=pipeline.Load(orders=100, clients=4, rounds=3),
)  # fmt: skip
QUICK = Config(
    mode="quick", sizes=(10, 100), warmup=1, repeats=2, runs=1,
    read_model_orders=50, validate_events=2_000, validate_rounds=1,
    pg_sizes=(10, 100), pg_repeats=2, pg_read_model_orders=50,
    pipeline=pipeline.Load(orders=6, clients=2, rounds=1),
)  # fmt: skip

REPLAY = ("ours_full", "ours_snapshot_latest", "ours_snapshot_behind_1",
          "ours_snapshot_every_100", "ours_snapshot_write", "peer_full", "peer_snapshot_latest",
          "peer_snapshot_behind_1", "peer_snapshot_every_100", "floor_fold")  # fmt: skip
APPEND = ("ours", "ours_synchronous_full", "peer", "floor_executemany")
READ_MODEL = ("ours_rebuild", "floor_upserts")


@dataclass(frozen=True)
class Target:
    """A claim: `numerator / denominator` (or a value) on the right side of `threshold`.

    `at` is "largest" (the largest N), "every" (every N: the worst one counts), or "one" for
    a group measured at one size only. A ratio of times: ">= 2" reads "at least 2x faster".
    """

    id: str
    claim: str
    group: str
    numerator: str
    denominator: str | None
    operator: str
    threshold: float
    at: str = "largest"


TARGETS = (
    Target("replay_vs_floor", "full replay within 1.3x of the true floor",
           "replay", "ours_full", "floor_fold", "<=", 1.3),
    Target("replay_vs_fastest_peer",
           "full replay at least 2x faster than eventsourcing at its fastest (-O, minimal orjson)",
           "optimised", "peer_full_O_minimal", "ours_full_O", ">=", 2.0),
    Target("snapshot_vs_peer",
           "loading from the latest snapshot at least as fast as eventsourcing's, at every N",
           "replay", "peer_snapshot_latest", "ours_snapshot_latest", ">=", 1.0, at="every"),
    Target("append_vs_peer",
           "appending, validated, at least as fast as eventsourcing (synchronous=FULL both)",
           "append", "peer", "ours_synchronous_full", ">=", 1.0),
    Target("read_model_vs_floor", "read-model rebuild within 2x of the executemany floor",
           "read_model", "ours_rebuild", "floor_upserts", "<=", 2.0, at="one"),
    Target("validate_rate", "orders validate: at least 20,000 events per CPU-second",
           "validate", "events_per_s", None, ">=", 20_000, at="one"),
    Target("validate_memory", "orders validate: peak memory under 100 MiB",
           "validate", "peak_mib", None, "<", 100, at="one"),
)  # fmt: skip


def snapshot_version(n_events: int, policy: str, interval: int) -> int:
    """Where the snapshot sits: at the head ("latest"), one event behind it ("behind"), or
    `interval - 1` events behind it ("every").

    A snapshot every `interval` events leaves 0 to `interval - 1` events after it; "latest"
    measures the best case, "every" the worst, and "behind" a load after one more command.
    An order shorter than `interval` has no "every" snapshot (0).
    """
    if policy == "latest":
        return n_events
    if policy == "behind":
        return n_events - 1
    return n_events - (interval - 1) if n_events >= interval else 0


class Files(Scratch):
    """A fresh SQLite file per run of a contender; the previous run's is closed and removed."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.counter = itertools.count()

    def _new(self, tag: str) -> Path:
        return self.root / f"append-{tag}-{next(self.counter)}.db"

    def _remove(self, path: Path) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _checker(expected: dict[str, Any], summarise: Any) -> Any:
    return checker(expected, summarise)


def measure_replay(
    n: int, root: Path, config: Config, progress: Progress
) -> dict[str, Measurement]:
    """Rebuild one order of `n` events, every way, interleaved."""
    order_id = str(1000 + n)
    events = workload.order_events(order_id, n)
    expected = workload.expected_summary(n)
    interval = config.snapshot_interval

    stores = {}
    for policy in ("full", "latest", "behind", "every", "write"):
        store = ours.open_store(root / f"replay-ours-{policy}-{n}.db")
        store.append(events, expected_version=0)
        if policy not in ("full", "write"):
            ours.save_snapshot_at(store, events, snapshot_version(n, policy, interval))
        stores[policy] = store

    def ours_load(policy: str) -> Any:
        return lambda: lambda: ours.replay(stores[policy], order_id)

    head = ours.replay(stores["full"], order_id)
    assert head is not None

    def snapshot_write() -> Any:
        # Untimed: the order has no snapshot yet; timed: `take_snapshot` and its row written.
        ours.drop_snapshot(stores["write"], order_id)
        return lambda: ours.write_snapshot(stores["write"], head)

    def check_written(version: int) -> None:
        if version != n:
            raise AssertionError(f"a snapshot was written at version {version}, expected {n}")

    floor_conn = sqlite3.connect(cast(Path, stores["full"].path))  # SQLite: it has a path

    peer_app = peer.open_app(root / f"replay-peer-{n}.db")
    aggregate = peer.build_order(events)
    peer_app.save(aggregate)
    peer_snap_apps = {}
    for policy in ("latest", "behind", "every"):
        app = peer.open_app(root / f"replay-peer-{policy}-{n}.db", snapshots=True)
        snapshotted = peer.build_order(events)
        app.save(snapshotted)
        version = snapshot_version(n, policy, interval)
        if version:
            app.take_snapshot(snapshotted.id, version=version)
        peer_snap_apps[policy] = (app, snapshotted.id)

    def peer_get(app: peer.Orders, aggregate_id: Any) -> Any:
        return lambda: lambda: app.repository.get(aggregate_id)

    check_ours, check_peer = _checker(expected, ours.summary), _checker(expected, peer.summary)
    contenders = [
        Contender("ours_full", ours_load("full"), check_ours),
        Contender("ours_snapshot_latest", ours_load("latest"), check_ours),
        Contender("ours_snapshot_behind_1", ours_load("behind"), check_ours),
        Contender("ours_snapshot_every_100", ours_load("every"), check_ours),
        Contender("ours_snapshot_write", snapshot_write, check_written),
        Contender("peer_full", peer_get(peer_app, aggregate.id), check_peer),
        Contender("peer_snapshot_latest", peer_get(*peer_snap_apps["latest"]), check_peer),
        Contender("peer_snapshot_behind_1", peer_get(*peer_snap_apps["behind"]), check_peer),
        Contender("peer_snapshot_every_100", peer_get(*peer_snap_apps["every"]), check_peer),
        Contender(
            "floor_fold",
            lambda: lambda: floor.fold(floor_conn, order_id),
            _checker(expected, floor.summary),
        ),
    ]
    try:
        return compare(
            f"replay N={n:,}",
            contenders,
            warmup=config.warmup,
            repeats=config.repeats,
            progress=progress,
        )
    finally:
        for store in stores.values():
            store.close()
        floor_conn.close()
        peer_app.close()
        for app, _ in peer_snap_apps.values():
            app.close()


def measure_optimised(root: Path, config: Config, progress: Progress) -> dict[str, Any]:
    """The `python -O` worker's replay at every N (see `order_service_bench.worker`)."""
    command = [
        sys.executable, "-O", "-m", "order_service_bench.worker",
        "--sizes", *map(str, config.sizes), "--warmup", str(config.warmup),
        "--repeats", str(config.repeats), str(root),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the -O worker failed:\n{done.stderr}")
    results: dict[str, Any] = json.loads(done.stdout)
    if sorted(results) != sorted(map(str, config.sizes)):
        raise RuntimeError(f"the -O worker measured {sorted(results)}")
    largest = results[str(max(config.sizes))]
    progress.done("replay under python -O, every N", {
        name: Measurement(largest[name]["runs_s"]) for name in OPTIMISED
    })  # fmt: skip
    return results


def measure_append(
    n: int, root: Path, config: Config, progress: Progress
) -> dict[str, Measurement]:
    """Append `n` new events of one order in one transaction, every way, interleaved."""
    scratch = Files(root)
    order_id = str(2000 + n)
    events = workload.order_events(order_id, n)
    rows = floor.event_rows(events, ours.RECORDED_AT)

    def prepare_ours(variant: str = "ours") -> Any:
        store = ours.open_store(scratch.fresh(variant))
        if variant == "ours_synchronous_full":
            store.conn.execute("PRAGMA synchronous=FULL")  # what eventsourcing's connections use
        scratch.hold(variant, store)
        return lambda: store.append(events, expected_version=0)

    def prepare_peer() -> Any:
        app = scratch.hold("peer", peer.open_app(scratch.fresh("peer")))
        aggregate = peer.build_order(events)
        return lambda: (app.save(aggregate), aggregate.version)[1]

    def prepare_floor() -> Any:
        conn = scratch.hold("floor", floor.open_event_store(scratch.fresh("floor")))
        return lambda: floor.append(conn, rows)

    def check(version: int) -> None:
        if version != n:
            raise AssertionError(f"an append returned version {version}, expected {n}")

    contenders = [
        Contender("ours", prepare_ours, check),
        Contender("ours_synchronous_full", lambda: prepare_ours("ours_synchronous_full"), check),
        Contender("peer", prepare_peer, check),
        Contender("floor_executemany", prepare_floor, check),
    ]
    try:
        label = f"append N={n:,}"
        return compare(
            label, contenders, warmup=config.warmup, repeats=config.repeats, progress=progress
        )
    finally:
        scratch.close()


def measure_read_model(root: Path, config: Config, progress: Progress) -> dict[str, Measurement]:
    """Rebuild the read model of `read_model_orders` orders of 4 events, ours and the floor."""
    orders = config.read_model_orders
    write_path = root / "read-model-events.db"
    if not write_path.exists():  # the second run reuses the first run's events
        seed = floor.open_event_store(write_path)
        rows = [
            row
            for i in range(orders)
            for row in floor.event_rows(workload.order_events(str(10_000 + i), 4), ours.RECORDED_AT)
        ]
        floor.append(seed, rows)
        seed.close()
    store = ours.open_store(write_path, validate=False)
    events_total = orders * config.events_per_order
    ours_conn = read_model.open_read_model(root / "read-model-ours.db")
    floor_conn = read_model.open_read_model(root / "read-model-floor.db")
    ours.rebuild(store, ours_conn)  # untimed: the rows the floor writes are ours, precomputed
    floor_rows = floor.read_model_rows(ours_conn)

    def check_ours(replayed: int) -> None:
        if replayed != events_total or floor.count_shipped(ours_conn) != orders:
            raise AssertionError("our rebuild did not project every order as shipped")

    def check_floor(written: int) -> None:
        if written != orders or floor.count_shipped(floor_conn) != orders:
            raise AssertionError("the floor did not write every order as shipped")

    contenders = [
        Contender("ours_rebuild", lambda: lambda: ours.rebuild(store, ours_conn), check_ours),
        Contender(
            "floor_upserts", lambda: lambda: floor.rebuild(floor_conn, floor_rows), check_floor
        ),
    ]
    try:
        label = f"read model, {orders:,} orders x {config.events_per_order} events"
        return compare(
            label, contenders, warmup=config.warmup, repeats=config.repeats, progress=progress
        )
    finally:
        for resource in (store, ours_conn, floor_conn):
            resource.close()


def measure_validate(root: Path, config: Config, progress: Progress) -> dict[str, Any]:
    """`orders validate` on a JSON Lines file of `validate_events` events."""
    result = validate_scale.measure(root, config.validate_events, config.validate_rounds)
    progress.done(
        f"orders validate, {config.validate_events:,} events ({result['file_mib']:.0f} MiB)",
        {"ours": Measurement(result["runs_s"])},
    )
    return result


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "eventsourcing": metadata.version("eventsourcing"),
        "pydantic": metadata.version("pydantic"),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def sqlite_settings(root: Path) -> dict[str, str]:
    """The journal mode and sync level each side's connections actually run with."""
    store = ours.open_store(root / "settings-ours.db", validate=False)
    try:
        (journal,) = store.conn.execute("PRAGMA journal_mode").fetchone()
        (sync,) = store.conn.execute("PRAGMA synchronous").fetchone()
    finally:
        store.close()
    settings = {"ours": f"journal_mode={journal}, synchronous={_SYNCHRONOUS[sync]}"}
    app = peer.open_app(root / "settings-peer.db")
    try:
        with app.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]  # an SQLite recorder
            cursor.execute("PRAGMA journal_mode")
            (journal,) = cursor.fetchone()
            cursor.execute("PRAGMA synchronous")
            (sync,) = cursor.fetchone()
    finally:
        app.close()
    settings["peer"] = f"journal_mode={journal}, synchronous={_SYNCHRONOUS[sync]}"
    return settings


def code_version() -> dict[str, Any]:
    """The code measured: a digest of `design/order_service`, and the git commit if any."""
    repo = Path(__file__).resolve().parents[2]
    code: dict[str, Any] = {"digest": design_digest(), "commit": None, "uncommitted": []}
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "design/order_service"],
            cwd=repo,
            capture_output=True,
            text=True,
        )
    except OSError:
        return code
    if done.returncode == 0:
        code["commit"] = done.stdout.strip()
        code["uncommitted"] = sorted(line[3:] for line in status.stdout.splitlines())
    return code


def design_digest(root: Path = DESIGN) -> str:
    """SHA-256 of every source file of the design (`*.py`, `*.sql`), by relative path."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".sql") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _values(target: Target, run: dict[str, Any], n: int | None) -> tuple[float, list[float]]:
    """The target's value (ratio of medians, or median value) and its value in each round."""
    if target.group == "validate":
        rounds = run["validate"][target.numerator]
        return statistics.median(rounds), rounds
    group = run[target.group] if n is None else run[target.group][str(n)]
    num = group[target.numerator]
    assert target.denominator is not None
    den = group[target.denominator]
    rounds = [a / b for a, b in zip(num["runs_s"], den["runs_s"], strict=True)]
    return num["median_s"] / den["median_s"], rounds


def holds(operator: str, value: float, threshold: float) -> bool:
    """Whether `value` is on the right side of `threshold`."""
    return {"<=": value <= threshold, ">=": value >= threshold, "<": value < threshold}[operator]


def evaluate(target: Target, runs: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    """The target in each run; it holds only if it holds in every run (medians and rounds).

    For "every N", each run reports its worst N (the one whose median is furthest from the
    threshold's side) and holds only if every N holds.
    """
    per_run = []
    for run in runs:
        ns: list[int | None] = [None]
        if target.at == "largest":
            ns = [max(sizes)]
        elif target.at == "every":
            ns = list(sizes)
        cells: list[dict[str, Any]] = []
        for n in ns:
            value, rounds = _values(target, run, n)
            share = sum(holds(target.operator, r, target.threshold) for r in rounds) / len(rounds)
            cells.append(
                {
                    "n": n,
                    "value": value,
                    "round_range": [min(rounds), max(rounds)],
                    "rounds_holding": share,
                    "holds": holds(target.operator, value, target.threshold) and share >= MAJORITY,
                }
            )
        higher_is_better = target.operator == ">="
        worst = min(cells, key=lambda c: c["value"] if higher_is_better else -c["value"])
        per_run.append({**worst, "holds": all(c["holds"] for c in cells)})
    return {
        "id": target.id,
        "claim": target.claim,
        "operator": target.operator,
        "threshold": target.threshold,
        "runs": per_run,
        "met": all(r["holds"] for r in per_run),
    }


def _one_run(
    root: Path,
    shared: Path,
    server: Server,
    config: Config,
    progress: Progress,
    samples: list[dict[str, dict[str, pipeline.Samples]]],
    broker: Broker | None,
) -> dict[str, Any]:
    # `shared` keeps what every run reads and none changes: the 50 MB file is written once.
    sizes = config.sizes
    run = {
        "replay": {str(n): _as_json(measure_replay(n, root, config, progress)) for n in sizes},
        "optimised": measure_optimised(root, config, progress),
        "append": {str(n): _as_json(measure_append(n, root, config, progress)) for n in sizes},
        "read_model": _as_json(measure_read_model(root, config, progress)),
        "validate": measure_validate(shared, config, progress),
        "stages": stages.measure(root, max(sizes), config.repeats),
        "postgresql": postgresql.measure(
            server,
            config.pg_sizes,
            config.pg_read_model_orders,
            warmup=config.warmup,
            repeats=config.pg_repeats,
            progress=progress,
        ),
    }
    # Its samples are kept for the pooled figures; each run keeps its own summary only.
    samples.append(pipeline.measure(root, server, config.pipeline, progress, broker))
    run["pipeline"] = pipeline.as_json(samples[-1])
    return run


STAGES = {"replay": ("replay", "optimised")}
"""A stage `--only` can run alone, and the result groups it measures."""


def run_stage(config: Config, stage: str, *, workdir: Path | None = None) -> dict[str, Any]:
    """Measure one stage only (`STAGES`), `config.runs` times: a partial results document.

    It has every run's groups of that stage, pooled, with the targets on those groups and
    what was measured (machine, load, code); `merge` puts it into a full results document.
    """
    groups = STAGES[stage]
    progress = Progress(config.runs * (len(config.sizes) + 1))
    load_before = os.getloadavg()
    code = code_version()  # the code imported now is the code measured
    runs = []
    with tempfile.TemporaryDirectory(prefix="order-bench-", dir=workdir) as tmp:
        for number in range(config.runs):
            root = Path(tmp) / f"run-{number + 1}"
            root.mkdir()
            replay = {
                str(n): _as_json(measure_replay(n, root, config, progress)) for n in config.sizes
            }
            runs.append({"replay": replay, "optimised": measure_optimised(root, config, progress)})
    sizes = list(config.sizes)
    pooled_groups = pooled(runs, groups)
    return {
        "stage": stage,
        "groups": list(groups),
        "mode": config.mode,
        "config": {"sizes": sizes, "warmup": config.warmup, "repeats": config.repeats,
                   "runs": config.runs, "snapshot_interval": config.snapshot_interval},
        "machine": {**machine(), "load_average": [load_before, os.getloadavg()]},
        "code": code,
        "runs": runs,
        "measurements": pooled_groups,
        "targets": [evaluate(t, runs, sizes) for t in TARGETS if t.group in groups],
    }  # fmt: skip


def merge(full: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    """`full` with the groups and targets of `partial` (a `run_stage` document) put in.

    The sizes, rounds and number of runs must be the full run's, so every table keeps its
    meaning; `remeasured` records which groups come from which later run, and the page says so.
    """
    keys = ("sizes", "warmup", "repeats", "runs")
    if full["mode"] != "full" or partial["mode"] != "full":
        raise ValueError("only a full stage run can go into full results")
    if any(full["config"][k] != partial["config"][k] for k in keys):
        raise ValueError(f"the stage run's {keys} differ from the full run's")
    merged: dict[str, Any] = json.loads(json.dumps(full))
    for group in partial["groups"]:
        for run, stage_run in zip(merged["runs"], partial["runs"], strict=True):
            run[group] = stage_run[group]
        merged["measurements"][group] = partial["measurements"][group]
    # Every target judged again on the merged runs: a stage can change what a target reads.
    merged["targets"] = [evaluate(t, merged["runs"], full["config"]["sizes"]) for t in TARGETS]
    notes = [n for n in merged.get("remeasured", []) if n["stage"] != partial["stage"]]
    notes.append({key: partial[key] for key in ("stage", "groups", "machine", "code")})
    merged["remeasured"] = notes
    return merged


def steps(config: Config) -> int:
    """How many progress lines a run prints: one per comparison."""
    return config.runs * (2 * len(config.sizes) + 3 + 2 * len(config.pg_sizes) + 1 + 2)


def run(config: Config, *, workdir: Path | None = None, quiet: bool = False) -> dict[str, Any]:
    """Run every measurement of `config` `config.runs` times; return the results document.

    Raises `postgres_server.Unavailable` (before measuring anything) if no PostgreSQL server
    can be had, and `kafka_server.Unavailable` if no Kafka broker can be had in a full run (a
    quick run then leaves the pipeline's `kafka` variant out, and says so).
    """
    server = postgresql.start(os.environ)
    try:
        broker = start_broker(config, quiet=quiet)
    except NoKafka:
        server.stop()
        raise
    try:
        return _run(config, server, broker, workdir=workdir, quiet=quiet)
    finally:
        if broker is not None:
            broker.stop()
        server.stop()


def start_broker(config: Config, *, quiet: bool) -> Broker | None:
    """The pipeline's Kafka broker; None in quick mode when there is none (a line says why)."""
    try:
        return Broker.start(os.environ)
    except NoKafka as missing:
        if config.mode == "full":
            raise
        if not quiet:
            print(f"benchmark: no Kafka variant in the pipeline: {missing}", file=sys.stderr)
        return None


def _run(
    config: Config, server: Server, broker: Broker | None, *, workdir: Path | None, quiet: bool
) -> dict[str, Any]:
    progress = Progress(steps(config), quiet=quiet)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="order-bench-", dir=workdir) as tmp:
        root = Path(tmp)
        runs = []
        samples: list[dict[str, dict[str, pipeline.Samples]]] = []
        for number in range(config.runs):
            run_root = root / f"run-{number + 1}"
            run_root.mkdir()
            runs.append(_one_run(run_root, root, server, config, progress, samples, broker))
        settings = sqlite_settings(root)
    sizes = list(config.sizes)
    return {
        "format": RESULTS_FORMAT,
        "mode": config.mode,
        "config": {
            "sizes": sizes,
            "warmup": config.warmup,
            "repeats": config.repeats,
            "runs": config.runs,
            "majority": MAJORITY,
            "read_model_orders": config.read_model_orders,
            "events_per_order": config.events_per_order,
            "snapshot_interval": config.snapshot_interval,
            "validate_events": config.validate_events,
            "validate_rounds": config.validate_rounds,
            "postgresql": {
                "sizes": list(config.pg_sizes),
                "repeats": config.pg_repeats,
                "read_model_orders": config.pg_read_model_orders,
            },
            "pipeline": pipeline.configuration(config.pipeline, broker),
        },
        "sqlite_settings": settings,
        "postgresql_settings": postgresql.settings(server),
        "machine": {**machine(), "load_average": [load_before, os.getloadavg()]},
        "code": code_version(),
        "runs": runs,
        "measurements": {**pooled(runs), "pipeline": pipeline.pool(samples)},
        "targets": [
            evaluate(t, runs, sizes) if config.mode == "full" else _unjudged(t, runs, sizes)
            for t in TARGETS
        ],
    }


def _unjudged(target: Target, runs: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    # Quick mode: thresholds are set at the full run's sizes; a verdict at N = 100 means nothing.
    judged = evaluate(target, runs, sizes)
    for cell in judged["runs"]:
        cell["holds"] = None
    return {**judged, "met": None}


def pooled(runs: list[dict[str, Any]], groups: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Every timed group with the rounds of all runs together: what the tables show.

    `groups` limits it to those groups measured by size (a stage run).
    """

    def pool(cells: list[dict[str, Any]]) -> dict[str, Any]:
        rounds = [r for cell in cells for r in cell["runs_s"]]
        return {"median_s": statistics.median(rounds), "runs_s": rounds}

    def by_size(runs: list[dict[str, Any]], group: str) -> dict[str, Any]:
        return {
            n: {name: pool([run[group][n][name] for run in runs]) for name in runs[0][group][n]}
            for n in runs[0][group]
        }

    def read_model(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            name: pool([run["read_model"][name] for run in runs]) for name in runs[0]["read_model"]
        }

    out: dict[str, Any] = {
        group: by_size(runs, group) for group in groups or ("replay", "optimised", "append")
    }
    if groups is not None:
        return out
    out["read_model"] = read_model(runs)
    pg_runs = [run["postgresql"] for run in runs]
    out["postgresql"] = {
        "replay": by_size(pg_runs, "replay"),
        "append": by_size(pg_runs, "append"),
        "read_model": read_model(pg_runs),
    }
    return out


def _as_json(results: dict[str, Measurement]) -> dict[str, Any]:
    return {name: m.as_json() for name, m in results.items()}


def write(results: dict[str, Any], path: Path) -> None:
    """Write the results document as stable, reviewable JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
