"""Fixtures for the HTTP API's tests: the app on fresh files, its lifespan running."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from http_story import Api
from order_service.entrypoints.http_api import create_app
from order_service.write.store import EventStore


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


@pytest.fixture
def live_server(tmp_path):
    """The API on uvicorn in a thread of this process, on a free loopback port.

    Yields `(base_url, store)`. In process, so a test can patch the store to line requests up.
    """
    import threading

    import uvicorn

    write_db = tmp_path / "orders.db"
    config = uvicorn.Config(create_app(write_db), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        thread.join(0.01)
    assert server.started, "uvicorn did not start within 5 s"
    port = server.servers[0].sockets[0].getsockname()[1]
    store = EventStore(write_db, clock=lambda: "", read_only=True)
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        store.close()
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop within 10 s"
