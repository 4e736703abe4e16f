"""`orders validate` at CI scale: a JSON Lines file of about 50 MB, in its own process.

The file holds whole orders of the workload (42 events each), one event per line. Each round
runs `orders validate FILE` as a CI job would (a fresh interpreter, start-up included) and
keeps its wall time and its peak resident memory (the child's `ru_maxrss`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from order_service_bench import workload

EVENTS_PER_ORDER = 42


def write_file(path: Path, events: int) -> int:
    """Write `events` valid events of whole orders as JSON Lines; return the file's size."""
    written = 0
    with path.open("w", encoding="utf-8") as file:
        order = 0
        while written < events:
            for event in workload.order_events(str(100_000 + order), EVENTS_PER_ORDER):
                if written == events:
                    break
                file.write(json.dumps(event) + "\n")
                written += 1
            order += 1
    return path.stat().st_size


def measure(root: Path, events: int, rounds: int) -> dict[str, Any]:
    """Validate a file of `events` events `rounds` times; events per second and peak memory."""
    path = root / "ci-scale.jsonl"
    if not path.exists():
        write_file(path, events)
    runs_s, peaks = [], []
    for _ in range(rounds):
        seconds, peak = _run(path, events)
        runs_s.append(seconds)
        peaks.append(peak)
    return {
        "events": events,
        "file_mib": path.stat().st_size / 2**20,
        "runs_s": runs_s,
        "events_per_s": [events / s for s in runs_s],
        "peak_mib": peaks,
    }


def _run(path: Path, events: int) -> tuple[float, float]:
    command = [sys.executable, "-m", "order_service.cli", "validate", str(path)]
    out_path, err_path = path.with_suffix(".out"), path.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:  # files: no pipe to fill up
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own peak memory, not ours
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    printed, summary = out_path.read_text("utf-8"), err_path.read_text("utf-8").strip()
    if child.returncode != 0 or printed or summary != VALID.format(events):
        raise AssertionError(f"orders validate judged the valid file otherwise: {summary}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


VALID = "orders: {} event(s) valid"
