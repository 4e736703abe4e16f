"""`python -m order_service_bench`: run the benchmark, write the results, render the page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from order_service_bench import run

DEFAULT_RESULTS = Path("design/order_service_bench/results.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m order_service_bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small N, few repeats (the tests' mode)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="results file to write")
    parser.add_argument(
        "--workdir", type=Path, help="where the scratch databases go (default: the temp dir)"
    )
    args = parser.parse_args(argv)
    config = run.QUICK if args.quick else run.FULL
    print(
        f"benchmark ({config.mode}): N = {', '.join(f'{n:,}' for n in config.sizes)}; "
        f"{config.warmup} warm-up + {config.repeats} timed rounds each",
        file=sys.stderr,
    )
    results = run.run(config, workdir=args.workdir)
    run.write(results, args.out)
    for target in results["targets"]:
        verdict = "pass" if target["met"] else "MISS"
        print(
            f"{verdict}: {target['claim']}: {target['ratio']:.2f} "
            f"(target {target['operator']} {target['threshold']:g})",
            file=sys.stderr,
        )
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
