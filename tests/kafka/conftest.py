"""The Kafka tests: `kafka_processes` holds their tools (and puts the integration builders on
the path)."""

from __future__ import annotations

import kafka_processes  # noqa: F401  # the integration tests' builders on sys.path
