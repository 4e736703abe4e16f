"""The benchmark suite: what is measured, on which data, and which targets the ratios meet.

Three groups, each timed in interleaved comparisons:

- replay: rebuild one order of N events (ours full, ours from a snapshot, the peer, the bare fold);
- append: write the N events in one transaction (ours, the peer, a bare `executemany`);
- read model: rebuild `order_summary` for many orders of 4 events (ours, a bare upsert loop).

Then one cProfile run of our replay and append at the largest N says where our time goes.

Every timed call's result is checked (all contenders must derive the same order), so a
contender cannot win by doing less.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import itertools
import json
import os
import platform
import pstats
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from order_service import projections

from order_service_bench import bare, ours, peer, workload
from order_service_bench.timing import Contender, Measurement, Progress, compare

RESULTS_FORMAT = 1


@dataclass(frozen=True)
class Config:
    """How big and how often: the full run and the quick run differ only here."""

    mode: str
    sizes: tuple[int, ...]
    warmup: int
    repeats: int
    read_model_orders: int
    snapshot_interval: int = 100
    events_per_order: int = 4


FULL = Config(
    mode="full", sizes=(10, 100, 1_000, 10_000), warmup=2, repeats=15, read_model_orders=10_000
)
QUICK = Config(mode="quick", sizes=(10, 100), warmup=1, repeats=2, read_model_orders=50)

REPLAY = ("ours_full", "ours_snapshot_latest", "ours_snapshot_every_100", "peer_full",
          "peer_snapshot_latest", "peer_snapshot_every_100", "bare_fold")  # fmt: skip
APPEND = ("ours", "ours_synchronous_full", "ours_unvalidated", "peer", "bare_executemany")
READ_MODEL = ("ours_rebuild", "bare_upserts")

# Each target: (id, what it claims, numerator, denominator, operator, threshold).
# A ratio is numerator / denominator at the largest N; ">=" means "at least that many times".
TARGETS: tuple[tuple[str, str, tuple[str, str], tuple[str, str], str, float], ...] = (
    ("replay_vs_peer", "full replay at least 5x faster than eventsourcing",
     ("replay", "peer_full"), ("replay", "ours_full"), ">=", 5.0),
    ("replay_vs_bare", "full replay within 1.5x of the bare json.loads fold",
     ("replay", "ours_full"), ("replay", "bare_fold"), "<=", 1.5),
    ("snapshot_vs_full", "replay from the latest snapshot at least 100x faster than full replay",
     ("replay", "ours_full"), ("replay", "ours_snapshot_latest"), ">=", 100.0),
    ("append_vs_peer", "appending at least as fast as eventsourcing",
     ("append", "peer"), ("append", "ours"), ">=", 1.0),
    ("read_model_vs_bare", "read-model rebuild within 2x of the bare upsert loop",
     ("read_model", "ours_rebuild"), ("read_model", "bare_upserts"), "<=", 2.0),
)  # fmt: skip


def snapshot_version(n_events: int, policy: str, interval: int) -> int:
    """Where the snapshot sits: at the head ("latest"), or `interval - 1` events behind it.

    A snapshot every `interval` events leaves 0 to `interval - 1` events after it; "latest"
    measures the best case, "every" the worst. An order shorter than that has no snapshot (0).
    """
    if policy == "latest":
        return n_events
    return n_events - (interval - 1) if n_events >= interval else 0


class Scratch:
    """A fresh database file per run of a contender; the previous run's is closed and removed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.counter = itertools.count()
        self.files: dict[str, Path] = {}
        self.held: dict[str, Any] = {}

    def fresh(self, tag: str) -> Path:
        self._release(tag)
        path = self.root / f"append-{tag}-{next(self.counter)}.db"
        self.files[tag] = path
        return path

    def hold(self, tag: str, resource: Any) -> Any:
        """Keep `resource` (a connection, a store, an application) open until the next run."""
        self.held[tag] = resource
        return resource

    def close(self) -> None:
        for tag in list(self.files):
            self._release(tag)

    def _release(self, tag: str) -> None:
        resource = self.held.pop(tag, None)
        if resource is not None:
            resource.close()
        old = self.files.pop(tag, None)
        if old is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{old}{suffix}").unlink(missing_ok=True)


def _checker(expected: dict[str, Any], summarise: Any) -> Any:
    def check(result: Any) -> None:
        got = summarise(result)
        if got != expected:
            raise AssertionError(f"a contender derived {got}, expected {expected}")

    return check


