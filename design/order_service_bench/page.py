"""The performance page's figures, generated from the results file: one source of truth.

`docs/design/performance.md` is hand-written prose with generated blocks between
`<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers; `render_blocks` makes those blocks
and `render_svg` the chart from a results document. `python -m order_service_bench.page`
rewrites both from the committed results; a test fails when the page or the chart differ from
what the results give.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from order_service_bench.timing import format_seconds

RESULTS = Path("design/order_service_bench/results.json")
PAGE = Path("docs/design/performance.md")
CHART = Path("docs/design/performance-replay.svg")

BLOCK = re.compile(
    r"(<!-- bench:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /bench:(?P=name) -->)", re.S
)

REPLAY_LABELS = {
    "ours_full": "ours, full replay",
    "ours_snapshot_latest": "ours, from the latest snapshot",
    "ours_snapshot_behind_1": "ours, snapshot one event behind the head",
    "ours_snapshot_every_100": "ours, snapshot every 100 (99 events after it)",
    "peer_full": "eventsourcing (default), full replay",
    "peer_snapshot_latest": "eventsourcing (default), from the latest snapshot",
    "peer_snapshot_behind_1": "eventsourcing (default), snapshot one event behind the head",
    "peer_snapshot_every_100": "eventsourcing (default), snapshot every 100 (99 events after it)",
    "floor_fold": "true floor: 2 columns, one batched JSON parse, integer cents, dict fold",
    "ours_snapshot_write": "ours: taking and writing a snapshot at the head",
}
PEER_LABELS = {
    ("replay", "peer_full"): "eventsourcing, default configuration",
    ("optimised", "peer_full_O"): "eventsourcing under `python -O` (JSON transcoder)",
    (
        "optimised",
        "peer_full_O_orjson",
    ): "eventsourcing under `python -O`, generic orjson transcoder",
    (
        "optimised",
        "peer_full_O_minimal",
    ): "eventsourcing under `python -O`, minimal orjson transcoder",
    ("replay", "ours_full"): "ours: `load_order`",
    ("optimised", "ours_full_O"): "ours under `python -O` (control)",
    ("replay", "floor_fold"): "true floor",
    ("optimised", "floor_fold_O"): "true floor under `python -O` (control)",
}
APPEND_LABELS = {
    "ours": "ours: `EventStore.append` (validated, outbox rows), `synchronous=NORMAL`",
    "ours_synchronous_full": "ours at `synchronous=FULL` (eventsourcing's durability)",
    "peer": "eventsourcing: `Application.save` (`synchronous=FULL`)",
    "floor_executemany": "true floor: one `executemany`, `synchronous=NORMAL`",
}
READ_MODEL_LABELS = {
    "ours_rebuild": "ours: `projections.rebuild`",
    "floor_upserts": "true floor: `executemany` upserts of the precomputed rows",
}
PG_REPLAY_LABELS = {
    "ours_full": "ours, full replay",
    "ours_snapshot_latest": "ours, from the latest snapshot",
    "peer_full": "eventsourcing, full replay",
    "peer_snapshot_latest": "eventsourcing, from the latest snapshot",
    "floor_fold": "bare psycopg floor: 2 columns, one batched JSON parse, dict fold",
}
PG_APPEND_LABELS = {
    "ours": "ours: `EventStore.append` (validated, outbox rows)",
    "peer": "eventsourcing: `Application.save`",
    "floor_executemany": "bare psycopg floor: one `executemany`",
}
PG_READ_MODEL_LABELS = {
    "ours_rebuild": "ours: `projections.rebuild`",
    "floor_upserts": "bare psycopg floor: `executemany` upserts of the precomputed rows",
}
STAGE_LABELS = {
    "fetch": "SQLite: fetch the six columns a fold reads",
    "json": "one batched JSON parse of every `data` column",
    "envelopes": "building the envelope dicts",
    "upcast": "finding the rows to upcast (none are outdated here)",
    "fold": "the fold: stream checks and applying each event",
    "free": "freeing rows, payloads and envelopes",
}
# (group, series, label, colour, dash pattern, marker): Okabe-Ito colours, told apart by shape.
CHART_SERIES = (
    ("replay", "peer_full", "eventsourcing, default", "#D55E00", "", "square"),
    ("optimised", "peer_full_O_minimal", "eventsourcing, fastest", "#CC79A7", "4 2", "square"),
    ("replay", "ours_full", "ours, full replay", "#0072B2", "", "circle"),
    ("replay", "floor_fold", "true floor", "#000000", "2 3", "diamond"),
    ("replay", "peer_snapshot_latest", "eventsourcing, snapshot", "#E69F00", "8 4", "square"),
    ("replay", "ours_snapshot_every_100", "ours, snap. every 100", "#56B4E9", "6 3 2 3", "circle"),
    ("replay", "ours_snapshot_latest", "ours, latest snapshot", "#009E73", "8 4", "circle"),
)  # fmt: skip


TIMES = "\u00d7"  # the multiplication sign, written as an escape for the linter


def _ratio(value: float) -> str:
    return f"{value:.2f}{TIMES}" if value < 10 else f"{value:.0f}{TIMES}"


def _median(cell: dict[str, Any]) -> float:
    median: float = cell["median_s"]
    return median


def _sizes(results: dict[str, Any]) -> list[int]:
    return list(results["config"]["sizes"])


def _cell(results: dict[str, Any], group: str, name: str, n: int) -> dict[str, Any]:
    cell: dict[str, Any] = results["measurements"][group][str(n)][name]
    return cell


def _value(target: dict[str, Any], value: float) -> str:
    if target["id"] == "validate_rate":
        return f"{value:,.0f}/CPU-s"
    if target["id"] == "validate_memory":
        return f"{value:.0f} MiB"
    return _ratio(value)


def _wanted(target: dict[str, Any]) -> str:
    threshold = target["threshold"]
    shown = f"{threshold:,.0f}" if threshold >= 100 else f"{threshold:g}"
    return f"{target['operator']} {shown}"


def render_headline(results: dict[str, Any]) -> str:
    targets = results["targets"]
    runs = results["config"]["runs"]
    if results["mode"] != "full":
        return f"{results['mode']} mode: no verdicts (the thresholds are set for the full run)."
    held = [t["claim"] for t in targets if t["met"]]
    missed = [t["claim"] for t in targets if not t["met"]]
    lines = [
        f"**{len(held)} of {len(targets)} targets hold in every one of {runs} full runs** "
        f"(on the medians and in at least {results['config']['majority']:.0%} of the rounds of "
        "each run)."
    ]
    if held:
        lines += ["", "Holds: " + "; ".join(held) + "."]
    if missed:
        lines += ["", "Misses: " + "; ".join(missed) + "."]
    return "\n".join(lines)


def render_verdict(results: dict[str, Any]) -> str:
    runs = results["config"]["runs"]
    head = " | ".join(f"Run {i}: median (rounds; share holding)" for i in range(1, runs + 1))
    rows = [f"| Target | {head} | Verdict |", "|---|" + "---:|" * runs + "---|"]
    for target in results["targets"]:
        cells = []
        for run in target["runs"]:
            low, high = (_value(target, v) for v in run["round_range"])
            at = f" at N = {run['n']:,}" if run["n"] is not None else ""
            cells.append(
                f"{_value(target, run['value'])}{at} ({low} to {high}; {run['rounds_holding']:.0%})"
            )
        verdict = {True: "**holds**", False: "**misses**", None: "not judged"}[target["met"]]
        rows.append(
            f"| {target['claim']} ({_wanted(target)}) | " + " | ".join(cells) + f" | {verdict} |"
        )
    rows += [
        "",
        "A ratio is of two medians of the same run (for a time ratio, higher is faster for us "
        'when the target says "faster"); the round range pairs the two timings taken in the '
        "same round; a target holds in a run only if its median and at least "
        f"{results['config']['majority']:.0%} of its rounds are on the right side.",
    ]
    return "\n".join(rows)


def _table(
    results: dict[str, Any], group: str, labels: dict[str, str], sizes: list[int]
) -> list[str]:
    lines = [
        "| | " + " | ".join(f"N = {n:,}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name, label in labels.items():
        cells = [format_seconds(_median(_cell(results, group, name, n))) for n in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _ratio_row(
    results: dict[str, Any], label: str, group: str, num: str, den: str, sizes: list[int]
) -> str:
    cells = [
        _ratio(_median(_cell(results, group, num, n)) / _median(_cell(results, group, den, n)))
        for n in sizes
    ]
    return f"| {label} | " + " | ".join(cells) + " |"


def render_replay(results: dict[str, Any]) -> str:
    sizes = _sizes(results)
    lines = _table(results, "replay", REPLAY_LABELS, sizes)
    lines += [
        _ratio_row(results, "ours ÷ true floor", "replay", "ours_full", "floor_fold", sizes),
        _ratio_row(
            results, "eventsourcing (default) ÷ ours", "replay", "peer_full", "ours_full", sizes
        ),
        _ratio_row(
            results,
            "eventsourcing ÷ ours, latest snapshot",
            "replay",
            "peer_snapshot_latest",
            "ours_snapshot_latest",
            sizes,
        ),
        _ratio_row(
            results,
            "eventsourcing ÷ ours, snapshot one event behind",
            "replay",
            "peer_snapshot_behind_1",
            "ours_snapshot_behind_1",
            sizes,
        ),
    ]
    return "\n".join(lines)


OPTIMISED_PEERS = ("peer_full_O", "peer_full_O_orjson", "peer_full_O_minimal")
SNAPSHOT_LABELS = {
    "ours_snapshot_latest_O": "ours, from a snapshot at the head",
    "peer_snapshot_latest_O_minimal": "eventsourcing (minimal orjson), from a snapshot at the head",
    "ours_snapshot_behind_1_O": "ours, from a snapshot one event behind the head",
    "peer_snapshot_behind_1_O_minimal": "eventsourcing (minimal orjson), snapshot one event behind",
}


def _fastest_peer(results: dict[str, Any], n: int) -> float:
    """eventsourcing's quickest `-O` configuration at `n`: the lowest of their medians."""
    return min(_median(_cell(results, "optimised", name, n)) for name in OPTIMISED_PEERS)


