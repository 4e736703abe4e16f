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
    "ours_snapshot_every_100": "ours, snapshot every 100 (99 events after it)",
    "peer_full": "eventsourcing, full replay",
    "peer_snapshot_latest": "eventsourcing, from the latest snapshot",
    "peer_snapshot_every_100": "eventsourcing, snapshot every 100 (99 events after it)",
    "bare_fold": "bare: `sqlite3` rows + `json.loads` fold",
}
APPEND_LABELS = {
    "ours": "ours: `EventStore.append` (validated, outbox rows)",
    "ours_synchronous_full": "ours with `synchronous=FULL` (diagnostic)",
    "ours_unvalidated": "ours without validation (diagnostic)",
    "peer": "eventsourcing: `Application.save`",
    "bare_executemany": "bare: one `executemany`",
}
READ_MODEL_LABELS = {
    "ours_rebuild": "ours: `projections.rebuild`",
    "bare_upserts": "bare: one upsert per event",
}
# (series, label, colour, dash pattern, marker): Okabe-Ito colours, told apart without colour too.
CHART_SERIES = (
    ("peer_full", "eventsourcing, full replay", "#D55E00", "", "square"),
    ("ours_full", "ours, full replay", "#0072B2", "", "circle"),
    ("bare_fold", "bare sqlite3 + json.loads", "#000000", "2 3", "diamond"),
    ("peer_snapshot_latest", "eventsourcing, latest snapshot", "#E69F00", "8 4", "square"),
    ("ours_snapshot_every_100", "ours, snapshot every 100", "#56B4E9", "6 3 2 3", "circle"),
    ("ours_snapshot_latest", "ours, latest snapshot", "#009E73", "8 4", "circle"),
)


TIMES = "\u00d7"  # the multiplication sign, written as an escape for the linter


def _ratio(value: float) -> str:
    return f"{value:.2f}{TIMES}" if value < 10 else f"{value:.0f}{TIMES}"


def _median(cell: dict[str, Any]) -> float:
    return cell["median_s"]


def _sizes(results: dict[str, Any]) -> list[int]:
    return list(results["config"]["sizes"])


def render_verdict(results: dict[str, Any]) -> str:
    largest = max(_sizes(results))
    rows = [
        f"Ratios of medians at N = {largest:,}, all from one run of `make bench`.",
        "",
        "| Target | Measured | Round by round | Verdict |",
        "|---|---:|---:|---|",
    ]
    for target in results["targets"]:
        wanted = f"{target['operator']} {target['threshold']:g}"
        verdict = "**pass**" if target["met"] else "**miss**"
        low, high = (_ratio(r) for r in target["round_ratios"])
        rows.append(
            f"| {target['claim']} ({wanted}) | {_ratio(target['ratio'])} | {low} to {high} "
            f"| {verdict} |"
        )
    met = sum(target["met"] for target in results["targets"])
    rows += [
        "",
        f'{met} of {len(results["targets"])} targets met. "Measured" is the ratio of the two '
        'medians; "round by round" is the lowest and highest ratio of the two timings taken '
        "in the same round, a view of how much the machine's noise moves it.",
    ]
    return "\n".join(rows)


