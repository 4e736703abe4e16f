"""The command endpoints in process: each status the API documents, and what it appends."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest
from http_story import DELIVER, ORDER, PAY, PLACE, SHIP, key, line
from order_service.entrypoints.http_api import openapi_document
from order_service.entrypoints.http_problems import MAX_BODY_BYTES, PROBLEM_BASE, PROBLEM_TYPES
from order_service.model.commands import COMMANDS


def assert_problem(response, status: int, kind: str) -> dict:
    """The response is an RFC 9457 problem of this status and kind; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE + kind
    assert problem["title"] == PROBLEM_TYPES[kind]
    assert problem["status"] == status
    assert problem["detail"]
    return problem


def test_place_order_answers_201_with_the_location_and_version_1_and_no_read_model(api):
    response = api.client.post("/orders", json=PLACE, headers=key())
    assert response.status_code == 201
    assert response.headers["location"] == f"/orders/{ORDER}"
    assert response.json() == {"order_id": ORDER, "version": 1}
    [placed] = api.events()
    assert placed["event_type"] == "OrderPlaced"


def test_each_command_answers_200_with_the_version_it_wrote(api):
    api.place()
    steps = [
        ("items", {"line": line("BRASS-KEY", 1, "24.99")}, "OrderItemAdded"),
        ("payment", {**PAY, "amount": {"amount": "154.96", "currency": "EUR"}}, "OrderPaid"),
        ("shipment", SHIP, "OrderShipped"),
        ("delivery", DELIVER, "OrderDelivered"),
    ]
    for version, (path, body, event_type) in enumerate(steps, start=2):
        response = api.client.post(f"/orders/{ORDER}/{path}", json=body, headers=key())
        assert response.status_code == 200, response.text
        assert response.json() == {"order_id": ORDER, "version": version}
        assert api.events()[-1]["event_type"] == event_type
    api.place({**PLACE, "order_id": "1002"})
    response = api.client.post("/orders/1002/cancellation", json={"reason": "out_of_stock"})
    assert response.json() == {"order_id": "1002", "version": 2}
    assert api.events("1002")[-1]["event_type"] == "OrderCancelled"


def test_the_idempotency_key_becomes_the_command_id_its_events_carry(api):
    headers = key()
    api.client.post("/orders", json=PLACE, headers=headers)
    [placed] = api.events()
    assert placed["metadata"]["causation_id"] == headers["Idempotency-Key"]


def test_a_rule_broken_is_409_naming_the_rule_and_appends_nothing(api):
    api.place()
    response = api.client.post(f"/orders/{ORDER}/shipment", json=SHIP, headers=key())
    problem = assert_problem(response, 409, "command-rejected")
    assert problem["rule"] == "only a paid order ships; the order is placed"
    assert "ShipOrder" in problem["detail"]
    assert len(api.events()) == 1


def test_placing_an_order_twice_is_409_and_appends_nothing(api):
    api.place()
    response = api.client.post("/orders", json=PLACE, headers=key())
    assert assert_problem(response, 409, "command-rejected")["rule"] == "the order already exists"
    assert len(api.events()) == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("items", {"line": line()}),
        ("payment", PAY),
        ("shipment", SHIP),
        ("delivery", DELIVER),
        ("cancellation", {"reason": "customer_request"}),
    ],
)
def test_a_command_to_an_unknown_order_is_404_and_appends_nothing(api, path, body):
    response = api.client.post(f"/orders/4242/{path}", json=body, headers=key())
    assert "4242" in assert_problem(response, 404, "not-found")["detail"]
    assert api.stored() == 0


def test_if_match_with_the_version_seen_carries_the_command_out(api):
    api.place()
    response = api.client.post(f"/orders/{ORDER}/payment", json=PAY, headers={"If-Match": '"1"'})
    assert response.json() == {"order_id": ORDER, "version": 2}


def test_if_match_with_a_version_the_order_moved_on_from_is_412_and_appends_nothing(api):
    api.place()
    api.client.post(f"/orders/{ORDER}/payment", json=PAY)
    headers = {"If-Match": '"1"', **key()}
    response = api.client.post(
        f"/orders/{ORDER}/cancellation", json={"reason": "customer_request"}, headers=headers
    )
    problem = assert_problem(response, 412, "precondition-failed")
    assert problem["current_version"] == 2
    assert "version 2, not 1" in problem["detail"]
    assert len(api.events()) == 2


