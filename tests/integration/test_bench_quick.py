"""The benchmark's quick mode runs inside `make test`, so the benchmark cannot rot.

These tests check what the results document holds (every measurement of every run, every
target without a verdict, the machine, the code measured) and that every contender derives the
same order; they assert no speed.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from order_service_bench import floor, ours, page, peer, run, stages, worker, workload
from order_service_bench.timing import Contender, Progress, compare

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """One run of `python -m order_service_bench --quick`: its results and its stderr."""
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "order_service_bench", "--quick", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.read_text(encoding="utf-8")), done.stderr


def test_the_quick_benchmark_measures_every_contender_at_every_size(quick):
    results, _ = quick
    config = results["config"]
    assert results["mode"] == "quick"
    assert config["sizes"] == list(run.QUICK.sizes)
    assert len(results["runs"]) == config["runs"] == run.QUICK.runs
    groups = (("replay", run.REPLAY), ("optimised", worker.OPTIMISED), ("append", run.APPEND))
    for measured in (*results["runs"], results["measurements"]):
        for group, names in groups:
            assert sorted(measured[group]) == sorted(str(n) for n in config["sizes"])
            for n in config["sizes"]:
                assert sorted(measured[group][str(n)]) == sorted(names), (group, n)
                for cell in measured[group][str(n)].values():
                    assert len(cell["runs_s"]) == config["repeats"] * (
                        config["runs"] if measured is results["measurements"] else 1
                    )
                    assert cell["median_s"] > 0
        assert sorted(measured["read_model"]) == sorted(run.READ_MODEL)
    for measured in results["runs"]:
        validate = measured["validate"]
        assert validate["events"] == run.QUICK.validate_events
        assert (
            len(validate["events_per_s"]) == len(validate["peak_mib"]) == config["validate_rounds"]
        )
        assert set(measured["stages"]["median_s"]) == set(stages.STAGES)
    assert [t["id"] for t in results["targets"]] == [t.id for t in run.TARGETS]
    for target in results["targets"]:
        assert target["met"] is None  # quick mode judges nothing
        assert all(cell["holds"] is None and cell["value"] > 0 for cell in target["runs"])
    assert set(results["machine"]) >= {"cpu", "cores", "python", "sqlite", "date", "load_average"}
    assert set(results["sqlite_settings"]) == {"ours", "peer"}
    assert results["code"]["digest"] == run.design_digest()


def test_the_benchmark_shows_its_progress_and_no_verdict_in_quick_mode(quick):
    _, stderr = quick
    steps = run.steps(run.QUICK)
    assert f"[1/{steps}] replay N=10" in stderr
    assert f"[{steps}/{steps}] orders validate" in stderr
    assert "pass: " not in stderr and "MISS: " not in stderr
    assert "quick mode: no verdicts" in stderr
    assert sum(target.claim in stderr for target in run.TARGETS) == len(run.TARGETS)


def test_the_page_and_the_chart_render_from_quick_results(quick):
    results, _ = quick
    blocks = page.render_blocks(results)
    assert sorted(blocks) == sorted(page.RENDERERS)
    assert all(body.strip() for body in blocks.values())
    assert "no verdicts" in blocks["headline"]
    svg = ET.fromstring(page.render_svg(results))
    namespace = "{http://www.w3.org/2000/svg}"
    assert svg.find(f"{namespace}title") is not None
    assert len(svg.findall(f"{namespace}polyline")) == len(page.CHART_SERIES)


@pytest.mark.parametrize("n_events", [10, 100])
def test_every_contender_derives_the_same_order(tmp_path, n_events):
    events = workload.order_events("42", n_events)
    expected = workload.expected_summary(n_events)
    store = ours.open_store(tmp_path / "ours.db")
    store.append(events, expected_version=0)
    app = peer.open_app(tmp_path / "peer.db")
    aggregate = peer.build_order(events)
    app.save(aggregate)
    fast = peer.open_app(tmp_path / "peer-orjson.db", transcoder="orjson")
    fast_aggregate = peer.build_order(events)
    fast.save(fast_aggregate)
    conn = floor.open_event_store(tmp_path / "floor.db")
    floor.append(conn, floor.event_rows(events, ours.RECORDED_AT))
    try:
        assert ours.summary(ours.replay(store, "42")) == expected
        assert peer.summary(app.repository.get(aggregate.id)) == expected
        assert type(fast.mapper.transcoder) is peer.OrjsonTranscoder
        assert peer.summary(fast.repository.get(fast_aggregate.id)) == expected
        assert floor.summary(floor.fold(conn, "42")) == expected
        assert floor.summary(floor.fold(sqlite3.connect(store.path), "42")) == expected
    finally:
        store.close()
        app.close()
        fast.close()
        conn.close()


def test_a_contender_that_derives_another_order_fails_the_run():
    def wrong(result: int) -> None:
        if result != 2:
            raise AssertionError(f"derived {result}")

    contenders = [
        Contender("right", lambda: lambda: 2, wrong),
        Contender("off", lambda: lambda: 3, wrong),
    ]
    with pytest.raises(AssertionError, match="derived 3"):
        compare("check", contenders, warmup=0, repeats=1, progress=Progress(1, quiet=True))