def _table(group: dict[str, dict[str, Any]], labels: dict[str, str], sizes: list[int]) -> list[str]:
    lines = [
        "| | " + " | ".join(f"N = {n:,}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name, label in labels.items():
        cells = [format_seconds(_median(group[str(n)][name])) for n in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _ratio_row(
    label: str, group: dict[str, dict[str, Any]], num: str, den: str, sizes: list[int]
) -> str:
    cells = [_ratio(_median(group[str(n)][num]) / _median(group[str(n)][den])) for n in sizes]
    return f"| {label} | " + " | ".join(cells) + " |"


def render_replay(results: dict[str, Any]) -> str:
    sizes = _sizes(results)
    replay = results["measurements"]["replay"]
    lines = _table(replay, REPLAY_LABELS, sizes)
    lines += [
        _ratio_row("eventsourcing ÷ ours (full replay)", replay, "peer_full", "ours_full", sizes),
        _ratio_row("ours ÷ bare (full replay)", replay, "ours_full", "bare_fold", sizes),
        _ratio_row(
            "ours full ÷ ours latest snapshot", replay, "ours_full", "ours_snapshot_latest", sizes
        ),
        _ratio_row(
            "ours full ÷ ours snapshot every 100",
            replay,
            "ours_full",
            "ours_snapshot_every_100",
            sizes,
        ),
    ]
    return "\n".join(lines)


def render_append(results: dict[str, Any]) -> str:
    sizes = _sizes(results)
    append = results["measurements"]["append"]
    lines = _table(append, APPEND_LABELS, sizes)
    lines += [
        _ratio_row("eventsourcing ÷ ours", append, "peer", "ours", sizes),
        _ratio_row(
            "eventsourcing ÷ ours, both `synchronous=FULL`",
            append,
            "peer",
            "ours_synchronous_full",
            sizes,
        ),
        _ratio_row("ours ÷ bare", append, "ours", "bare_executemany", sizes),
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
        "| median | runs |",
        "|---|---:|---:|",
    ]
    for name, label in READ_MODEL_LABELS.items():
        cell = group[name]
        lines.append(f"| {label} | {format_seconds(_median(cell))} | {len(cell['runs_s'])} |")
    ratio = _median(group["ours_rebuild"]) / _median(group["bare_upserts"])
    lines.append(f"| ours ÷ bare | {_ratio(ratio)} | |")
    return "\n".join(lines)


def snapshot_economics(results: dict[str, Any]) -> dict[str, Any]:
    """Per-event fold cost, what a snapshot saves per load at each N, a small append's cost."""
    sizes = _sizes(results)
    replay = results["measurements"]["replay"]
    small, large = min(sizes), max(sizes)
    full = {n: _median(replay[str(n)]["ours_full"]) for n in sizes}
    per_event = (full[large] - full[small]) / (large - small)
    return {
        "per_event_s": per_event,
        "events_per_ms": 1e-3 / per_event,
        "saved_s": {n: full[n] - _median(replay[str(n)]["ours_snapshot_latest"]) for n in sizes},
        "snapshot_load_s": _median(replay[str(large)]["ours_snapshot_latest"]),
        "smallest_n": small,
        "smallest_full_s": full[small],
        "smallest_append_s": _median(results["measurements"]["append"][str(small)]["ours"]),
    }


def render_meaning(results: dict[str, Any]) -> str:
    e = snapshot_economics(results)
    saved = ", ".join(f"{format_seconds(s)} at N = {n:,}" for n, s in e["saved_s"].items())
    return "\n".join(
        [
            f"- **Cost per event.** Rebuilding an order costs about "
            f"**{format_seconds(e['per_event_s'])} per event** (the slope of our full replay "
            f"between the smallest and the largest N): one millisecond of load time folds about "
            f"**{e['events_per_ms']:,.0f} events**.",
            f"- **What a snapshot saves.** Loading from the latest snapshot instead of replaying "
            f"saves {saved}.",
            f"- **When a snapshot pays.** An order of {e['smallest_n']} events rebuilds in "
            f"**{format_seconds(e['smallest_full_s'])}**, store read included; appending "
            f"{e['smallest_n']} events costs {format_seconds(e['smallest_append_s'])}. For a "
            "stream of an order's length, a snapshot saves less than the write every command "
            "makes anyway, and taking one is a write too: snapshots pay only on long streams.",
        ]
    )


def render_machine(results: dict[str, Any]) -> str:
    m = results["machine"]
    config = results["config"]
    rows = [
        ("CPU", m["cpu"]),
        ("Cores", str(m["cores"])),
        ("System", m["system"]),
        ("Python", f"{m['python_implementation']} {m['python']}"),
        ("SQLite", m["sqlite"]),
        ("eventsourcing", m["eventsourcing"]),
        ("pydantic", m["pydantic"]),
        ("Date (UTC)", m["date"]),
        ("Code measured", _code(results.get("code", {}))),
        (
            "Runs",
            f"{config['warmup']} warm-up + {config['repeats']} timed rounds per measurement "
            f"({results['mode']} mode)",
        ),
    ]
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _why_replay(results: dict[str, Any], largest: int) -> str:
    shares = results["profile"]["replay"]
    return (
        f"Full replay: profiled with cProfile at N = {results['profile']['n']:,}, "
        f"{shares['EventStore.load']:.0%} of our replay is in `EventStore.load` "
        f"({shares['json.loads']:.0%} in `json.loads`) and {shares['fold']:.0%} in the strict "
        "`fold`, whose checks on every event (its order, the next version, a known type at its "
        "current schema version, a legal transition, amounts in the order's currency) the bare "
        "fold does not make."
    )


def _why_append(results: dict[str, Any], largest: int) -> str:
    cells = results["measurements"]["append"][str(largest)]
    shares = results["profile"]["append"]
    figures = {name: format_seconds(_median(cell)) for name, cell in cells.items()}
    return (
        f"Append: at N = {largest:,} ours takes {figures['ours']} and `eventsourcing` "
        f"{figures['peer']}. Ours validates every new event with the event model, a check "
        f"`eventsourcing` does not make: without it ours takes {figures['ours_unvalidated']}, "
        f"and cProfile puts {shares['validation']:.0%} of the append in `parse_event` and "
        f"{shares['json serialisation']:.0%} in serialising the JSON columns. With the same "
        f"durability as `eventsourcing` (`synchronous=FULL`) ours takes "
        f"{figures['ours_synchronous_full']}. The validation stays: it is what keeps a malformed "
        "event out of an append-only store."
    )


def _why_snapshot(results: dict[str, Any], largest: int) -> str:
    e = snapshot_economics(results)
    return (
        f"Snapshot: loading one costs about {format_seconds(e['snapshot_load_s'])} (the row, "
        "its JSON state and the checks of `OrderState.from_dict`), so the ratio is bounded by "
        "how long the full replay is."
    )


def _why_read_model(results: dict[str, Any], largest: int) -> str:
    return (
        "Read model: `projections.rebuild` passes every event through `summarise` (upcast, "
        "version check, a new row per event) before one bulk write, where the bare loop "
        "trusts each row and lets SQLite update the summary in place."
    )


WHY = {
    "replay_vs_peer": _why_replay,
    "replay_vs_bare": _why_replay,
    "snapshot_vs_full": _why_snapshot,
    "append_vs_peer": _why_append,
    "read_model_vs_bare": _why_read_model,
}


def render_misses(results: dict[str, Any]) -> str:
    """Why each missed target was missed, from the profile and the diagnostics of the run."""
    largest = max(_sizes(results))
    missed = [t["id"] for t in results["targets"] if not t["met"]]
    if not missed:
        return "Every target is met."
    reasons = dict.fromkeys(WHY[target](results, largest) for target in missed)
    return "\n".join(["Why the misses:", "", *(f"- {reason}" for reason in reasons)])


def _code(code: dict[str, Any]) -> str:
    if not code.get("commit"):
        return "not a git checkout"
    if not code["uncommitted"]:
        return f"commit `{code['commit']}`"
    files = ", ".join(f"`{path}`" for path in code["uncommitted"])
    return f"commit `{code['commit']}` with uncommitted changes to {files}"


RENDERERS = {
    "verdict": render_verdict,
    "misses": render_misses,
    "replay": render_replay,
    "append": render_append,
    "read-model": render_read_model,
    "meaning": render_meaning,
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
    replay = results["measurements"]["replay"]
    values = [_median(replay[str(n)][s[0]]) for n in sizes for s in CHART_SERIES]
    decades = _decades(min(values), max(values))
    y_low, y_high = decades.start, decades.stop - 1
    x_low, x_high = math.log10(min(sizes)), math.log10(max(sizes))

    def x(n: float) -> float:
        return LEFT + (math.log10(n) - x_low) / (x_high - x_low) * (RIGHT - LEFT)

    def y(seconds: float) -> float:
        return BOTTOM - (math.log10(seconds) - y_low) / (y_high - y_low) * (BOTTOM - TOP)

    desc = "; ".join(
        f"{label}: "
        + ", ".join(f"N={n:,} {format_seconds(_median(replay[str(n)][name]))}" for n in sizes)
        for name, label, *_ in CHART_SERIES
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" '
        'font-family="sans-serif" font-size="12">',
        '<title id="chart-title">Time to rebuild one order against its number of events, '
        "log-log</title>",
        f'<desc id="chart-desc">Medians from {escape(results["machine"]["date"])}. '
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
    for index, (name, label, colour, dash, marker) in enumerate(CHART_SERIES):
        points = [(x(n), y(_median(replay[str(n)][name]))) for n in sizes]
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
