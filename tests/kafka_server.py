"""The tests' Kafka broker: a throwaway one (`order_service_bench.kafka_server`), or one given.

`ORDERS_TEST_KAFKA=HOST:PORT` uses that broker; otherwise one is started from `make kafka`'s jars.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from order_service_bench.kafka_server import ADDRESS_VARIABLE, Broker, Unavailable

__all__ = ["ADDRESS_VARIABLE", "Broker", "broker_for_tests"]


def broker_for_tests(environ: Mapping[str, str]) -> Broker:
    """A started broker, or the test is skipped, or (with `CI=true`) it fails, saying why."""
    try:
        return Broker.start(environ)
    except Unavailable as missing:
        if environ.get("CI") == "true":
            pytest.fail(f"CI=true and no Kafka: {missing}", pytrace=False)
        pytest.skip(str(missing))
