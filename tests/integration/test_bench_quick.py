"""The benchmark's quick mode runs inside `make test`, so the benchmark cannot rot.

These tests check what the results document holds (every measurement of every run, every
target without a verdict, the machine, the code measured) and that every contender derives the
same order; they assert no speed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from order_service.bus.kafka import PARTITIONS
from order_service_bench import (
    floor,
    ours,
    page,
    peer,
    pipeline,
    postgresql,
    run,
    stages,
    worker,
    workload,
)
from order_service_bench.kafka_server import ADDRESS_VARIABLE
from order_service_bench.timing import Contender, Progress, compare, format_seconds

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick(
    tmp_path_factory: pytest.TempPathFactory, postgres_server, kafka_broker
) -> tuple[dict, str]:
    """One run of `python -m order_service_bench --quick`: its results and its stderr.

    Its PostgreSQL section runs on the tests' server, its Kafka variant on the tests' broker
    (skipped without them, failed under CI).
    """
    out = tmp_path_factory.mktemp("bench") / "results.json"
    servers = {
        postgresql.URL_VARIABLE: postgres_server.url,
        ADDRESS_VARIABLE: kafka_broker.bootstrap,
    }
    done = subprocess.run(
        [sys.executable, "-m", "order_service_bench", "--quick", "--out", str(out)],
        env={**os.environ, **servers},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,  # the Kafka variant starts three processes per round
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
    assert results["postgresql_settings"]["server"] == "a URL (ORDERS_BENCH_PG_URL)"
    assert set(results["postgresql_settings"]) >= {"server_version", "fsync", "synchronous_commit"}
    assert results["code"]["digest"] == run.design_digest()


def test_the_quick_benchmark_measures_every_postgresql_contender_at_every_size(quick):
    results, stderr = quick
    config = results["config"]["postgresql"]
    assert config["sizes"] == list(run.QUICK.pg_sizes)
    groups = (("replay", postgresql.REPLAY), ("append", postgresql.APPEND))
    for measured in (
        *(r["postgresql"] for r in results["runs"]),
        results["measurements"]["postgresql"],
    ):
        rounds = config["repeats"] * (
            results["config"]["runs"] if measured is results["measurements"]["postgresql"] else 1
        )
        for group, names in groups:
            assert sorted(measured[group]) == sorted(str(n) for n in config["sizes"])
            for n in config["sizes"]:
                assert sorted(measured[group][str(n)]) == sorted(names), (group, n)
        assert sorted(measured["read_model"]) == sorted(postgresql.READ_MODEL)
        cells = [c for g, _ in groups for at in measured[g].values() for c in at.values()]
        for cell in [*cells, *measured["read_model"].values()]:
            assert len(cell["runs_s"]) == rounds and cell["median_s"] > 0
    # Every timed call was checked (see `postgresql.measure_*`): reaching the end means each
    # contender derived the expected order, appended every event, projected every order.
    last = f"PostgreSQL read model, {config['read_model_orders']:,} orders x 4 events"
    assert last in stderr


def test_the_page_shows_the_postgresql_figures_the_results_hold(quick):
    results, _ = quick
    shown = page.render_blocks(results)["postgresql"]
    measured = results["measurements"]["postgresql"]
    for group, labels in (("replay", page.PG_REPLAY_LABELS), ("append", page.PG_APPEND_LABELS)):
        for name, label in labels.items():
            medians = [
                format_seconds(measured[group][str(n)][name]["median_s"])
                for n in results["config"]["postgresql"]["sizes"]
            ]
            assert f"| {label} | {' | '.join(medians)} |" in shown
    for name, label in page.PG_READ_MODEL_LABELS.items():
        assert f"| {label} | {format_seconds(measured['read_model'][name]['median_s'])} |" in shown
    settings = results["postgresql_settings"]
    assert f"`fsync={settings['fsync']}`" in shown and settings["server_version"] in shown
    assert "Reported, not judged" in shown


def test_the_benchmark_shows_its_progress_and_no_verdict_in_quick_mode(quick):
    _, stderr = quick
    steps = run.steps(run.QUICK)
    assert f"[1/{steps}] replay N=10" in stderr
    assert "] orders validate, " in stderr
    assert f"[{steps}/{steps}] pipeline, PostgreSQL" in stderr
    assert "pass: " not in stderr and "MISS: " not in stderr
    assert "quick mode: no verdicts" in stderr
    assert sum(target.claim in stderr for target in run.TARGETS) == len(run.TARGETS)


def test_the_quick_benchmark_sends_every_order_through_the_api_and_sees_it_projected(quick):
    results, stderr = quick
    config = results["config"]["pipeline"]
    load = run.QUICK.pipeline
    assert (config["orders_per_round"], config["clients"], config["rounds"]) == (
        load.orders, load.clients, load.rounds
    )  # fmt: skip
    assert config["variants"] == list(pipeline.VARIANTS)
    assert config["slow_subscriber_sleep_s"] > 0
    assert config["kafka"]["partitions"] == PARTITIONS and config["kafka"]["producer"]["acks"]
    runs = results["config"]["runs"]
    summaries = [(r["pipeline"], 1) for r in results["runs"]]
    for measured, times in [*summaries, (results["measurements"]["pipeline"], runs)]:
        assert sorted(measured) == ["postgresql", "sqlite"]
        for backend, variants in measured.items():
            assert sorted(variants) == sorted(pipeline.VARIANTS), backend
            for variant, cell in variants.items():
                orders = load.orders * load.rounds * times
                commands = orders * pipeline.COMMANDS_PER_ORDER
                where = (backend, variant)
                assert cell["rounds"] == load.rounds * times, where
                # Every command answered 2xx (201 for the place, 200 for the others), every
                # version was seen in the read model, every order read back at its last one.
                assert cell["commands"] == cell["acknowledged"] == commands, where
                assert cell["statuses"] == {"200": commands - orders, "201": orders}, where
                assert cell["projected"] == commands and cell["read_back"] == orders, where
                assert cell["commands_per_s"] > 0, where
                for figure in ("latency_ms", "lag_ms"):
                    low, high, top = (cell[figure][p] for p in ("p50", "p99", "max"))
                    assert 0 <= low <= high <= top, (where, figure)
                assert cell["latency_ms"]["p50"] > 0, where
                # The slow subscriber was attached (GET /health lists it) in its variant only;
                # the projector and the notifier had caught up by the end.
                behind = cell["subscribers_behind_at_end"]
                expected = {"order_summary", "shipping_notifier"}
                if variant == "slow_subscriber":
                    expected.add(pipeline.SLOW_NAME)
                assert set(behind) == expected, where
                assert behind["order_summary"] == 0, where
                # Beside the waiting reads and their control, every client was reading when
                # the commands began, and each read was answered 404 (no such order).
                held = cell["held_reads"]
                if variant in (pipeline.WAITING, pipeline.PLAIN):
                    assert held["waiting_at_start"] == [pipeline.WAITERS] * cell["rounds"], where
                    assert list(held["answered"]) == ["404"], where
                    assert held["answered"]["404"] >= pipeline.WAITERS * cell["rounds"], where
                else:
                    assert held == {"answered": {}, "waiting_at_start": []}, where
                # The reader read an order at least once a round, plain and waiting alike, and
                # every read has its answer counted.
                reads = cell["reads"]
                assert reads["plain"]["count"] == reads["waiting"]["count"] >= cell["rounds"]
                assert sum(cell["read_statuses"].values()) == 2 * reads["plain"]["count"], where
                for kind in pipeline.READS:
                    low, high, top = (reads[kind]["latency_ms"][p] for p in ("p50", "p99", "max"))
                    assert 0 < low <= high <= top, (where, kind)
    assert "] pipeline, SQLite, " in stderr


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
    minimal = peer.open_app(tmp_path / "peer-minimal.db", snapshots=True, transcoder="minimal")
    minimal_aggregate = peer.build_order(events)
    minimal.save(minimal_aggregate)
    conn = floor.open_event_store(tmp_path / "floor.db")
    floor.append(conn, floor.event_rows(events, ours.RECORDED_AT))
    try:
        assert ours.summary(ours.replay(store, "42")) == expected
        assert peer.summary(app.repository.get(aggregate.id)) == expected
        assert type(fast.mapper.transcoder) is peer.OrjsonTranscoder
        assert peer.summary(fast.repository.get(fast_aggregate.id)) == expected
        assert type(minimal.mapper.transcoder) is peer.MinimalOrjsonTranscoder
        from_events = minimal.repository.get(minimal_aggregate.id)
        minimal.take_snapshot(minimal_aggregate.id, version=n_events - 1)  # one event behind
        from_snapshot = minimal.repository.get(minimal_aggregate.id)
        for got in (from_events, from_snapshot):  # the same state, types included
            assert peer.summary(got) == expected
            assert (got.lines, got.total, got.modified_on) == (
                minimal_aggregate.lines,
                minimal_aggregate.total,
                minimal_aggregate.modified_on,
            )
        assert floor.summary(floor.fold(conn, "42")) == expected
        assert floor.summary(floor.fold(sqlite3.connect(store.path), "42")) == expected
    finally:
        store.close()
        app.close()
        fast.close()
        minimal.close()
        conn.close()


@pytest.mark.parametrize("n_events", [10, 100])
def test_every_postgresql_contender_derives_the_same_order(postgres_server, n_events):
    events = workload.order_events("42", n_events)
    expected = workload.expected_summary(n_events)
    schemas = postgresql.Schemas(postgres_server)
    try:
        url = schemas.fresh("ours")
        store = schemas.hold("ours", ours.open_store(url))
        store.append(events, expected_version=0)
        app = schemas.hold("peer", peer.open_app(schemas.fresh("peer")))
        aggregate = peer.build_order(events)
        app.save(aggregate)
        conn = schemas.hold("floor", postgresql.open_event_store(schemas.fresh("floor")))
        assert postgresql.append(conn, floor.event_rows(events, ours.RECORDED_AT)) == n_events
        ours_rows = schemas.hold("floor-on-ours", postgresql.connect(url))
        assert ours.summary(ours.replay(store, "42")) == expected
        assert type(app.recorder).__module__ == "eventsourcing.postgres"
        assert peer.summary(app.repository.get(aggregate.id)) == expected
        assert floor.summary(postgresql.fold(conn, "42")) == expected
        assert floor.summary(postgresql.fold(ours_rows, "42")) == expected
    finally:
        schemas.close()


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
