"""The Kafka tests: `kafka_processes` holds their tools (and puts the integration builders on
the path)."""

from __future__ import annotations

import pytest
from kafka_processes import Orders


@pytest.fixture
def started():
    """The `orders` processes a test starts; any still running at the end is killed."""
    processes: list[Orders] = []
    yield processes
    for process in processes:
        if process.process.poll() is None:
            process.kill()
