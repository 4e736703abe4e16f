"""Fixtures for the HTTP API's tests: the app on fresh files, its lifespan running."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from http_story import Api
from order_service.http_api import create_app
from order_service.store import EventStore


@pytest.fixture
def api(tmp_path):
    """The API on fresh files, its lifespan running (relay and projector in the background)."""
    write_db = tmp_path / "orders.db"
    app = create_app(write_db, wait_timeout=2.0)
    with TestClient(app) as client:
        store = EventStore(write_db, clock=lambda: "", read_only=True)
        try:
            yield Api(client, store)
        finally:
            store.close()
