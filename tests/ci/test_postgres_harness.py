"""Without PostgreSQL, the postgresql tests are skipped with what to do, or fail under CI=true."""

from __future__ import annotations

import pytest
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
