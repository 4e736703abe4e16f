"""The `python -O` worker: replay timed where `eventsourcing` runs its fastest configuration.

`-O` strips `assert` statements, and with them the runtime-Protocol `isinstance` check that
`eventsourcing` makes for every event it replays; the optimised peers only exist in such a
process. Ours and the floor are timed in the same interleaved rounds, as controls: their
ratio to the main process's figures shows that `-O` changes nothing for them. Loads from a
snapshot at the head and one event behind it are timed here too, ours against the peer's
fastest transcoder.

    python -O -m order_service_bench.worker --sizes 10 100 --warmup 1 --repeats 2 DIR

prints `{"<N>": {"<contender>": {"median_s", "runs_s"}}}` on standard output.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any, cast

from order_service_bench import floor, ours, peer, workload
from order_service_bench.timing import Contender, Measurement, Progress, compare

OPTIMISED = ("ours_full_O", "floor_fold_O", "peer_full_O", "peer_full_O_orjson",
             "peer_full_O_minimal", "ours_snapshot_latest_O", "ours_snapshot_behind_1_O",
             "peer_snapshot_latest_O_minimal", "peer_snapshot_behind_1_O_minimal")  # fmt: skip
TRANSCODERS = ("json", "orjson", "minimal")


def checker(expected: dict[str, Any], summarise: Any) -> Any:
    """A check that fails the run when a contender derived another order than `expected`."""

    def check(result: Any) -> None:
        got = summarise(result)
        if got != expected:
            raise AssertionError(f"a contender derived {got}, expected {expected}")

    return check


def measure(n: int, root: Path, warmup: int, repeats: int) -> dict[str, Measurement]:
    """Rebuild one order of `n` events every way, interleaved, in this (`-O`) process."""
    order_id = str(5000 + n)
    events = workload.order_events(order_id, n)
    expected = workload.expected_summary(n)
    stores = {}
    for at in (0, n, n - 1):  # no snapshot, one at the head, one an event behind it
        stores[at] = store = ours.open_store(root / f"optimised-ours-{n}-{at}.db")
        store.append(events, expected_version=0)
        ours.save_snapshot_at(store, events, at)
    floor_conn = sqlite3.connect(cast(Path, stores[0].path))  # an SQLite store: it has a path
    apps = {}
    for transcoder, at in [*((t, 0) for t in TRANSCODERS), ("minimal", n), ("minimal", n - 1)]:
        path = root / f"optimised-peer-{transcoder}-{n}-{at}.db"
        app = peer.open_app(path, snapshots=bool(at), transcoder=transcoder)
        aggregate = peer.build_order(events)
        app.save(aggregate)
        if at:
            app.take_snapshot(aggregate.id, version=at)
        apps[transcoder, at] = (app, aggregate.id)

    def peer_get(transcoder: str, at: int = 0) -> Any:
        app, aggregate_id = apps[transcoder, at]
        return lambda: lambda: app.repository.get(aggregate_id)

    def ours_get(at: int) -> Any:
        return lambda: lambda: ours.replay(stores[at], order_id)

    check_peer = checker(expected, peer.summary)
    check_ours = checker(expected, ours.summary)
    contenders = [
        Contender("ours_full_O", ours_get(0), check_ours),
        Contender(
            "floor_fold_O",
            lambda: lambda: floor.fold(floor_conn, order_id),
            checker(expected, floor.summary),
        ),
        Contender("peer_full_O", peer_get("json"), check_peer),
        Contender("peer_full_O_orjson", peer_get("orjson"), check_peer),
        Contender("peer_full_O_minimal", peer_get("minimal"), check_peer),
        Contender("ours_snapshot_latest_O", ours_get(n), check_ours),
        Contender("ours_snapshot_behind_1_O", ours_get(n - 1), check_ours),
        Contender("peer_snapshot_latest_O_minimal", peer_get("minimal", n), check_peer),
        Contender("peer_snapshot_behind_1_O_minimal", peer_get("minimal", n - 1), check_peer),
    ]
    try:
        progress = Progress(1, quiet=True)
        return compare(f"-O N={n}", contenders, warmup=warmup, repeats=repeats, progress=progress)
    finally:
        for store in stores.values():
            store.close()
        floor_conn.close()
        for app, _ in apps.values():
            app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -O -m order_service_bench.worker")
    parser.add_argument("--sizes", type=int, nargs="+", required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("workdir", type=Path)
    args = parser.parse_args(argv)
    if sys.flags.optimize < 1:
        parser.error("run me with python -O: the optimised peers need asserts stripped")
    results = {
        str(n): {
            name: m.as_json()
            for name, m in measure(n, args.workdir, args.warmup, args.repeats).items()
        }
        for n in args.sizes
    }
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
