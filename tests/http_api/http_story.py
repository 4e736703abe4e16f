"""#1001's requests, and a view of the write database to check what a request appended."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from order_service.write.store import EventStore

ORDER = "1001"
TRACKING = "JD014600006281230704"


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def line(sku: str = "RETRO-CLOCK", quantity: int = 1, amount: str = "79.99") -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price": money(amount)}


PLACE = {
    "order_id": ORDER,
    "customer_id": "C-0042",
    "lines": [line("RETRO-CLOCK", 1, "79.99"), line("BRASS-KEY", 2, "24.99")],
}
PAY = {"payment_id": "PAY-7731", "amount": money("129.97")}
SHIP = {"carrier": "DHL", "tracking_number": TRACKING}
DELIVER = {"tracking_number": TRACKING}


def key() -> dict[str, str]:
    """A fresh Idempotency-Key header."""
    return {"Idempotency-Key": str(uuid.uuid4())}


class Api:
    """The app in process, with a view of its write database to check what was appended."""

    def __init__(self, client: TestClient, store: EventStore) -> None:
        self.client = client
        self.store = store

    def events(self, order_id: str = ORDER) -> list[dict[str, Any]]:
        return self.store.load(order_id)

    def stored(self) -> int:
        """How many events the store holds, all orders together."""
        return len(list(self.store.read_all()))

    def place(self, body: dict[str, Any] = PLACE) -> Any:
        response = self.client.post("/orders", json=body, headers=key())
        assert response.status_code == 201, response.text
        return response
