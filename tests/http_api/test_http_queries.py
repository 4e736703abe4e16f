"""The query endpoints in process: the read model, its paging and staleness, and the event store."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient
from http_story import ORDER, PAY, PLACE, Api, key, line
from order_service.entrypoints.http_api import create_app
from order_service.write.store import EventStore
from test_http_commands import assert_problem


def test_min_version_reads_your_own_write_with_its_version_as_etag(api):
    version = api.place().json()["version"]
    response = api.client.get(f"/orders/{ORDER}", params={"min_version": version})
    assert response.status_code == 200
    summary = response.json()
    assert (summary["order_id"], summary["status"], summary["total_amount"]) == (
        ORDER,
        "placed",
        "129.97",
    )
    assert summary["last_version"] == version
    assert response.headers["etag"] == f'"{version}"'
    assert "read-model-stale" not in response.headers


def test_a_min_version_not_reached_in_time_answers_200_with_what_it_has_marked_stale(api):
    api.place()
    api.client.get(f"/orders/{ORDER}", params={"min_version": 1})
    started = time.monotonic()
    response = api.client.get(f"/orders/{ORDER}", params={"min_version": 9})
    waited = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["last_version"] == 1
    assert response.headers["read-model-stale"] == "true"
    assert response.headers["etag"] == '"1"'
    assert 2.0 <= waited < 10  # the fixture's wait timeout, then the answer


def test_an_order_the_read_model_does_not_hold_after_waiting_is_404_not_yet_projected(api):
    response = api.client.get("/orders/4242", params={"min_version": 1})
    problem = assert_problem(response, 404, "not-yet-projected")
    assert "still at version 0" in problem["detail"]
    assert response.headers["retry-after"] == "1"


def test_an_unknown_order_is_404(api):
    assert "4242" in assert_problem(api.client.get("/orders/4242"), 404, "not-found")["detail"]


@pytest.mark.parametrize("value", ["0", "-1", "two", "99999999999"])
def test_a_min_version_that_is_not_a_version_is_422_naming_it(api, value):
    response = api.client.get(f"/orders/{ORDER}", params={"min_version": value})
    problem = assert_problem(response, 422, "invalid-request")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("query", "min_version")]


def _place_many(api: Api, count: int) -> list[str]:
    ids = [str(2000 + n) for n in range(count)]
    for n, order_id in enumerate(ids):
        customer = "C-0042" if n % 2 == 0 else "C-0007"
        response = api.client.post(
            "/orders", json={**PLACE, "order_id": order_id, "customer_id": customer}, headers=key()
        )
        assert response.status_code == 201
    api.client.get(f"/orders/{ids[-1]}", params={"min_version": 1})
    return ids


def test_search_filters_and_pages_follow_next_to_every_order_once_in_a_stable_order(api):
    ids = _place_many(api, 7)
    everything = api.client.get("/orders", params={"customer_id": "C-0042"}).json()
    assert everything["next"] is None
    expected = [o["order_id"] for o in everything["orders"]]
    assert sorted(expected) == sorted(ids[0::2])
    seen, url, pages = [], "/orders?customer_id=C-0042&limit=2", 0
    while url is not None:
        response = api.client.get(url)
        assert response.status_code == 200
        page = response.json()
        seen += [o["order_id"] for o in page["orders"]]
        url, pages = page["next"], pages + 1
        if url is not None:
            assert response.headers["link"] == f'<{url}>; rel="next"'
        else:
            assert "link" not in response.headers
    assert seen == expected  # same order, none twice, none missing
    assert pages == 2  # 4 orders, 2 a page: the second page is the last (no empty third)


def test_search_by_status_sku_and_placed_range(api):
    api.place()
    api.client.post(f"/orders/{ORDER}/payment", json=PAY)
    api.client.post("/orders", json={**PLACE, "order_id": "1002", "lines": [line("TIN-ROBOT")]})
    api.client.get("/orders/1002", params={"min_version": 1})
    api.client.get(f"/orders/{ORDER}", params={"min_version": 2})

    def found(**params):
        response = api.client.get("/orders", params=params)
        assert response.status_code == 200, response.text
        return [order["order_id"] for order in response.json()["orders"]]

    assert found(status="paid") == [ORDER]
    assert found(sku="TIN-ROBOT") == ["1002"]
    assert sorted(found(placed_from="2000-01-01", placed_before="2999-01-01")) == [ORDER, "1002"]
    assert found(placed_before="2000-01-01") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"placed_from": "yesterday"}, "placed_from"),
        ({"placed_from": "9999-12-31T23:59:59-01:00"}, "placed_from"),
        ({"placed_before": "2026-13-01"}, "placed_before"),
        ({"customer_id": "42"}, "customer_id"),
        ({"after": "not-a-cursor"}, "after"),
    ],
)
def test_a_search_parameter_not_valid_is_422_naming_it(api, params, field):
    problem = assert_problem(api.client.get("/orders", params=params), 422, "invalid-request")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("query", field)]
    assert field in problem["detail"]


def test_the_events_endpoint_answers_the_stored_events_in_version_order(api):
    api.place()
    api.client.post(f"/orders/{ORDER}/payment", json=PAY)
    response = api.client.get(f"/orders/{ORDER}/events")
    assert response.status_code == 200
    assert response.json() == api.events()
    assert [event["version"] for event in response.json()] == [1, 2]
    assert_problem(api.client.get("/orders/4242/events"), 404, "not-found")


def test_the_state_endpoint_folds_the_events_now_or_as_of_a_version_or_time(api):
    api.place()
    api.client.post(f"/orders/{ORDER}/payment", json=PAY)
    now = api.client.get(f"/orders/{ORDER}/state")
    assert (now.json()["status"], now.json()["version"], now.headers["etag"]) == ("paid", 2, '"2"')
    then = api.client.get(f"/orders/{ORDER}/state", params={"as_of_version": 1}).json()
    assert (then["status"], then["total"]) == ("placed", {"amount": "129.97", "currency": "EUR"})
    later = api.client.get(f"/orders/{ORDER}/state", params={"as_of": "2999-01-01T00:00:00Z"})
    assert later.json() == now.json()
    before = api.client.get(f"/orders/{ORDER}/state", params={"as_of": "2000-01-01T00:00:00Z"})
    assert "by then" in assert_problem(before, 404, "not-found")["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"as_of_version": "0"}, "as_of_version"),
        ({"as_of": "last week"}, "as_of"),
        ({"as_of": "0001-01-01T00:00:00+01:00"}, "as_of"),
    ],
)
def test_a_state_parameter_not_valid_is_422_naming_it(api, params, field):
    api.place()
    response = api.client.get(f"/orders/{ORDER}/state", params=params)
    problem = assert_problem(response, 422, "invalid-request")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("query", field)]


def test_the_read_model_lags_until_the_relay_runs_then_min_version_reads_the_write(tmp_path):
    """R2's exchange: 201 with version 1, 404 before the projection, then a min_version read."""
    app = create_app(tmp_path / "orders.db", relay_interval=1.5, wait_timeout=5)
    with TestClient(app) as client:
        placed = client.post("/orders", json=PLACE)
        assert (placed.status_code, placed.json()["version"]) == (201, 1)
        assert_problem(client.get(f"/orders/{ORDER}"), 404, "not-found")
        read = client.get(f"/orders/{ORDER}", params={"min_version": 1})
        assert (read.status_code, read.json()["last_version"]) == (200, 1)


def test_the_app_stops_its_relay_and_closes_its_files_when_it_shuts_down(tmp_path):
    app = create_app(tmp_path / "orders.db")
    with TestClient(app) as client:
        client.post("/orders", json=PLACE)
        service = app.state.runtime.service
    assert "outbox-relay" not in [thread.name for thread in threading.enumerate()]
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        service.store.load(ORDER)
    store = EventStore(tmp_path / "orders.db", clock=lambda: "")
    assert [event["version"] for event in store.load(ORDER)] == [1]
    store.close()
