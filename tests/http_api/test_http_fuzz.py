"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis).

Requests are generated from the document, valid and invalid ones, against the app in process
on a store that holds #1001 (so the example order id reaches real state). Every response must
be no 5xx, declared by the document and valid against it, and a refused request (4xx) must
append nothing. Bounded: a fixed number of examples per operation, no deadline per example.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from http_story import ORDER, PLACE
from hypothesis import HealthCheck, settings
from order_service.entrypoints.http_api import create_app
from order_service.model.events import OrderPlacedData
from order_service.write.store import EventStore
from schemathesis import checks

EXAMPLES_PER_OPERATION = 25

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
"""Schemathesis's checks that apply: positive_data_acceptance is left out, since a request
valid in form is still refused when it breaks a rule of the order (409) or names an order
that does not exist (404), as the document says."""


# schemathesis needs the app when the tests are collected (its `from_fixture` fails on
# pytest 9), so the app is built at import, on a folder the module fixture removes.
_FOLDER = tempfile.TemporaryDirectory(prefix="orders-fuzz-")
_WRITE_DB = Path(_FOLDER.name) / "orders.db"
_APP = create_app(_WRITE_DB, wait_timeout=0.05)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@pytest.fixture(scope="module")
def store():
    """The app running on a store that holds #1001; a read-only view of that store."""
    with _FOLDER, TestClient(_APP) as client:
        assert client.post("/orders", json=PLACE).status_code == 201
        store = EventStore(_WRITE_DB, clock=lambda: "", read_only=True)
        yield store
        store.close()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,  # a slow, shared machine must not fail a correct answer
    suppress_health_check=list(HealthCheck),  # generating from patterns filters many candidates
)
def test_no_request_gets_a_5xx_or_an_undocumented_answer_and_refusals_append_nothing(case, store):
    before = len(list(store.read_all()))
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert len(list(store.read_all())) == before, (
            f"{case.method} {case.path} -> {response.status_code}"
        )
    assert store.load(ORDER, upto_version=1), "the fuzzing lost #1001"


def test_the_fuzzed_document_states_the_events_limits_on_a_new_orders_lines():
    # What schemathesis generates from: its coverage phase sends 100 and 101 lines (the
    # boundary and one past it), so the check above meets the bound the event store enforces.
    body = schema.raw_schema["components"]["schemas"]["PlaceOrderRequest"]["properties"]
    event = OrderPlacedData.model_json_schema()["properties"]["lines"]
    assert (body["lines"]["minItems"], body["lines"]["maxItems"]) == (1, 100)
    assert (body["lines"]["minItems"], body["lines"]["maxItems"]) == (
        event["minItems"],
        event["maxItems"],
    )
