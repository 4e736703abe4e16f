"""Where our replay's time goes, timed stage by stage (no profiler: it inflates Python calls).

Each stage of `handlers.load_order`'s full replay is run on its own, on the previous stage's
output, with the garbage collector collected before and paused during it; `free` is dropping
the rows, payloads and envelopes a replay leaves behind. The median of the rounds is kept.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from order_service.model.fold import CURRENT_SCHEMA_VERSIONS, fold
from order_service.model.upcasting import upcast
from order_service.write.store import FOLD_COLUMNS, _fold_envelopes
from pydantic_core import from_json

from order_service_bench import ours, workload

STAGES = ("fetch", "json", "envelopes", "upcast", "fold", "free")


def _timed(step: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        result = step(*args)
        return (time.perf_counter_ns() - start) / 1e9, result
    finally:
        gc.enable()


def measure(root: Path, n: int, rounds: int) -> dict[str, Any]:
    """Median seconds of each stage of a full replay of an order of `n` events."""
    order_id = str(4000 + n)
    store = ours.open_store(root / f"stages-{n}.db")
    store.append(workload.order_events(order_id, n), expected_version=0)
    sql = f"SELECT {FOLD_COLUMNS} FROM order_events WHERE order_id = ? ORDER BY version"
    cursor = store.conn.cursor()
    cursor.row_factory = None
    runs: dict[str, list[float]] = {stage: [] for stage in STAGES}
    try:
        for _ in range(rounds):
            seconds, rows = _timed(lambda: cursor.execute(sql, (order_id,)).fetchall())
            runs["fetch"].append(seconds)
            seconds, _ = _timed(_parse, rows)
            runs["json"].append(seconds)
            # The envelopes stage is the store's whole decoding less the JSON measured above.
            seconds, events = _timed(_fold_envelopes, rows, [order_id] * len(rows))
            runs["envelopes"].append(max(seconds - runs["json"][-1], 0.0))
            seconds, current = _timed(_upcast_outdated, rows, events)
            runs["upcast"].append(seconds)
            seconds, _ = _timed(fold, current)
            runs["fold"].append(seconds)
            seconds, _ = _timed(_drop, rows, events)
            runs["free"].append(seconds)
    finally:
        store.close()
    return {"n": n, "rounds": rounds, "median_s": {s: statistics.median(runs[s]) for s in STAGES}}


def _upcast_outdated(rows: list[tuple[Any, ...]], events: list[Any]) -> list[Any]:
    # What `EventStore.load(upcast=True)` does after decoding: lift only the outdated rows.
    current = CURRENT_SCHEMA_VERSIONS.get
    for index in [i for i, row in enumerate(rows) if current(row[2]) != row[3]]:
        events[index] = upcast(events[index])
    return events


def _parse(rows: list[tuple[Any, ...]]) -> Any:
    return from_json("[" + ",".join([row[5] for row in rows]) + "]")  # as `_fold_envelopes`


def _drop(*values: list[Any]) -> None:
    for value in values:
        value.clear()
