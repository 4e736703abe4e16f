"""Without Java or Kafka's jars the kafka tests skip saying what to do (fail under CI=true)."""

from __future__ import annotations

import socket

import pytest
from kafka_server import ADDRESS_VARIABLE, broker_for_tests
from order_service_bench.kafka_server import LIBS_VARIABLE

NO_JAVA = {"PATH": "/nonexistent"}


def test_without_java_the_kafka_tests_are_skipped_saying_how_to_get_it():
    with pytest.raises(pytest.skip.Exception) as skipped:
        broker_for_tests(NO_JAVA)
    assert "java not found" in str(skipped.value)
    assert "make kafka" in str(skipped.value)
    assert ADDRESS_VARIABLE in str(skipped.value)


def test_without_the_jars_ci_fails_instead_of_skipping(tmp_path):
    environ = {"CI": "true", LIBS_VARIABLE: str(tmp_path)}
    with pytest.raises(pytest.fail.Exception, match="CI=true and no Kafka: no Kafka jars in"):
        broker_for_tests(environ)


def test_a_broker_given_by_address_is_used_as_it_is():
    broker = broker_for_tests({ADDRESS_VARIABLE: "kafka.example:9092"})
    assert broker.folder is None  # nothing started, nothing to remove
    assert broker.url == "kafka://kafka.example:9092"
    broker.stop()  # leaves a given broker alone


def test_the_started_broker_accepts_clients_on_loopback(kafka_broker):
    host, port = kafka_broker.bootstrap.rsplit(":", 1)
    assert host == "127.0.0.1"
    with socket.create_connection((host, int(port)), timeout=10):
        pass
