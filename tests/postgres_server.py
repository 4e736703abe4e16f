"""The tests' PostgreSQL server: the benchmark's harness (a throwaway cluster, or a URL).

`ORDERS_TEST_PG_URL=postgresql://...` uses that server; otherwise a cluster is started (see
`order_service_bench.postgres_server`, shared with `make bench`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from order_service_bench.postgres_server import INITDB_GLOB, URL_VARIABLE, Server, Unavailable

__all__ = ["URL_VARIABLE", "Server", "server_for_tests"]


def server_for_tests(environ: Mapping[str, str], initdb_glob: str = INITDB_GLOB) -> Server:
    """A started server, or the test is skipped, or (with `CI=true`) it fails, saying why."""
    try:
        return Server.start(environ, initdb_glob)
    except Unavailable as missing:
        if environ.get("CI") == "true":
            pytest.fail(f"CI=true and no PostgreSQL: {missing}", pytrace=False)
        pytest.skip(str(missing))