def _realistic(results: dict[str, Any]) -> list[int]:
    return [n for n in _sizes(results) if n <= 100]


def render_peers(results: dict[str, Any]) -> str:
    sizes = _sizes(results)
    lines = [
        "| Full replay | " + " | ".join(f"N = {n:,}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for (group, name), label in PEER_LABELS.items():
        cells = [format_seconds(_median(_cell(results, group, name, n))) for n in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "| eventsourcing at its fastest ÷ ours (both `-O`) | "
        + " | ".join(
            _ratio(
                _fastest_peer(results, n) / _median(_cell(results, "optimised", "ours_full_O", n))
            )
            for n in sizes
        )
        + " |",
        _ratio_row(
            results,
            "eventsourcing `-O` ÷ ours (both `-O`)",
            "optimised",
            "peer_full_O",
            "ours_full_O",
            sizes,
        ),
        _ratio_row(results, "ours ÷ true floor", "replay", "ours_full", "floor_fold", sizes),
        "",
        "| From a snapshot, both under `python -O` | "
        + " | ".join(f"N = {n:,}" for n in sizes)
        + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name, label in SNAPSHOT_LABELS.items():
        cells = [format_seconds(_median(_cell(results, "optimised", name, n))) for n in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for at, label in (("latest", "at the head"), ("behind_1", "one event behind")):
        lines.append(
            _ratio_row(
                results,
                f"eventsourcing ÷ ours, snapshot {label}",
                "optimised",
                f"peer_snapshot_{at}_O_minimal",
                f"ours_snapshot_{at}_O",
                sizes,
            )
        )
    largest = max(sizes)
    default = _median(_cell(results, "replay", "peer_full", largest))
    stripped = _median(_cell(results, "optimised", "peer_full_O", largest))
    lines += [
        "",
        f"At N = {largest:,}, `python -O` alone takes eventsourcing from "
        f"{format_seconds(default)} to {format_seconds(stripped)}: "
        f"{1 - stripped / default:.0%} of its default replay time goes with the asserts `-O` "
        "strips, chiefly `assert isinstance(domain_event, CanMutateProtocol)` in "
        "`project_aggregate`, run for every replayed event: `CanMutateProtocol` is a "
        "runtime-checkable Protocol, so each `isinstance` looks up the event's attributes one "
        "by one instead of checking a class. The control rows show what `-O` does to ours ("
        f"{_control(results, 'ours_full', 'ours_full_O', largest)}) and to the floor ("
        f"{_control(results, 'floor_fold', 'floor_fold_O', largest)}), timed in the other "
        "process: neither has an assert on its path, so the rest is the two processes' noise.",
        "",
        _realistic_sentence(results),
    ]
    return "\n".join(lines)


def _realistic_sentence(results: dict[str, Any]) -> str:
    """The ratios at the order sizes the site calls realistic, fastest peer against ours."""

    def ratio(num: str, den: str, n: int) -> str:
        return _ratio(
            _median(_cell(results, "optimised", num, n))
            / _median(_cell(results, "optimised", den, n))
        )

    realistic = _realistic(results)
    ours = {n: _median(_cell(results, "optimised", "ours_full_O", n)) for n in realistic}
    full = " and ".join(
        f"{_ratio(_fastest_peer(results, n) / ours[n])} at N = {n:,}" for n in realistic
    )
    head = " and ".join(
        ratio("peer_snapshot_latest_O_minimal", "ours_snapshot_latest_O", n) for n in realistic
    )
    behind = " and ".join(
        ratio("peer_snapshot_behind_1_O_minimal", "ours_snapshot_behind_1_O", n) for n in realistic
    )
    sizes = " and ".join(f"{n:,}" for n in realistic)
    return (
        f"**At a realistic order size and a very long one** (N = {sizes}), in this run, "
        f"eventsourcing at its fastest takes {full} the time ours takes for a full replay, "
        f"both under `python -O`. From a snapshot (eventsourcing with the minimal transcoder): "
        f"{head} at the head, {behind} one event behind it. A ratio above 1 is ours faster; "
        "loads this short swing widely from round to round (see the verdict's ranges)."
    )


def _control(results: dict[str, Any], main: str, optimised: str, n: int) -> str:
    plain = _median(_cell(results, "replay", main, n))
    stripped = _median(_cell(results, "optimised", optimised, n))
    return f"{format_seconds(plain)} without, {format_seconds(stripped)} with"


def _pg_ratio_row(
    group: dict[str, Any], label: str, num: str, den: str, sizes: list[int] | None
) -> str:
    """Ratio of the medians, then the range of the ratios of the timings of each round."""
    cells = []
    for cells_at in [group] if sizes is None else [group[str(n)] for n in sizes]:
        a, b = cells_at[num], cells_at[den]
        rounds = [x / y for x, y in zip(a["runs_s"], b["runs_s"], strict=True)]
        cells.append(
            f"{_ratio(_median(a) / _median(b))} ({_ratio(min(rounds))} to {_ratio(max(rounds))})"
        )
    return f"| {label} | " + " | ".join(cells) + " |"


def _pg_table(
    group: dict[str, Any], title: str, labels: dict[str, str], sizes: list[int]
) -> list[str]:
    lines = [
        f"| {title} | " + " | ".join(f"N = {n:,}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name, label in labels.items():
        cells = [format_seconds(_median(group[str(n)][name])) for n in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def render_postgresql(results: dict[str, Any]) -> str:
    """The PostgreSQL section: replay, snapshot load, append and read-model rebuild."""
    measured = results["measurements"].get("postgresql")
    if measured is None:
        return (
            f"This results file (format {results.get('format', 1)}) has no PostgreSQL section: "
            "run `make bench`."
        )
    config = results["config"]["postgresql"]
    sizes = list(config["sizes"])
    replay, append = measured["replay"], measured["append"]
    lines = _pg_table(replay, "Rebuilding one order", PG_REPLAY_LABELS, sizes)
    lines += [
        _pg_ratio_row(replay, "ours ÷ floor", "ours_full", "floor_fold", sizes),
        _pg_ratio_row(replay, "eventsourcing ÷ ours, full replay", "peer_full", "ours_full", sizes),
        _pg_ratio_row(
            replay,
            "eventsourcing ÷ ours, latest snapshot",
            "peer_snapshot_latest",
            "ours_snapshot_latest",
            sizes,
        ),
        "",
    ]
    lines += _pg_table(append, "Appending one order's events", PG_APPEND_LABELS, sizes)
    lines += [
        _pg_ratio_row(append, "ours ÷ floor", "ours", "floor_executemany", sizes),
        _pg_ratio_row(append, "eventsourcing ÷ ours", "peer", "ours", sizes),
        "",
    ]
    group = measured["read_model"]
    lines += [
        f"| Rebuilding the read model, {config['read_model_orders']:,} orders {TIMES} "
        f"{results['config']['events_per_order']} events | median |",
        "|---|---:|",
        *(f"| {label} | {format_seconds(_median(group[name]))} |"
          for name, label in PG_READ_MODEL_LABELS.items()),
        _pg_ratio_row(group, "ours ÷ floor", "ours_rebuild", "floor_upserts", None),
    ]  # fmt: skip
    rounds, warmup = config["repeats"] * results["config"]["runs"], results["config"]["warmup"]
    settings = results["postgresql_settings"]
    lines += [
        "",
        f"Medians of {rounds} rounds ({config['repeats']} per run, after {warmup} warm-up); "
        "a ratio is of two medians, then (in parentheses) the lowest and highest ratio "
        "of the two timings taken in the same round. Reported, not judged: no target is set "
        f"for PostgreSQL. Server: PostgreSQL {settings['server_version']}, "
        f"{settings['server']}, `fsync={settings['fsync']}`, "
        f"`synchronous_commit={settings['synchronous_commit']}`, for every contender alike.",
    ]
    return "\n".join(lines)


PIPELINE_COLUMNS = (
    ("sqlite", "default", "SQLite"),
    ("sqlite", "slow_subscriber", "SQLite, + slow subscriber"),
    ("sqlite", "waiting_reads", "SQLite, + waiting reads"),
    ("sqlite", "plain_reads", "SQLite, + the same reads, not waiting"),
    ("sqlite", "kafka", "SQLite, Kafka"),
    ("postgresql", "default", "PostgreSQL"),
    ("postgresql", "slow_subscriber", "PostgreSQL, + slow subscriber"),
    ("postgresql", "waiting_reads", "PostgreSQL, + waiting reads"),
    ("postgresql", "plain_reads", "PostgreSQL, + the same reads, not waiting"),
    ("postgresql", "kafka", "PostgreSQL, Kafka"),
)
"""The pipeline table's columns: database, variant, heading (a variant not measured is left out)."""
RATIOS = (
    ("slow_subscriber", "default", "slow ÷ default"),
    ("waiting_reads", "default", "waiting reads ÷ default"),
    ("waiting_reads", "plain_reads", "waiting reads ÷ the same reads not waiting"),
    ("plain_reads", "default", "the same reads not waiting ÷ default"),
)
"""The ratio rows under the pipeline table: variant, the variant it is divided by, label."""
LAG_AIM_MS = 100.0
"""Issue 20's aim for the read side: a p99 lag under 100 ms."""


def _rounds(n: int) -> str:
    return f"{n} round" if n == 1 else f"{n} rounds"


def _ms(value: float) -> str:
    return format_seconds(value / 1e3)


def _read(cell: dict[str, Any], kind: str) -> str:
    """A read's p50 / p99 (`plain` or `waiting`), or why there is none."""
    reads = cell.get("reads")
    if reads is None:
        return "(not measured)"
    if not reads[kind]["count"]:
        return "(no read)"
    latency = reads[kind]["latency_ms"]
    return f"{_ms(latency['p50'])} / {_ms(latency['p99'])}"


def _held(cell: dict[str, Any]) -> str:
    """The clients reading beside the commands, and their answers: for waiting reads the fewest
    `GET /health` showed waiting at a round's start, for their control the clients that had sent a
    read (both kept under `waiting_at_start`)."""
    held = cell.get("held_reads")
    if held is None or not held["waiting_at_start"]:
        return ""
    answers = ", ".join(f"{n:,} answered {code}" for code, n in held["answered"].items())
    return f"{min(held['waiting_at_start'])} / {answers or 'none'}"


def render_pipeline(results: dict[str, Any]) -> str:
    """Commands through the HTTP API: latency, rate, and the read model's lag, side by side."""
    measured = results["measurements"].get("pipeline")
    if measured is None:
        return (
            f"This results file (format {results.get('format', 1)}) has no pipeline section: "
            "run `make bench`."
        )
    config = results["config"]["pipeline"]
    columns = [c for c in PIPELINE_COLUMNS if c[1] in measured[c[0]]]
    cells = [measured[backend][variant] for backend, variant, _ in columns]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("commands acknowledged (2xx) / sent",
         lambda c: f"{c['acknowledged']:,} / {c['commands']:,}"),
        ("versions seen in the read model", lambda c: f"{c['projected']:,}"),
        ("commands per second (all clients)", lambda c: f"{c['commands_per_s']:,.0f}"),
        ("command latency, p50", lambda c: _ms(c["latency_ms"]["p50"])),
        ("command latency, p99", lambda c: _ms(c["latency_ms"]["p99"])),
        ("lag from the 2xx to the read model, p50", lambda c: _ms(c["lag_ms"]["p50"])),
        ("lag from the 2xx to the read model, p99", lambda c: _ms(c["lag_ms"]["p99"])),
        ("plain read of the order just written, p50 / p99", lambda c: _read(c, "plain")),
        ("read waiting for that version (`min_version`), p50 / p99",
         lambda c: _read(c, "waiting")),
        ("reads beside the commands: clients at the start / answers", _held),
        ("events the slow subscriber had still to handle at the end",
         lambda c: f"{c['subscribers_behind_at_end'].get('slow_subscriber', 0):,}"
         if "slow_subscriber" in c["subscribers_behind_at_end"] else "(none)"),
    ]  # fmt: skip
    lines = [
        "| Through the HTTP API | " + " | ".join(label for *_, label in columns) + " |",
        "|---|" + "---:|" * len(columns),
        *(f"| {label} | " + " | ".join(show(c) for c in cells) + " |" for label, show in rows),
    ]
    for variant, baseline, label in RATIOS:
        for backend, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
            if variant not in measured[backend] or baseline not in measured[backend]:
                continue
            default, beside = measured[backend][baseline], measured[backend][variant]
            lines.append(
                f"| {label}, {name}: latency p50, p99 | "
                + " | ".join(
                    (
                        f"{_ratio(beside['latency_ms']['p50'] / default['latency_ms']['p50'])}, "
                        f"{_ratio(beside['latency_ms']['p99'] / default['latency_ms']['p99'])}"
                    )
                    if b == backend and v == variant
                    else ""
                    for b, v, _ in columns
                )
                + " |"
            )
    runs = results["config"]["runs"]
    sleep_ms = config["slow_subscriber_sleep_s"] * 1e3
    aims = "; ".join(
        f"{name} {_ms(measured[backend]['default']['lag_ms']['p99'])}"
        f" ({'under' if measured[backend]['default']['lag_ms']['p99'] < LAG_AIM_MS else 'over'}"
        f" the aim)"
        for backend, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))
    )
    lines += [
        "",
        f"Each column: {_rounds(config['rounds'] * runs)} ({config['rounds']} per run), each on "
        f"fresh databases, of {config['orders_per_round']:,} orders of "
        f"{config['commands_per_order']} commands (place, pay, ship, deliver) sent by "
        f"{config['clients']} clients, each waiting for one answer before its next request, "
        "over kept-alive loopback connections to the API served as `orders serve` serves it "
        "(uvicorn, in a child process). The columns run in interleaved rounds; the slow "
        f"subscriber sleeps {sleep_ms:.0f} ms on every event, in its own thread and database"
        + (
            f"; beside the waiting reads, {config['waiting_reads']} more clients each keep a "
            "`GET /orders/{id}?min_version=` waiting for a version that never comes (each "
            "answered after the API's wait timeout, then sent again) for the whole round"
            + (
                f", their first reads spread evenly over {config['waiting_reads_spread_s']:g} s "
                "(one timeout), as independent clients arrive. "
                if "waiting_reads_spread_s" in config
                else ", all sent at the start. "
            )
            + (
                "Beside the same reads, not waiting, as many clients send the same read without "
                "`min_version`, each once per timeout: the same requests, without the waiting. "
                if "plain_reads" in config["variants"]
                else ""
            )
            if "waiting_reads" in config
            else ". "
        )
        + "A latency is a command's request to its 2xx; the lag is from that 2xx to a watcher, "
        f"reading the read database every {config['watcher_poll_s'] * 1e3:.0f} ms, seeing the "
        "version in `order_summary`; p99 is over every command of every round. "
        f"Issue 20 aims at a p99 lag under {LAG_AIM_MS:.0f} ms: {aims}.",
        "",
        _kafka_setup(config.get("kafka")),
    ]
    if "reads" in config:
        lines[-1] += (
            " Meanwhile one more client reads the order acknowledged last, as soon as it sees "
            "it, twice, each first in turn: a plain `GET /orders/{id}`, and one with "
            "`?min_version=` the version acknowledged, which answers once the read model holds "
            "it; both times run from the request to the answer."
        )
    return "\n".join(lines)


def _kafka_setup(kafka: dict[str, Any] | None) -> str:
    """How the Kafka columns were run, or that this results file has none."""
    if kafka is None:
        return (
            "This results file has no Kafka columns: `make bench` measures them on a broker it "
            "starts (`make kafka` fetches its jars)."
        )
    producer = ", ".join(f"`{k}={str(v).lower()}`" for k, v in kafka["producer"].items())
    consumer = kafka["consumer"]
    return (
        f"Kafka columns: the API and the relay as `orders serve --bus kafka://…` runs them, with "
        f"`orders project` and `orders notify` each in a process of its own, consumer groups "
        f"`<topic>.<subscriber>`; a fresh topic of {kafka['partitions']} partitions "
        f"(replication {kafka['replicas']}) each round; the clients start once both groups hold "
        f"every partition. Broker: {kafka['broker']}, JVM `{' '.join(kafka['jvm'])}`. The "
        f"relay's producer: {producer}. Consumers: a poll waits up to "
        f"{_ms(consumer['poll_timeout_s'] * 1e3)}, session timeout "
        f"{consumer['session_timeout_s']:g} s, offsets committed after the read model's "
        f"transaction. Client: {kafka['client']}."
    )


def render_stages(results: dict[str, Any]) -> str:
    stages = results["runs"][0]["stages"]
    total = sum(stages["median_s"].values())
    lines = [
        f"| Stage of a full replay, N = {stages['n']:,} (run 1, median of "
        f"{stages['rounds']} rounds) | time | share |",
        "|---|---:|---:|",
    ]
    for name, label in STAGE_LABELS.items():
        seconds = stages["median_s"][name]
        lines.append(f"| {label} | {format_seconds(seconds)} | {seconds / total:.0%} |")
    lines.append(f"| sum of the stages | {format_seconds(total)} | |")
    return "\n".join(lines)


def render_append(results: dict[str, Any]) -> str:
    sizes = _sizes(results)
    lines = _table(results, "append", APPEND_LABELS, sizes)
    lines += [
        _ratio_row(
            results,
            "eventsourcing ÷ ours, both `synchronous=FULL`",
            "append",
            "peer",
            "ours_synchronous_full",
            sizes,
        ),
        _ratio_row(results, "eventsourcing ÷ ours as configured", "append", "peer", "ours", sizes),
        _ratio_row(results, "ours ÷ true floor", "append", "ours", "floor_executemany", sizes),
    ]
    settings = results["sqlite_settings"]
    lines += [
        "",
        f"SQLite settings as each side runs them: ours `{settings['ours']}`, "
        f"eventsourcing `{settings['peer']}`.",
    ]
    return "\n".join(lines)


def render_read_model(results: dict[str, Any]) -> str:
    config = results["config"]
    group = results["measurements"]["read_model"]
    lines = [
        f"| {config['read_model_orders']:,} orders {TIMES} {config['events_per_order']} events "
        "| median | rounds |",
        "|---|---:|---:|",
    ]
    for name, label in READ_MODEL_LABELS.items():
        cell = group[name]
        lines.append(f"| {label} | {format_seconds(_median(cell))} | {len(cell['runs_s'])} |")
    ratio = _median(group["ours_rebuild"]) / _median(group["floor_upserts"])
    lines.append(f"| ours ÷ true floor | {_ratio(ratio)} | |")
    return "\n".join(lines)


def render_validate(results: dict[str, Any]) -> str:
    lines = ["| Run | file | events | wall time | CPU time | events per CPU-second "
             "| peak memory |", "|---|---:|---:|---|---|---|---|"]  # fmt: skip
    for number, run in enumerate(results["runs"], 1):
        v = run["validate"]
        walls = ", ".join(format_seconds(s) for s in v["runs_s"])
        cpus = ", ".join(format_seconds(s) for s in v["cpu_s"])
        rates = ", ".join(f"{r:,.0f}" for r in v["events_per_s"])
        peaks = ", ".join(f"{p:.0f} MiB" for p in v["peak_mib"])
        lines.append(
            f"| {number} | {v['file_mib']:.0f} MiB | {v['events']:,} | {walls} | {cpus} "
            f"| {rates} | {peaks} |"
        )
    return "\n".join(lines)


def economics(results: dict[str, Any]) -> dict[str, Any]:
    """Per-event cost, a realistic order's load, and where a snapshot starts to pay."""
    sizes = _sizes(results)
    small, large = min(sizes), max(sizes)
    full = {n: _median(_cell(results, "replay", "ours_full", n)) for n in sizes}
    latest = {n: _median(_cell(results, "replay", "ours_snapshot_latest", n)) for n in sizes}
    per_event = (full[large] - full[small]) / (large - small)
    fixed = full[small] - per_event * small
    # A snapshot pays once folding the events it holds costs more than reading it does.
    snapshot_cost = min(latest.values())
    break_even = (snapshot_cost - fixed) / per_event if per_event > 0 else None
    return {
        "per_event_s": per_event,
        "events_per_ms": 1e-3 / per_event,
        "fixed_s": fixed,
        "full_s": full,
        "snapshot_s": snapshot_cost,
        "break_even": break_even,
        "append_small_s": _median(_cell(results, "append", "ours", small)),
        "small": small,
        "write_s": {n: _median(_cell(results, "replay", "ours_snapshot_write", n)) for n in sizes},
        "head_s": latest,
    }


def render_meaning(results: dict[str, Any]) -> str:
    e = economics(results)
    realistic = _realistic(results)
    loads = " and ".join(f"**{format_seconds(e['full_s'][n])}** for {n} events" for n in realistic)
    return "\n".join(
        [
            f"- **Cost per event.** Each event of a stream adds about "
            f"**{format_seconds(e['per_event_s'])}** to loading it (the slope of our full "
            f"replay between the smallest and the largest N), on top of about "
            f"{format_seconds(e['fixed_s'])} per load: one millisecond folds about "
            f"{e['events_per_ms']:,.0f} events.",
            "- **A realistic order.** An order of this design holds a handful of events (#1001 "
            "has four once delivered, one more per line added), a few dozen for a long one: "
            f"N = {realistic[0]:,} is a realistic order, N = {realistic[-1]:,} a very long one. "
            f"Loading one takes {loads}, store read and every check included. "
            f"Appending {e['small']} events "
            f"costs {format_seconds(e['append_small_s'])}: the write, not the load, is what a "
            "command pays for.",
            _break_even(e),
        ]
    )


def _break_even(e: dict[str, Any]) -> str:
    """What a snapshot at the head saves per load, what writing it costs, and the payback."""
    parts = []
    for n in sorted(e["write_s"]):
        if n > 100:
            continue
        saved = e["full_s"][n] - e["head_s"][n]
        write = e["write_s"][n]
        payback = (
            f"paid back after about {write / saved:,.1f} loads" if saved > 0 else "never paid back"
        )
        parts.append(
            f"at N = {n:,} a load from it saves {format_seconds(saved)} against a full replay "
            f"and writing it costs {format_seconds(write)}: {payback}"
            if saved > 0
            else f"at N = {n:,} a load from it is no faster than a full replay "
            f"({format_seconds(e['head_s'][n])} against {format_seconds(e['full_s'][n])}), "
            f"and writing it costs {format_seconds(write)}: {payback}"
        )
    return (
        "- **When a snapshot pays.** A snapshot at the head of the stream, both measured in "
        "the same rounds: " + "; ".join(parts) + ". The design keeps snapshots an optional "
        "cache, worth it only for a stream loaded far more often than it is written."
    )


def _remeasured(results: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for note in results.get("remeasured", []):
        before, after = note["machine"]["load_average"]
        rows.append(
            (
                f"Re-measured: the {note['stage']} stage",
                f"{note['machine']['date']}, {_code(note['code'])}, load average "
                f"{_load(before)} before, {_load(after)} after, with "
                f"`python -m order_service_bench --only {note['stage']}`: the tables of full "
                "replays, snapshot loads and the peers, the chart, and their targets; every "
                "other section is from the full runs above",
            )
        )
    return rows


def render_machine(results: dict[str, Any]) -> str:
    m = results["machine"]
    config = results["config"]
    before, after = m["load_average"]
    rows = [
        ("CPU", m["cpu"]),
        ("Cores", str(m["cores"])),
        ("System", m["system"]),
        ("Python", f"{m['python_implementation']} {m['python']}"),
        ("SQLite", m["sqlite"]),
        *_pg_version(results),
        ("eventsourcing", m["eventsourcing"]),
        ("pydantic", m["pydantic"]),
        ("Date (UTC)", m["date"]),
        ("Load average (1, 5, 15 min)", f"{_load(before)} before, {_load(after)} after"),
        ("Code measured", _code(results.get("code", {}))),
        (
            "Runs",
            f"{config['runs']} full runs; {config['warmup']} warm-up + {config['repeats']} "
            f"timed rounds per comparison ({results['mode']} mode)",
        ),
        *_remeasured(results),
    ]
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _pg_version(results: dict[str, Any]) -> list[tuple[str, str]]:
    settings = results.get("postgresql_settings")
    return [] if settings is None else [("PostgreSQL", settings["server_version"])]


def _load(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _why_replay(results: dict[str, Any]) -> str:
    stages = results["runs"][0]["stages"]["median_s"]
    total = sum(stages.values())
    return (
        f"Full replay against the floor: the fold is {stages['fold'] / total:.0%} of our "
        f"replay and the store's read {(stages['fetch'] + stages['json']) / total:.0%} (see "
        "the stages below). The floor reads two columns and trusts every row; the store "
        "reads the six columns of an envelope and builds one dict per event, and our fold "
        "checks each event's order, version, type, schema version and amounts. Closing the "
        "gap means a fold that checks less or reads something other than envelopes: not done, "
        "because the checks are the design's."
    )


def _why_append(results: dict[str, Any]) -> str:
    largest = max(_sizes(results))
    ours = _median(_cell(results, "append", "ours_synchronous_full", largest))
    peer = _median(_cell(results, "append", "peer", largest))
    return (
        f"Append: at N = {largest:,} and `synchronous=FULL`, ours takes {format_seconds(ours)} "
        f"and eventsourcing {format_seconds(peer)}. Ours validates every event with the event "
        "model before writing it and writes its outbox rows in the same transaction; "
        "eventsourcing validates nothing."
    )


def _why_snapshot(results: dict[str, Any]) -> str:
    return (
        "Snapshot: both sides read one row and decode one JSON document, but ours checks "
        "the state before trusting it (each line's currency, quantity and amount, and that "
        "the lines add up to the total), about a microsecond a line for the hundred lines "
        "here; eventsourcing restores its attributes as stored. A load this short is mostly "
        "the first touch of caches the collector just cooled, so rounds swing both ways."
    )


def _why_read_model(results: dict[str, Any]) -> str:
    return (
        "Read model: `projections.rebuild` reads every event and passes it through "
        "`summarise` (upcast, version check, one row copy per event) before the same bulk "
        "write the floor does with rows computed in advance: reading and summarising every "
        "event costs more than the floor's whole write."
    )


def _why_validate(results: dict[str, Any]) -> str:
    return (
        "Validate: the CPU time includes starting the interpreter and importing pydantic and "
        "jsonschema, as a CI job pays it; the peak memory is the whole process's."
    )


WHY = {
    "replay_vs_floor": _why_replay,
    "replay_vs_fastest_peer": _why_replay,
    "snapshot_vs_peer": _why_snapshot,
    "append_vs_peer": _why_append,
    "read_model_vs_floor": _why_read_model,
    "validate_rate": _why_validate,
    "validate_memory": _why_validate,
}


def render_misses(results: dict[str, Any]) -> str:
    """Why each missed target was missed, from the stages and the diagnostics of the run."""
    missed = [t["id"] for t in results["targets"] if t["met"] is False]
    if not missed:
        return "Every target holds in every run."
    reasons = dict.fromkeys(WHY[target](results) for target in missed)
    return "\n".join(["Why the misses:", "", *(f"- {reason}" for reason in reasons)])


def _code(code: dict[str, Any]) -> str:
    digest = f"design digest `{code['digest'][:12]}`"
    if not code.get("commit"):
        return f"{digest} (not a git checkout)"
    if not code["uncommitted"]:
        return f"commit `{code['commit']}`, {digest}"
    files = ", ".join(f"`{path}`" for path in code["uncommitted"])
    return f"commit `{code['commit']}` with uncommitted changes to {files}, {digest}"


RENDERERS = {
    "headline": render_headline,
    "meaning": render_meaning,
    "peers": render_peers,
    "verdict": render_verdict,
    "misses": render_misses,
    "replay": render_replay,
    "stages": render_stages,
    "append": render_append,
    "read-model": render_read_model,
    "validate": render_validate,
    "postgresql": render_postgresql,
    "pipeline": render_pipeline,
    "machine": render_machine,
}


def render_blocks(results: dict[str, Any]) -> dict[str, str]:
    """Every generated block of the page, by name."""
    return {name: render(results) for name, render in RENDERERS.items()}


def page_blocks(page: str) -> dict[str, str]:
    """The generated blocks a page holds now, by name (without the blank lines around them)."""
    return {m["name"]: m["body"].strip("\n") for m in BLOCK.finditer(page)}


def update_page(page: str, results: dict[str, Any]) -> str:
    """The page with every generated block replaced; raises if a block is missing."""
    blocks = render_blocks(results)
    missing = sorted(set(blocks) - set(page_blocks(page)))
    if missing:
        raise ValueError(f"the page lacks the generated blocks {missing}")

    def replace(match: re.Match[str]) -> str:
        body = blocks.get(match["name"])
        if body is None:
            raise ValueError(f"the page has an unknown generated block {match['name']!r}")
        return f"{match.group(1)}\n{body}\n\n{match.group(4)}"

    return BLOCK.sub(replace, page)


# --- the chart ------------------------------------------------------------------------------

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 78, 500, 48, 360


def _decades(low: float, high: float) -> range:
    return range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)


def render_svg(results: dict[str, Any]) -> str:
    """A log-log chart of replay time against N, drawn from the results (deterministic text)."""
    sizes = _sizes(results)
    values = [_median(_cell(results, s[0], s[1], n)) for n in sizes for s in CHART_SERIES]
    decades = _decades(min(values), max(values))
    y_low, y_high = decades.start, decades.stop - 1
    x_low, x_high = math.log10(min(sizes)), math.log10(max(sizes))

    def x(n: float) -> float:
        return LEFT + (math.log10(n) - x_low) / (x_high - x_low) * (RIGHT - LEFT)

    def y(seconds: float) -> float:
        return BOTTOM - (math.log10(seconds) - y_low) / (y_high - y_low) * (BOTTOM - TOP)

    desc = "; ".join(
        f"{label}: "
        + ", ".join(
            f"N={n:,} {format_seconds(_median(_cell(results, group, name, n)))}" for n in sizes
        )
        for group, name, label, *_ in CHART_SERIES
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" '
        'font-family="sans-serif" font-size="12">',
        '<title id="chart-title">Time to rebuild one order against its number of events, '
        "log-log</title>",
        f'<desc id="chart-desc">Medians from {escape(_replay_date(results))}. '
        f"{escape(desc)}.</desc>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="24" font-size="14" font-weight="bold" fill="#000">'
        "Rebuilding one order: median time against N (both axes log)</text>",
    ]
    for power in range(y_low, y_high + 1):
        py = y(10.0**power)
        out.append(f'<line x1="{LEFT}" y1="{py:.1f}" x2="{RIGHT}" y2="{py:.1f}" stroke="#d0d0d0"/>')
        out.append(
            f'<text x="{LEFT - 8}" y="{py + 4:.1f}" text-anchor="end" fill="#000">'
            f"{_decade_label(power)}</text>"
        )
    for n in sizes:
        px = x(n)
        out.append(f'<line x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{BOTTOM}" stroke="#e4e4e4"/>')
        out.append(
            f'<text x="{px:.1f}" y="{BOTTOM + 18}" text-anchor="middle" fill="#000">{n:,}</text>'
        )
    out += [
        f'<rect x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" height="{BOTTOM - TOP}" '
        'fill="none" stroke="#000"/>',
        f'<text x="{(LEFT + RIGHT) / 2:.1f}" y="{BOTTOM + 40}" text-anchor="middle" fill="#000">'
        "events in the order (N)</text>",
        f'<text x="18" y="{(TOP + BOTTOM) / 2:.1f}" text-anchor="middle" fill="#000" '
        f'transform="rotate(-90 18 {(TOP + BOTTOM) / 2:.1f})">median time to rebuild</text>',
    ]
    for index, (group, name, label, colour, dash, marker) in enumerate(CHART_SERIES):
        points = [(x(n), y(_median(_cell(results, group, name, n)))) for n in sizes]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>'
        )
        out += [_marker(marker, px, py, colour) for px, py in points]
        ly = TOP + 10 + index * 24
        out.append(
            f'<line x1="{RIGHT + 20}" y1="{ly}" x2="{RIGHT + 50}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/>'
        )
        out.append(_marker(marker, RIGHT + 35, ly, colour))
        out.append(f'<text x="{RIGHT + 58}" y="{ly + 4}" fill="#000">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _replay_date(results: dict[str, Any]) -> str:
    """When the replay figures were measured: a later stage run's date, if any."""
    dates = [n["machine"]["date"] for n in results.get("remeasured", []) if "replay" in n["groups"]]
    return dates[-1] if dates else str(results["machine"]["date"])


def _decade_label(power: int) -> str:
    unit, base = ("s", 0) if power >= 0 else ("ms", -3) if power >= -3 else ("µs", -6)
    return f"{10 ** (power - base):g} {unit}"


def _marker(shape: str, px: float, py: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{px - 4:.1f}" y="{py - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if shape == "diamond":
        return (
            f'<polygon points="{px:.1f},{py - 5:.1f} {px + 5:.1f},{py:.1f} {px:.1f},{py + 5:.1f} '
            f'{px - 5:.1f},{py:.1f}" fill="{colour}"/>'
        )
    return f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}"/>'


def write(results_path: Path = RESULTS, page_path: Path = PAGE, chart_path: Path = CHART) -> None:
    """Regenerate the page's blocks and the chart from the results file."""
    results = json.loads(results_path.read_text(encoding="utf-8"))
    page_path.write_text(
        update_page(page_path.read_text(encoding="utf-8"), results), encoding="utf-8"
    )
    chart_path.write_text(render_svg(results), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m order_service_bench.page", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--page", type=Path, default=PAGE)
    parser.add_argument("--chart", type=Path, default=CHART)
    args = parser.parse_args(argv)
    write(args.results, args.page, args.chart)
    print(f"rendered {args.page} and {args.chart} from {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
