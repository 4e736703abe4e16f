"""`orders validate` at CI scale: a JSON Lines file of about 50 MB, in its own process.

The file holds whole orders of the workload (42 events each), one event per line. Each round
runs `orders validate FILE` in a fresh interpreter, as a CI job would, start-up included, and
keeps three figures: its wall time; its CPU time (user + system, from the kernel), which is
what "events per second on one core" divides by, and which other work on a shared machine
does not inflate; and its peak resident memory, `VmHWM` read by the child just before it
exits (a parent's `ru_maxrss` would count the memory of the benchmark it was forked from).

    python -m order_service_bench.validate_scale FILE   # orders validate FILE, then VmHWM
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from order_service.entrypoints import cli

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
    runs = [_run(path, events) for _ in range(rounds)]
    return {
        "events": events,
        "file_mib": path.stat().st_size / 2**20,
        "runs_s": [wall for wall, _, _ in runs],
        "cpu_s": [cpu for _, cpu, _ in runs],
        "events_per_s": [events / cpu for _, cpu, _ in runs],
        "peak_mib": [peak for _, _, peak in runs],
    }


def _run(path: Path, events: int) -> tuple[float, float, float]:
    command = [sys.executable, "-m", "order_service_bench.validate_scale", str(path)]
    out_path, err_path = path.with_suffix(".out"), path.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:  # files: no pipe to fill up
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    printed, summary = out_path.read_text("utf-8"), err_path.read_text("utf-8").strip()
    peak = PEAK.fullmatch(printed.strip())
    if child.returncode != 0 or peak is None or summary != VALID.format(events):
        raise AssertionError(f"orders validate judged the valid file otherwise: {summary}")
    return seconds, usage.ru_utime + usage.ru_stime, int(peak[1]) / 1024


VALID = "orders: {} event(s) valid"
PEAK = re.compile(r"VmHWM:\s+(\d+) kB")


def main(argv: list[str] | None = None) -> int:
    """Run `orders validate FILE`; then print this process's peak memory (`VmHWM`)."""
    status = cli.main(["validate", *(argv if argv is not None else sys.argv[1:])])
    sys.stdout.flush()
    status_file = Path("/proc/self/status").read_text(encoding="ascii")
    print(next(line for line in status_file.splitlines() if line.startswith("VmHWM:")))
    return status


if __name__ == "__main__":
    sys.exit(main())
