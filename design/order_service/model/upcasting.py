"""Upcasting: old event versions become the current version before the reducer sees them.

Stored events are never rewritten (the store is append-only); they are read as they were
written and upcast on the way out. One worked example: `OrderPlaced` schema version 1
stored prices as integer cents with one currency per order; version 2 carries a `Money`
object on every line, the shape every other amount of the model has.

Examples:
    >>> v1 = {
    ...     "event_type": "OrderPlaced", "schema_version": 1, "order_id": "7", "version": 1,
    ...     "data": {"customer_id": "C-7", "currency": "EUR",
    ...              "items": [{"sku": "RETRO-CLOCK", "qty": 2, "unit_price_cents": 4999}]},
    ... }
    >>> v2 = upcast(v1)
    >>> v2["schema_version"], v2["data"]["lines"][0]["quantity"]
    (2, 2)
    >>> v2["data"]["lines"][0]["unit_price"]
    {'amount': '49.99', 'currency': 'EUR'}
    >>> v1["schema_version"]  # the stored event is left as it was
    1
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, overload

from order_service.model.fold import CURRENT_SCHEMA_VERSIONS
from order_service.model.integrity import MalformedEvent, UnknownSchemaVersion
from order_service.model.money import amount

__all__ = ["UPCASTERS", "order_placed_v1_to_v2", "upcast"]

Upcaster = Callable[[Mapping[str, Any]], dict[str, Any]]


# --8<-- [start:upcaster]
def order_placed_v1_to_v2(event: Mapping[str, Any]) -> dict[str, Any]:
    """`OrderPlaced` v1 -> v2: `items` with `qty` and cents become `lines` with `Money` prices.

    Returns a new envelope; the input is not changed.
    """
    data = event["data"]
    currency = data["currency"]
    lines = [
        {
            "sku": item["sku"],
            "quantity": item["qty"],
            "unit_price": {
                "amount": amount(item["unit_price_cents"]),
                "currency": currency,
            },
        }
        for item in data["items"]
    ]
    return {
        **event,
        "schema_version": 2,
        "data": {"customer_id": data["customer_id"], "lines": lines},
    }


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("OrderPlaced", 1): order_placed_v1_to_v2,
}
"""(event_type, schema_version) -> the function that lifts it one version up."""
# --8<-- [end:upcaster]


@overload
def upcast(event: dict[str, Any]) -> dict[str, Any]: ...  # the same dict, or an upcaster's
@overload
def upcast(event: Mapping[str, Any]) -> Mapping[str, Any]: ...
def upcast(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return `event` at its type's current schema version, applying upcasters in turn.

    An event already current is returned as is (no copy: the replay path stays cheap).
    An unknown event type is returned as is too, for the reducer to refuse by name.

    Raises:
        UnknownSchemaVersion: the version is newer than the current one, or no upcaster
            lifts it.
    """
    if type(event) is not dict and not isinstance(event, Mapping):  # dict first: cheaper
        return event  # not an envelope: the reducer refuses it as malformed, by position
    event_type: Any = event.get("event_type")  # unchecked yet: any JSON value, or None
    current = CURRENT_SCHEMA_VERSIONS.get(event_type)
    schema_version: Any = event.get("schema_version")
    if current is None or schema_version == current:
        return event
    while schema_version != current:
        upcaster = UPCASTERS.get((event_type, schema_version))
        if upcaster is None:
            raise UnknownSchemaVersion(
                event.get("order_id"),
                event.get("event_id"),
                event.get("version"),
                f"{event_type} schema version {schema_version!r} is unknown "
                f"(current: {current}) and no upcaster lifts it",
            )
        try:
            event = upcaster(event)
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedEvent(
                event.get("order_id"),
                event.get("event_id"),
                event.get("version"),
                f"malformed event: {event_type} schema version {schema_version} cannot be "
                f"upcast ({error!r})",
            ) from None
        schema_version = event["schema_version"]
    return event
