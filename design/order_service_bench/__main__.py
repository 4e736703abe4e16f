"""`python -m order_service_bench`: run the benchmark, write the results, render the page."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from order_service_bench import kafka_server, run
from order_service_bench.postgres_server import Unavailable

DEFAULT_RESULTS = Path("design/order_service_bench/results.json")


def verdict_lines(results: dict[str, Any]) -> list[str]:
    """One line per target: its value in each run and, in a full run only, pass or MISS."""
    lines = []
    for target in results["targets"]:
        values = ", ".join(
            f"run {i}: {cell['value']:,.2f} (rounds {cell['round_range'][0]:,.2f} to "
            f"{cell['round_range'][1]:,.2f})"
            for i, cell in enumerate(target["runs"], 1)
        )
        wanted = f"{target['operator']} {target['threshold']:g}"
        if target["met"] is None:
            lines.append(f"{target['claim']} ({wanted}): {values}")
        else:
            verdict = "pass" if target["met"] else "MISS"
            lines.append(f"{verdict}: {target['claim']} ({wanted}): {values}")
    if results["mode"] != "full":
        lines.append(
            f"{results['mode']} mode: no verdicts (the thresholds are set for the full run)"
        )
    return lines


def only(config: run.Config, stage: str, out: Path, workdir: Path | None) -> int:
    """Re-measure one stage and merge it into the full results in `out` (rendered later)."""
    full = json.loads(out.read_text(encoding="utf-8"))
    print(f"benchmark: the {stage} stage alone, into {out}", file=sys.stderr)
    partial = run.run_stage(config, stage, workdir=workdir)
    merged = run.merge(full, partial)
    run.write(merged, out)
    for line in verdict_lines({**merged, "targets": partial["targets"]}):
        print(line, file=sys.stderr)
    print(f"wrote {out}: run `python -m order_service_bench.page` to render it", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m order_service_bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small N, few repeats (the tests' mode)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="results file to write")
    parser.add_argument(
        "--workdir", type=Path, help="where the scratch databases go (default: the temp dir)"
    )
    parser.add_argument(
        "--only",
        choices=sorted(run.STAGES),
        help="measure this stage alone and put it into the results file given by --out",
    )
    args = parser.parse_args(argv)
    config = run.QUICK if args.quick else run.FULL
    if args.only:
        return only(config, args.only, args.out, args.workdir)
    print(
        f"benchmark ({config.mode}): N = {', '.join(f'{n:,}' for n in config.sizes)}; "
        f"{config.warmup} warm-up + {config.repeats} timed rounds each, {config.runs} run(s)",
        file=sys.stderr,
    )
    try:
        results = run.run(config, workdir=args.workdir)
    except Unavailable as missing:
        print(
            f"benchmark: no PostgreSQL server for its PostgreSQL section: {missing}",
            file=sys.stderr,
        )
        return 2
    except kafka_server.Unavailable as missing:
        print(f"benchmark: no Kafka broker for its pipeline section: {missing}", file=sys.stderr)
        return 2
    run.write(results, args.out)
    for line in verdict_lines(results):
        print(line, file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
