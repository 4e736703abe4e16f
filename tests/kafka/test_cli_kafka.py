"""`orders relay`, `project` and `notify` refuse what they cannot run on, in one line, exit 1.

None of these needs a broker: each is refused before one is needed, or finds none answering.
"""

from __future__ import annotations

import io

import pytest
from order_service.entrypoints.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["relay", "project", "notify"])
def test_a_bus_that_is_not_a_kafka_url_is_refused_in_one_line(command, tmp_path):
    status, _, err = run(command, "--db", str(tmp_path / "orders.db"), "--bus", "http://x:1")
    assert (status, err) == (1, "orders: --bus 'http://x:1' is not a kafka://HOST:PORT URL\n")
    assert list(tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize("command", ["relay", "project", "notify"])
def test_a_missing_write_database_is_refused_before_any_broker_is_asked(command, tmp_path):
    db = tmp_path / "orders.db"
    status, _, err = run(command, "--db", str(db), "--bus", "kafka://127.0.0.1:9")
    assert status == 1
    assert err == f"orders: {db}: no such write database (run `orders demo --db {db}`?)\n"
    assert list(tmp_path.iterdir()) == []


def test_no_broker_answering_is_one_line_and_exit_1(tmp_path):
    db = tmp_path / "orders.db"
    assert run("demo", "--db", str(db))[0] == 0
    status, _, err = run("project", "--db", str(db), "--bus", "kafka://127.0.0.1:9")
    assert status == 1
    assert err.startswith("orders: cannot reach the broker at kafka://127.0.0.1:9: ")
    assert err.count("\n") == 1, err


def test_an_unknown_subscriber_is_refused_naming_the_known_ones(kafka_broker, tmp_path):
    db = tmp_path / "orders.db"
    assert run("demo", "--db", str(db))[0] == 0
    status, _, err = run("project", "--db", str(db), "--bus", kafka_broker.url, "--subscriber", "x")
    assert status == 1
    assert (
        err == "orders: --subscriber 'x': no such subscriber (order_summary, shipping_notifier)\n"
    )


def test_serve_refuses_a_bad_bus_before_it_serves(tmp_path):
    status, _, err = run("serve", "--db", str(tmp_path / "orders.db"), "--bus", "kafka://nohost")
    assert (status, err) == (
        1,
        "orders: --bus 'kafka://nohost': give the broker as kafka://HOST:PORT\n",
    )
