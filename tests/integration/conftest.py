"""Fixtures for the integration tests: a running Order Service on each backend."""

from __future__ import annotations

import pytest
from command_builders import TickingClock, counting_ids
from order_service.app import bootstrap


@pytest.fixture
def service(new_db):
    """The whole design on fresh databases (files, or schemas), with a repeatable clock and ids.

    Parametrised: each test that uses it runs on SQLite and on PostgreSQL.
    """
    service = bootstrap(new_db(), clock=TickingClock(), new_id=counting_ids())
    yield service
    service.close()


@pytest.fixture
def sqlite_service(tmp_path):
    """The whole design on SQLite files only: for what only SQLite does (or is asked of it)."""
    service = bootstrap(tmp_path / "orders.db", clock=TickingClock(), new_id=counting_ids())
    yield service
    service.close()
