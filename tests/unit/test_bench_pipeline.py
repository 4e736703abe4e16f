"""The pipeline section's arithmetic, its slow subscriber and its block on the page."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from pathlib import Path

from order_service_bench import page, pipeline

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = json.loads((REPO_ROOT / page.RESULTS).read_text(encoding="utf-8"))


def test_percentiles_are_in_milliseconds_and_p99_is_inclusive():
    seconds = [i / 1000 for i in range(1, 101)]  # 1 ms to 100 ms
    found = pipeline.percentiles(seconds)
    assert found["p50"] == 50.5
    assert round(found["p99"], 6) == 99.01
    assert found["max"] == 100.0
    assert pipeline.percentiles([]) == {"p50": 0.0, "p99": 0.0, "max": 0.0}
    assert pipeline.percentiles([0.004]) == {"p50": 4.0, "p99": 4.0, "max": 4.0}


def _samples(latency: list[float], wall: float, behind: int) -> pipeline.Samples:
    return pipeline.Samples(
        latency_s=latency,
        lag_s=[0.001] * len(latency),
        wall_s=[wall],
        commands=len(latency),
        acknowledged=len(latency),
        projected=len(latency),
        read_back=len(latency) // 4,
        statuses=Counter({201: 1, 200: len(latency) - 1}),
        behind=Counter({"order_summary": 0, pipeline.SLOW_NAME: behind}),
        read_s={"plain": [0.002, 0.004], "waiting": [0.012, 0.030]},
        read_statuses=Counter({"plain 200": 1, "plain 404": 1, "waiting 200": 2}),
    )


def test_a_summary_counts_every_command_and_rates_them_over_the_rounds_wall_time():
    cell = pipeline.summary(_samples([0.01] * 8, wall=0.5, behind=3))
    assert cell["commands"] == cell["acknowledged"] == cell["projected"] == 8
    assert cell["commands_per_s"] == 16.0
    assert cell["statuses"] == {"200": 7, "201": 1}
    assert cell["subscribers_behind_at_end"] == {"order_summary": 0, pipeline.SLOW_NAME: 3}


def test_a_summary_keeps_the_plain_and_the_waiting_reads_apart():
    cell = pipeline.summary(_samples([0.01] * 8, wall=0.5, behind=0))
    assert cell["reads"]["plain"]["count"] == cell["reads"]["waiting"]["count"] == 2
    assert cell["reads"]["plain"]["latency_ms"]["p50"] == 3.0
    assert round(cell["reads"]["waiting"]["latency_ms"]["p50"], 9) == 21.0
    assert cell["read_statuses"] == {"plain 200": 1, "plain 404": 1, "waiting 200": 2}


def test_pooling_puts_every_run_of_a_variant_together():
    runs = [
        {"sqlite": {"default": _samples([0.01] * 4, wall=1.0, behind=0)}},
        {"sqlite": {"default": _samples([0.03] * 4, wall=1.0, behind=2)}},
    ]
    cell = pipeline.pool(runs)["sqlite"]["default"]
    assert cell["rounds"] == 2 and cell["commands"] == 8
    assert cell["commands_per_s"] == 4.0
    assert cell["latency_ms"]["p50"] == 20.0
    assert cell["subscribers_behind_at_end"][pipeline.SLOW_NAME] == 2
    assert cell["reads"]["waiting"]["count"] == 4
    assert runs[0]["sqlite"]["default"].commands == 4  # the runs' own samples are left alone


def test_the_slow_subscriber_sleeps_on_every_event_until_told_to_stop():
    stopping = threading.Event()
    sleeper = pipeline.Sleeper(None, 0.05, stopping)
    start = time.monotonic()
    sleeper.apply({"order_id": "1"}, 1)
    assert time.monotonic() - start >= 0.05
    stopping.set()
    start = time.monotonic()
    sleeper.apply({"order_id": "1"}, 2)
    assert time.monotonic() - start < 0.05  # stopping ends the sleep: the server stops promptly


def _with_pipeline() -> dict:
    results = copy.deepcopy(RESULTS)
    cell = pipeline.summary(_samples([0.004, 0.006, 0.2], wall=0.1, behind=5))
    results["measurements"]["pipeline"] = {
        backend: {variant: cell for variant in pipeline.VARIANTS}
        for backend in ("sqlite", "postgresql")
    }
    results["config"]["pipeline"] = pipeline.configuration(pipeline.Load(3, 1, 1))
    return results


def test_the_pipeline_block_shows_each_database_with_and_without_the_slow_subscriber():
    shown = page.render_pipeline(_with_pipeline())
    header = shown.splitlines()[0]
    assert header.count("slow subscriber") == 2 and "PostgreSQL" in header
    assert "| command latency, p50 | 6.00 ms | 6.00 ms | 6.00 ms | 6.00 ms |" in shown
    assert "| events the slow subscriber had still to handle at the end | 5 |" in shown
    assert "sleeps 50 ms on every event" in shown
    assert "p99 lag under 100 ms: SQLite 1.00 ms (under the aim)" in shown


def test_the_pipeline_block_shows_a_waiting_read_beside_a_plain_one():
    shown = page.render_pipeline(_with_pipeline())
    plain = "| plain read of the order just written, p50 / p99 |"
    waiting = "| read waiting for that version (`min_version`), p50 / p99 |"
    assert plain + " 3.00 ms / 3.98 ms |" in shown
    assert waiting + " 21.0 ms / 29.8 ms |" in shown
    assert "one with `?min_version=` the version acknowledged" in shown


def test_a_pipeline_section_measured_without_reads_says_so():
    results = _with_pipeline()
    for variants in results["measurements"]["pipeline"].values():
        for cell in variants.values():
            cell.pop("reads", None)  # one cell shared by every column
    del results["config"]["pipeline"]["reads"]
    shown = page.render_pipeline(results)
    assert "| plain read of the order just written, p50 / p99 | (not measured) |" in shown
    assert "min_version=` the version" not in shown


def test_the_waiting_reads_column_shows_the_reads_held_and_the_latency_beside_the_default():
    results = _with_pipeline()
    held = _samples([0.008, 0.012, 0.4], wall=0.1, behind=0)
    held.held.update({404: 120})
    held.held_at_start += [60, 59]
    plain = _samples([0.002, 0.008, 0.1], wall=0.1, behind=0)
    plain.held.update({404: 118})
    plain.held_at_start += [60, 60]
    for backend in ("sqlite", "postgresql"):
        measured = results["measurements"]["pipeline"][backend]
        measured[pipeline.WAITING] = pipeline.summary(held)
        measured[pipeline.PLAIN] = pipeline.summary(plain)
    shown = page.render_pipeline(results)
    row = next(line for line in shown.splitlines() if line.startswith("| reads beside the"))
    assert row.count("59 / 120 answered 404") == 2  # the fewest seen waiting, in each database
    assert row.count("60 / 118 answered 404") == 2  # the control's clients, reading
    assert row.split(" | ")[1] == ""  # the default column held none
    ratio = next(line for line in shown.splitlines() if "waiting reads ÷ default, SQLite" in line)
    assert f"2.00{page.TIMES}" in ratio  # p50 0.012 s beside the default's 0.006 s
    control = next(
        line for line in shown.splitlines() if "÷ the same reads not waiting, PostgreSQL" in line
    )
    assert f"1.50{page.TIMES}" in control  # p50 0.012 s beside the control's 0.008 s
    requests = next(line for line in shown.splitlines() if "not waiting ÷ default, SQLite" in line)
    assert f"1.33{page.TIMES}" in requests  # the control's p50 0.008 s beside the default's 0.006 s
    assert "60 more clients each keep a `GET /orders/{id}?min_version=` waiting" in shown
    assert "their first reads spread evenly over 2 s" in shown
    assert "the same read without `min_version`, each once per timeout" in shown


def test_a_results_file_without_the_pipeline_section_says_so():
    results = copy.deepcopy(RESULTS)
    results["measurements"].pop("pipeline", None)
    assert "has no pipeline section: run `make bench`" in page.render_pipeline(results)


KAFKA_SETUP = {
    "broker": "kafka_2.13-4.4.0, single node (broker and controller in one process, KRaft)",
    "jvm": ["-Xmx256m"],
    "partitions": 3,
    "replicas": 1,
    "producer": {"enable.idempotence": True, "acks": "all", "linger.ms": 5},
    "consumer": {"poll_timeout_s": 0.2, "session_timeout_s": 10.0, "enable.auto.commit": False},
    "client": "confluent-kafka 2.16.2, librdkafka 2.16.0",
    "processes": "orders serve --bus (API and relay), orders project, orders notify",
}


def test_the_kafka_columns_show_beside_the_embedded_bus_with_how_kafka_was_set_up():
    results = _with_pipeline()
    kafka = pipeline.summary(_samples([0.01, 0.02, 0.03], wall=0.1, behind=0))
    kafka["lag_ms"] = pipeline.percentiles([0.15, 0.25, 0.3])
    for backend in ("sqlite", "postgresql"):
        results["measurements"]["pipeline"][backend][pipeline.KAFKA] = kafka
    results["config"]["pipeline"]["kafka"] = KAFKA_SETUP
    shown = page.render_pipeline(results)
    header = shown.splitlines()[0]
    assert header == (
        "| Through the HTTP API | SQLite | SQLite, + slow subscriber | SQLite, + waiting reads"
        " | SQLite, + the same reads, not waiting | SQLite, Kafka | PostgreSQL"
        " | PostgreSQL, + slow subscriber | PostgreSQL, + waiting reads"
        " | PostgreSQL, + the same reads, not waiting | PostgreSQL, Kafka |"
    )
    lag = next(
        line
        for line in shown.splitlines()
        if line.startswith("| lag from the 2xx to the read model, p50")
    )
    cells = [cell.strip() for cell in lag.strip("|").split("|")]
    assert cells[5] == cells[10] == "250 ms"
    assert "`enable.idempotence=true`, `acks=all`, `linger.ms=5`" in shown
    assert "a fresh topic of 3 partitions (replication 1)" in shown
    assert "kafka_2.13-4.4.0, single node" in shown and "`-Xmx256m`" in shown
    assert "a poll waits up to 200 ms, session timeout 10 s" in shown
    assert "confluent-kafka 2.16.2, librdkafka 2.16.0" in shown
    assert "no Kafka columns" not in shown


def test_a_results_file_without_kafka_leaves_its_columns_out_and_says_so():
    results = _with_pipeline()
    for backend in ("sqlite", "postgresql"):
        del results["measurements"]["pipeline"][backend][pipeline.KAFKA]
    shown = page.render_pipeline(results)
    assert "Kafka" not in shown.splitlines()[0]
    # default, slow, waiting reads, the same reads not waiting, in each database
    assert shown.splitlines()[1] == "|---|" + "---:|" * 8
    assert "This results file has no Kafka columns: `make bench` measures them" in shown
