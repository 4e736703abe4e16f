"""Without PostgreSQL the tests skip saying what to do (fail under CI=true); the benchmark fails."""

from __future__ import annotations

import pytest
from order_service_bench import postgresql
from order_service_bench.__main__ import main as bench_main
from order_service_bench.postgres_server import Server, Unavailable
from postgres_server import URL_VARIABLE, server_for_tests

NOWHERE = {"PATH": "/nonexistent"}


def test_without_postgresql_the_tests_are_skipped_saying_how_to_get_it():
    with pytest.raises(pytest.skip.Exception) as skipped:
        server_for_tests(NOWHERE, initdb_glob="/nonexistent/*/bin/initdb")
    assert "apt-get install -y postgresql" in str(skipped.value)
    assert URL_VARIABLE in str(skipped.value)


def test_without_postgresql_ci_fails_instead_of_skipping():
    with pytest.raises(pytest.fail.Exception, match="CI=true and no PostgreSQL: initdb not found"):
        server_for_tests({**NOWHERE, "CI": "true"}, initdb_glob="/nonexistent/*/bin/initdb")


def test_a_server_given_by_url_is_used_as_it_is():
    server = server_for_tests({URL_VARIABLE: "postgresql://u@db.example:5433/shop"})
    assert server.folder is None  # nothing started, nothing to remove
    assert server.new_url().startswith("postgresql://u@db.example:5433/shop?schema=t")
    assert server.new_url() != server.new_url()


def test_the_benchmark_names_its_own_url_variable_when_no_server_can_be_had():
    with pytest.raises(Unavailable, match=f"initdb not found.*{postgresql.URL_VARIABLE}="):
        Server.start(NOWHERE, "/nonexistent/*/bin/initdb", url_variable=postgresql.URL_VARIABLE)


def test_without_postgresql_the_benchmark_fails_before_measuring_saying_why(
    tmp_path, monkeypatch, capsys
):
    def unavailable(environ):
        raise Unavailable("initdb not found. PostgreSQL is needed: ...")

    monkeypatch.setattr(postgresql, "start", unavailable)
    out = tmp_path / "results.json"
    assert bench_main(["--quick", "--out", str(out)]) == 2
    assert "no PostgreSQL server for its PostgreSQL section: initdb not found" in (
        capsys.readouterr().err
    )
    assert not out.exists()
