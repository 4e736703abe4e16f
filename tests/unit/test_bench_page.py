"""The performance page and its chart say what the committed results file says: one source."""

from __future__ import annotations

import copy
import json
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from order_service_bench import page, run

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = json.loads((REPO_ROOT / page.RESULTS).read_text(encoding="utf-8"))


def test_the_committed_results_are_two_full_runs_of_every_size():
    assert RESULTS["mode"] == "full"
    assert RESULTS["config"]["sizes"] == [10, 100, 1_000, 10_000]
    assert RESULTS["config"]["runs"] == len(RESULTS["runs"]) >= 2
    assert RESULTS["config"]["read_model_orders"] == 10_000
    assert RESULTS["config"]["validate_events"] >= 100_000
    assert [t["id"] for t in RESULTS["targets"]] == [t.id for t in run.TARGETS]


def test_the_committed_results_name_the_commit_they_measured_and_warn_when_stale():
    # The page names the commit it measured; a change to the package since then is a warning
    # (shown in pytest's summary), not a failure: `make bench` refreshes the figures.
    code = RESULTS["code"]
    assert code["commit"], "results.json names no commit: run `make bench` in a git checkout"
    assert not code["uncommitted"], "results.json measured uncommitted code"
    assert f"commit `{code['commit']}`" in (REPO_ROOT / page.PAGE).read_text(encoding="utf-8")
    if code["digest"] != run.design_digest():
        warnings.warn(
            f"the Performance page measured commit {code['commit']}; design/order_service has "
            "changed since: run `make bench` to refresh its figures",
            stacklevel=1,
        )


def test_the_page_shows_what_the_committed_results_say():
    shown = page.page_blocks((REPO_ROOT / page.PAGE).read_text(encoding="utf-8"))
    assert shown == page.render_blocks(RESULTS), "run `python -m order_service_bench.page`"


def test_the_chart_is_drawn_from_the_committed_results():
    drawn = (REPO_ROOT / page.CHART).read_text(encoding="utf-8")
    assert drawn == page.render_svg(RESULTS), "run `python -m order_service_bench.page`"
    svg = ET.fromstring(drawn)
    assert svg.get("role") == "img"
    assert "10,000" in svg.find("{http://www.w3.org/2000/svg}desc").text


def test_each_verdict_follows_from_every_run_of_its_target():
    majority = RESULTS["config"]["majority"]
    for target in RESULTS["targets"]:
        for cell in target["runs"]:
            on_median = run.holds(target["operator"], cell["value"], target["threshold"])
            if cell["holds"]:
                assert on_median and cell["rounds_holding"] >= majority, target["id"]
        assert target["met"] == all(cell["holds"] for cell in target["runs"])
    verdict = page.render_verdict(RESULTS)
    assert verdict.count("**misses**") == sum(not t["met"] for t in RESULTS["targets"])
    assert page.render_headline(RESULTS).startswith(
        f"**{sum(t['met'] for t in RESULTS['targets'])} of {len(RESULTS['targets'])} targets "
        "hold in every one of"
    )


def test_a_missed_target_is_explained_and_a_met_one_is_not():
    results = copy.deepcopy(RESULTS)
    for target in results["targets"]:
        target["met"] = target["id"] != "append_vs_peer"
    assert "Append:" in page.render_misses(results)
    assert "Full replay" not in page.render_misses(results)
    for target in results["targets"]:
        target["met"] = True
    assert page.render_misses(results) == "Every target holds in every run."


def test_rendering_refuses_a_page_that_lost_a_generated_block():
    with pytest.raises(ValueError, match="lacks the generated blocks"):
        page.update_page(
            "# Performance\n\n<!-- bench:verdict -->\n<!-- /bench:verdict -->\n", RESULTS
        )


def test_rendering_replaces_only_the_generated_blocks():
    text = "intro\n\n<!-- bench:machine -->\nstale\n<!-- /bench:machine -->\n\noutro\n"
    blocks = {name: f"<!-- bench:{name} -->\n<!-- /bench:{name} -->" for name in page.RENDERERS}
    rendered = page.update_page(
        text + "\n".join(b for n, b in blocks.items() if n != "machine"), RESULTS
    )
    assert rendered.startswith("intro\n\n<!-- bench:machine -->\n\n| | |")
    assert "stale" not in rendered and "\n\noutro\n" in rendered


def test_a_results_file_without_the_postgresql_section_says_so_and_shows_no_server():
    results = copy.deepcopy(RESULTS)
    results["measurements"].pop("postgresql", None)
    results.pop("postgresql_settings", None)
    assert "has no PostgreSQL section: run `make bench`" in page.render_postgresql(results)
    assert "| PostgreSQL |" not in page.render_machine(results)
