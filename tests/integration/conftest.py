"""Fixtures for the integration tests: a running Order Service on two SQLite files."""

from __future__ import annotations

import pytest
from command_builders import TickingClock, counting_ids
from order_service.app import bootstrap


@pytest.fixture
def service(tmp_path):
    """The whole design on fresh files, with a repeatable clock and ids."""
    service = bootstrap(tmp_path / "orders.db", clock=TickingClock(), new_id=counting_ids())
    yield service
    service.close()