@pytest.mark.parametrize(
    ("header", "value"),
    [("If-Match", "1"), ("If-Match", '"0"'), ("If-Match", 'W/"1"'), ("Idempotency-Key", "retry-1")],
)
def test_a_header_not_in_its_form_is_400_naming_the_header(api, header, value):
    api.place()
    response = api.client.post(f"/orders/{ORDER}/payment", json=PAY, headers={header: value})
    problem = assert_problem(response, 400, "malformed-request")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("header", header)]
    assert len(api.events()) == 1


def test_a_body_that_is_not_json_is_400(api):
    response = api.client.post(
        "/orders", content=b'{"order_id": "1001",', headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 400, "malformed-request")["detail"] == (
        "the body is not valid JSON"
    )
    assert api.stored() == 0


def test_a_body_not_sent_as_json_is_415(api):
    response = api.client.post(
        "/orders",
        content=b"order_id=1001",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (
        "application/x-www-form-urlencoded"
        in assert_problem(response, 415, "unsupported-media-type")["detail"]
    )
    assert api.stored() == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"])
def test_a_json_body_not_in_utf_8_is_400_and_appends_nothing(api, encoding):
    body = json.dumps({**PLACE, "customer_id": "C-0042"}, ensure_ascii=False) + " é"
    response = api.client.post(
        "/orders", content=body.encode(encoding), headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400, "malformed-request")
    assert problem["detail"] == "the body is not UTF-8 text: JSON over HTTP is UTF-8 (RFC 8259)"
    assert api.stored() == 0


def test_a_json_body_declared_in_another_charset_is_415(api):
    response = api.client.post(
        "/orders",
        content=json.dumps(PLACE).encode("utf-16"),
        headers={"Content-Type": "application/json; charset=UTF-16"},
    )
    problem = assert_problem(response, 415, "unsupported-media-type")
    assert problem["detail"] == "the body is sent in charset 'utf-16'; JSON over HTTP is UTF-8"
    assert api.stored() == 0


def test_a_json_body_declared_utf_8_is_taken(api):
    response = api.client.post(
        "/orders",
        content=json.dumps(PLACE).encode(),
        headers={"Content-Type": 'application/json; charset="utf-8"', **key()},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**PLACE, "lines": []}, "lines"),
        ({**PLACE, "lines": [line(quantity=0)]}, "lines/0/quantity"),
        ({**PLACE, "customer_id": "42"}, "customer_id"),
        ({**PLACE, "coupon": "FREE"}, "coupon"),
        ({key: value for key, value in PLACE.items() if key != "order_id"}, "order_id"),
    ],
    ids=["no lines", "quantity 0", "customer id", "unknown field", "no order id"],
)
def test_a_body_against_the_schema_is_422_naming_the_field_and_appends_nothing(api, body, field):
    response = api.client.post("/orders", json=body, headers=key())
    problem = assert_problem(response, 422, "invalid-request")
    assert ("body", field) in [(e["location"], e["field"]) for e in problem["errors"]]
    assert field in problem["detail"]
    assert api.stored() == 0


def lines(count: int) -> list[dict]:
    return [line(f"SKU-{number}", 1, "1.00") for number in range(count)]


def test_a_new_order_of_100_lines_the_events_limit_is_placed(api):
    response = api.client.post("/orders", json={**PLACE, "lines": lines(100)}, headers=key())
    assert response.status_code == 201, response.text
    [placed] = api.events()
    assert len(placed["data"]["lines"]) == 100


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**PLACE, "lines": lines(101)}, "at most 100 items"),
        (
            {**PLACE, "lines": [line(), {**line("GLOBE"), "unit_price": {"amount": "9.99",
                                                                         "currency": "USD"}}]},
            "line 1 is priced in USD, line 0 in EUR",
        ),
    ],
    ids=["101 lines", "two currencies"],
)  # fmt: skip
def test_a_new_order_past_the_events_limits_is_422_naming_the_lines_and_appends_nothing(
    api, body, message
):
    # Once HTTP 500: the request took 101 lines, the event store's contract refused them.
    response = api.client.post("/orders", json=body, headers=key())
    problem = assert_problem(response, 422, "invalid-request")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("body", "lines")]
    assert message in problem["detail"]
    assert api.stored() == 0