def measure_replay(
    n: int, root: Path, config: Config, progress: Progress
) -> dict[str, Measurement]:
    """Rebuild one order of `n` events, every way, interleaved."""
    order_id = str(1000 + n)
    events = workload.order_events(order_id, n)
    expected = workload.expected_summary(n)
    interval = config.snapshot_interval

    stores = {}
    for policy in ("full", "latest", "every"):
        store = ours.open_store(root / f"replay-ours-{policy}-{n}.db")
        store.append(events, expected_version=0)
        if policy != "full":
            ours.save_snapshot_at(store, events, snapshot_version(n, policy, interval))
        stores[policy] = store

    def ours_load(policy: str) -> Any:
        return lambda: lambda: ours.replay(stores[policy], order_id)

    bare_conn = sqlite3.connect(stores["full"].path)

    peer_app = peer.open_app(root / f"replay-peer-{n}.db")
    aggregate = peer.build_order(events)
    peer_app.save(aggregate)
    peer_snap_apps = {}
    for policy in ("latest", "every"):
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
        Contender("ours_snapshot_every_100", ours_load("every"), check_ours),
        Contender("peer_full", peer_get(peer_app, aggregate.id), check_peer),
        Contender("peer_snapshot_latest", peer_get(*peer_snap_apps["latest"]), check_peer),
        Contender("peer_snapshot_every_100", peer_get(*peer_snap_apps["every"]), check_peer),
        Contender(
            "bare_fold",
            lambda: lambda: bare.fold(bare_conn, order_id),
            _checker(expected, bare.summary),
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
        bare_conn.close()
        peer_app.close()
        for app, _ in peer_snap_apps.values():
            app.close()


def measure_append(
    n: int, root: Path, config: Config, progress: Progress
) -> dict[str, Measurement]:
    """Append `n` new events of one order in one transaction, every way, interleaved."""
    scratch = Scratch(root)
    order_id = str(2000 + n)
    events = workload.order_events(order_id, n)
    rows = bare.event_rows(events, ours.RECORDED_AT)

    def prepare_ours(variant: str = "ours") -> Any:
        store = ours.open_store(scratch.fresh(variant), validate=variant != "ours_unvalidated")
        if variant == "ours_synchronous_full":
            store.conn.execute("PRAGMA synchronous=FULL")  # what eventsourcing's connections use
        scratch.hold(variant, store)
        return lambda: store.append(events, expected_version=0)

    def prepare_peer() -> Any:
        app = scratch.hold("peer", peer.open_app(scratch.fresh("peer")))
        aggregate = peer.build_order(events)
        return lambda: (app.save(aggregate), aggregate.version)[1]

    def prepare_bare() -> Any:
        conn = scratch.hold("bare", bare.open_event_store(scratch.fresh("bare")))
        return lambda: bare.append(conn, rows)

    def check(version: int) -> None:
        if version != n:
            raise AssertionError(f"an append returned version {version}, expected {n}")

    contenders = [
        Contender("ours", prepare_ours, check),
        Contender("ours_synchronous_full", lambda: prepare_ours("ours_synchronous_full"), check),
        Contender("ours_unvalidated", lambda: prepare_ours("ours_unvalidated"), check),
        Contender("peer", prepare_peer, check),
        Contender("bare_executemany", prepare_bare, check),
    ]
    try:
        label = f"append N={n:,}"
        return compare(
            label, contenders, warmup=config.warmup, repeats=config.repeats, progress=progress
        )
    finally:
        scratch.close()


def measure_read_model(root: Path, config: Config, progress: Progress) -> dict[str, Measurement]:
    """Rebuild the read model of `read_model_orders` orders of 4 events, ours and bare."""
    orders = config.read_model_orders
    write_path = root / "read-model-events.db"
    seed = ours.open_store(write_path, validate=False)
    # One bulk insert of valid events for the set-up: the write path is timed elsewhere.
    rows = [
        row
        for i in range(orders)
        for row in bare.event_rows(workload.order_events(str(10_000 + i), 4), ours.RECORDED_AT)
    ]
    seed.conn.execute("BEGIN")
    seed.conn.executemany(bare.INSERT_EVENT, rows)
    seed.conn.execute("COMMIT")
    store = ours.open_store(write_path, validate=False)
    events_total = orders * config.events_per_order

    read_ours = root / "read-model-ours.db"
    read_bare = root / "read-model-bare.db"
    ours_conn = projections.open_read_model(read_ours)
    bare_conn = bare.open_read_model(read_bare)
    bare_source = sqlite3.connect(write_path)

    def check_ours(replayed: int) -> None:
        if replayed != events_total or bare.count_shipped(ours_conn, "order_summary") != orders:
            raise AssertionError("our rebuild did not project every order as shipped")

    def check_bare(replayed: int) -> None:
        if replayed != events_total or bare.count_shipped(bare_conn, "bare_summary") != orders:
            raise AssertionError("the bare loop did not project every order as shipped")

    contenders = [
        Contender("ours_rebuild", lambda: lambda: ours.rebuild(store, ours_conn), check_ours),
        Contender("bare_upserts", lambda: lambda: bare.rebuild(bare_source, bare_conn), check_bare),
    ]
    try:
        label = f"read model, {orders:,} orders x {config.events_per_order} events"
        return compare(
            label, contenders, warmup=config.warmup, repeats=config.repeats, progress=progress
        )
    finally:
        for resource in (seed, store, ours_conn, bare_conn, bare_source):
            resource.close()


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


def _cumulative(stats: pstats.Stats, module: str, function: str) -> float:
    """Seconds spent inside `module.function` (callees included) in a cProfile run."""
    total = 0.0
    for (filename, _line, name), row in stats.stats.items():
        if name == function and Path(filename).name == f"{module}.py":
            total += row[3]
    return total


def profile(root: Path, n: int) -> dict[str, Any]:
    """Where our time goes at N = `n`: one cProfile run of a full replay and of an append."""
    order_id = str(3000 + n)
    events = workload.order_events(order_id, n)
    store = ours.open_store(root / f"profile-{n}.db")
    profiler = cProfile.Profile()
    try:
        profiler.runcall(store.append, events, expected_version=0)
        append = pstats.Stats(profiler)
        profiler = cProfile.Profile()
        profiler.runcall(ours.replay, store, order_id)
        replay = pstats.Stats(profiler)
    finally:
        store.close()
    replay_total = _cumulative(replay, "handlers", "load_order")
    append_total = _cumulative(append, "store", "append")
    return {
        "n": n,
        "tool": "cProfile",
        "replay": {
            "EventStore.load": _cumulative(replay, "store", "load") / replay_total,
            "json.loads": _cumulative(replay, "__init__", "loads") / replay_total,
            "fold": _cumulative(replay, "fold", "fold") / replay_total,
        },
        "append": {
            "validation": _cumulative(append, "events", "parse_event") / append_total,
            "json serialisation": _cumulative(append, "store", "_compact") / append_total,
        },
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
        with app.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA journal_mode")
            (journal,) = cursor.fetchone()
            cursor.execute("PRAGMA synchronous")
            (sync,) = cursor.fetchone()
    finally:
        app.close()
    settings["peer"] = f"journal_mode={journal}, synchronous={_SYNCHRONOUS[sync]}"
    return settings


def code_version() -> dict[str, Any]:
    """The commit measured, and any file under design/ that differed from it."""
    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
        return done.stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        changed = sorted(
            line[3:] for line in git("status", "--porcelain", "--", "design").splitlines()
        )
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "uncommitted": []}
    return {"commit": commit, "uncommitted": changed}


def evaluate(measurements: dict[str, Any], largest: int) -> list[dict[str, Any]]:
    """Each target's ratio at N = `largest` (read model: its one size), and whether it is met.

    The ratio is of the two medians. `round_ratios` gives the lowest and highest ratio of the
    two contenders' timings in the same round (rounds are interleaved), a view of the noise.
    """

    def cell(group: str, name: str) -> dict[str, Any]:
        table = measurements[group]
        return table[name] if group == "read_model" else table[str(largest)][name]

    results = []
    for target_id, claim, (num_group, num_name), (den_group, den_name), op, threshold in TARGETS:
        num, den = cell(num_group, num_name), cell(den_group, den_name)
        ratio = num["median_s"] / den["median_s"]
        per_round = [a / b for a, b in zip(num["runs_s"], den["runs_s"], strict=True)]
        results.append(
            {
                "id": target_id,
                "claim": claim,
                "numerator": f"{num_group}.{num_name}",
                "denominator": f"{den_group}.{den_name}",
                "operator": op,
                "threshold": threshold,
                "ratio": ratio,
                "round_ratios": [min(per_round), max(per_round)],
                "met": ratio >= threshold if op == ">=" else ratio <= threshold,
            }
        )
    return results


def run(config: Config, *, workdir: Path | None = None, quiet: bool = False) -> dict[str, Any]:
    """Run every measurement of `config` and return the results document."""
    steps = 2 * len(config.sizes) + 1
    progress = Progress(steps, quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="order-bench-", dir=workdir) as tmp:
        root = Path(tmp)
        replay = {str(n): _as_json(measure_replay(n, root, config, progress)) for n in config.sizes}
        append = {str(n): _as_json(measure_append(n, root, config, progress)) for n in config.sizes}
        read_model = _as_json(measure_read_model(root, config, progress))
        settings = sqlite_settings(root)
        profiled = profile(root, max(config.sizes))
    measurements = {"replay": replay, "append": append, "read_model": read_model}
    return {
        "format": RESULTS_FORMAT,
        "mode": config.mode,
        "config": {
            "sizes": list(config.sizes),
            "warmup": config.warmup,
            "repeats": config.repeats,
            "read_model_orders": config.read_model_orders,
            "events_per_order": config.events_per_order,
            "snapshot_interval": config.snapshot_interval,
        },
        "sqlite_settings": settings,
        "profile": profiled,
        "machine": machine(),
        "code": code_version(),
        "measurements": measurements,
        "targets": evaluate(measurements, max(config.sizes)),
    }


def _as_json(results: dict[str, Measurement]) -> dict[str, Any]:
    return {name: m.as_json() for name, m in results.items()}


def write(results: dict[str, Any], path: Path) -> None:
    """Write the results document as stable, reviewable JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