def test_an_event_the_contract_refuses_is_422_not_500_and_appends_nothing(api, monkeypatch):
    # A defence: were a command's limit looser than its event's, the store's contract check
    # would refuse the event decide made; the client is told which field, nothing is appended.
    from order_service.write import handlers

    real_decide = handlers.decide

    def decide_past_the_limit(state, command, **kwargs):
        [event] = real_decide(state, command, **kwargs)
        return [{**event, "data": {**event["data"], "lines": event["data"]["lines"] * 51}}]

    monkeypatch.setattr(handlers, "decide", decide_past_the_limit)
    response = api.client.post("/orders", json=PLACE, headers=key())
    problem = assert_problem(response, 422, "invalid-request")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("body", "lines")]
    assert "at most 100 items" in problem["detail"]
    assert api.stored() == 0


def test_an_order_id_not_in_its_form_is_422_naming_the_path_parameter(api):
    response = api.client.post("/orders/01/payment", json=PAY)
    problem = assert_problem(response, 422, "invalid-request")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("path", "order_id")]


def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(api):
    big = {**PLACE, "customer_id": "C-" + "1" * MAX_BODY_BYTES}
    assert_problem(api.client.post("/orders", json=big), 413, "payload-too-large")

    def chunks():  # no Content-Length: the body streams in and is counted as it comes
        yield b'{"order_id": "1001", "filler": "'
        for _ in range(MAX_BODY_BYTES // 1000 + 1):
            yield b"x" * 1000
        yield b'"}'

    response = api.client.post(
        "/orders", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large")
    assert api.stored() == 0


def test_an_unknown_path_is_404_and_a_wrong_method_405_both_as_problems(api):
    assert_problem(api.client.get("/customers"), 404, "not-found")
    assert_problem(api.client.delete(f"/orders/{ORDER}"), 405, "method-not-allowed")


def test_a_retry_with_the_same_key_and_body_answers_as_the_first_time_and_appends_nothing(api):
    headers = key()
    first = api.client.post("/orders", json=PLACE, headers=headers)
    api.client.post(f"/orders/{ORDER}/payment", json=PAY)  # the order moves on meanwhile
    again = api.client.post("/orders", json=PLACE, headers=headers)
    assert (again.status_code, again.headers["location"], again.json()) == (
        first.status_code,
        first.headers["location"],
        first.json(),
    )
    assert len(api.events()) == 2


def test_a_retry_with_if_match_after_its_first_send_succeeded_answers_as_the_first_time(api):
    api.place()
    headers = {"If-Match": '"1"', **key()}
    first = api.client.post(f"/orders/{ORDER}/payment", json=PAY, headers=headers)
    again = api.client.post(f"/orders/{ORDER}/payment", json=PAY, headers=headers)
    assert (
        (again.status_code, again.json())
        == (200, first.json())
        == (200, {"order_id": ORDER, "version": 2})
    )
    assert len(api.events()) == 2


def test_the_same_key_with_another_body_is_422_and_appends_nothing(api):
    headers = key()
    api.client.post("/orders", json=PLACE, headers=headers)
    response = api.client.post("/orders", json={**PLACE, "order_id": "1002"}, headers=headers)
    problem = assert_problem(response, 422, "idempotency-key-reused")
    assert headers["Idempotency-Key"] in problem["detail"]
    assert api.stored() == 1


def test_a_refused_command_is_not_remembered_its_key_resent_is_decided_again(api):
    # The HTTP API page and the Decider page say the same: only a command carried out is
    # recorded under its key; a refused one, resent with the key, is decided on the order then.
    api.place()
    headers = key()
    refused = api.client.post(f"/orders/{ORDER}/shipment", json=SHIP, headers=headers)
    assert_problem(refused, 409, "command-rejected")
    api.client.post(f"/orders/{ORDER}/payment", json=PAY, headers=key())
    again = api.client.post(f"/orders/{ORDER}/shipment", json=SHIP, headers=headers)
    assert (again.status_code, again.json()) == (200, {"order_id": ORDER, "version": 3})
    # Carried out now, the key is remembered: sent a third time, the answer is the second one.
    third = api.client.post(f"/orders/{ORDER}/shipment", json=SHIP, headers=headers)
    assert (third.status_code, third.json()) == (200, again.json())
    assert [e["event_type"] for e in api.events()] == ["OrderPlaced", "OrderPaid", "OrderShipped"]


def test_a_key_refused_with_one_body_may_be_sent_with_another(api):
    # Nothing was recorded under the key, so it names no request yet: no 422.
    api.place()
    headers = key()
    assert_problem(api.client.post("/orders", json=PLACE, headers=headers), 409, "command-rejected")
    placed = api.client.post("/orders", json={**PLACE, "order_id": "1002"}, headers=headers)
    assert placed.status_code == 201
    assert api.stored() == 2


def test_if_match_on_an_unknown_order_is_404(api):
    response = api.client.post("/orders/4242/payment", json=PAY, headers={"If-Match": '"1"'})
    assert_problem(response, 404, "not-found")


def test_the_request_examples_of_the_openapi_document_tell_1001s_story(api):
    examples = {}
    for path, item in openapi_document()["paths"].items():
        if "post" in item:
            content = item["post"]["requestBody"]["content"]["application/json"]
            examples[path] = content["examples"]["1001"]["value"]
    assert set(examples) == {command.http_path for command in COMMANDS}
    place = examples.pop("/orders")
    bodies = {path.removeprefix("/orders/{order_id}/"): body for path, body in examples.items()}

    def send(order_id: str, *steps: str) -> None:
        assert api.client.post("/orders", json={**place, "order_id": order_id}).status_code == 201
        for step in steps:
            response = api.client.post(f"/orders/{order_id}/{step}", json=bodies.pop(step))
            assert response.status_code == 200, response.text

    send(ORDER, "payment", "shipment", "delivery")
    bodies["payment"] = examples["/orders/{order_id}/payment"]  # #1002 pays the same total
    send("1002", "payment", "cancellation", "refund")
    send("1003", *bodies)  # what is left (a line added) on an order still placed


def test_a_server_failure_is_a_500_problem_and_its_traceback_is_in_the_log(
    tmp_path, monkeypatch, caplog
):
    from fastapi.testclient import TestClient
    from order_service.entrypoints.http_api import create_app
    from order_service.write.store import EventStore

    def fail(*args, **kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(EventStore, "load", fail)
    with TestClient(create_app(tmp_path / "orders.db"), raise_server_exceptions=False) as client:
        response = client.get(f"/orders/{ORDER}/events")
    problem = assert_problem(response, 500, "internal-error")
    assert "fire" not in problem["detail"]
    [record] = [r for r in caplog.records if r.getMessage() == f"GET /orders/{ORDER}/events failed"]
    assert record.exc_info is not None and str(record.exc_info[1]) == "the disk is on fire"
    assert "NoneType: None" not in caplog.text


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",  # not a request line
        b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /orders/1001 HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    ],
    ids=["request line", "Content-Length", "header line"],
)
def test_a_request_uvicorn_cannot_parse_is_its_own_plain_400_and_the_connection_closes(
    live_server, raw
):
    # uvicorn answers these before the app runs and has no hook to change the answer: the
    # HTTP API page says so, with these bytes.
    import socket
    from urllib.parse import urlsplit

    base_url, store = live_server
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as client:
        client.sendall(raw)
        answer = b""
        while chunk := client.recv(65536):  # b"" once the server has closed the connection
            answer += chunk
    assert answer == (
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"Connection: close\r\n\r\nInvalid HTTP request received."
    )
    assert store.load("1001") == []


def test_a_field_name_the_client_made_up_is_echoed_in_80_characters_at_most(api):
    response = api.client.post("/orders", json={**PLACE, "x" * 10_000: 1})
    problem = assert_problem(response, 422, "invalid-request")
    [unknown] = [e for e in problem["errors"] if e["field"].startswith("x")]
    assert unknown["field"] == "x" * 79 + "…"
    assert len(response.text) < 2000
    assert api.stored() == 0


@pytest.mark.parametrize("first", ["OrderItemAdded", "OrderPaid"])
def test_the_state_of_a_stream_that_does_not_start_with_its_placing_is_a_409_problem(
    api, tmp_path, first, caplog
):
    # Written around the store (another writer, an older version): the fold has no order.
    data = {
        "OrderItemAdded": {"line": line()},
        "OrderPaid": {"payment_id": "PAY-7731", "amount": {"amount": "79.99", "currency": "EUR"}},
    }[first]
    with closing(sqlite3.connect(tmp_path / "orders.db")) as conn, conn:
        conn.execute(
            "INSERT INTO order_events (event_id, order_id, version, event_type, schema_version,"
            " data, metadata, occurred_at, recorded_at) VALUES (?, ?, 1, ?, 1, ?, '{}', ?, ?)",
            ("00000000-0000-4000-8000-00000000dead", ORDER, first, json.dumps(data),
             "2026-11-02T09:15:00Z", "2026-11-02T09:15:00Z"),
        )  # fmt: skip
    response = api.client.get(f"/orders/{ORDER}/state")
    problem = assert_problem(response, 409, "unplaced-stream")
    assert problem["detail"].startswith(f"order {ORDER}: its stored events do not start with")
    assert "Traceback" not in caplog.text
