"""The events of an order's life, as frozen pydantic models around one envelope.

The models guard the boundary (appending an event, `orders validate`) and are the
source the JSON Schemas in `schemas/` are generated from. The reducer never builds
them: it folds plain envelope dicts, so replaying a long stream stays cheap.

Examples:
    >>> event = parse_event({
    ...     "event_type": "OrderPaid", "schema_version": 1, "order_id": "1001", "version": 2,
    ...     "occurred_at": "2026-11-02T09:21:40Z",
    ...     "event_id": "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f",
    ...     "data": {"payment_id": "PAY-7731", "amount": {"amount": "129.97", "currency": "EUR"}},
    ...     "metadata": {"correlation_id": "0b7e6a52-4d7c-4f1e-9a38-2f5d6c7b8a90",
    ...                  "causation_id": "a3c1e2f4-5b6d-4e7f-8a9b-0c1d2e3f4a5b"},
    ... })
    >>> type(event).__name__, event.data.amount.amount
    ('OrderPaid', '129.97')
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictStr,
    Tag,
    TypeAdapter,
)
from pydantic_core import PydanticCustomError, SchemaValidator, core_schema

from order_service.model.fold import CURRENT_SCHEMA_VERSIONS
from order_service.model.money import AMOUNT_PATTERN

__all__ = [
    "CURRENT_SCHEMA_VERSIONS",
    "EVENT_MODELS",
    "CancellationReason",
    "Envelope",
    "EventMetadata",
    "Money",
    "OrderCancelled",
    "OrderCancelledData",
    "OrderDelivered",
    "OrderDeliveredData",
    "OrderItemAdded",
    "OrderItemAddedData",
    "OrderLine",
    "OrderLines",
    "OrderPaid",
    "OrderPaidData",
    "OrderPlaced",
    "OrderPlacedData",
    "OrderPlacedV1",
    "OrderPlacedV1Data",
    "OrderPlacedV1Item",
    "OrderRefunded",
    "OrderRefundedData",
    "OrderShipped",
    "OrderShippedData",
    "canonical_event",
    "parse_event",
]

# The patterns are part of the contract: the JSON Schemas carry the same ones.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# UTC only ("Z"), whole seconds 00-59: one spelling per instant, so text order is time order.
UTC_TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
# AMOUNT_PATTERN (order_service.model.money): two decimals, no leading zeros.
CURRENCY_PATTERN = r"^[A-Z]{3}$"
ORDER_ID_PATTERN = r"^[1-9][0-9]{0,11}$"
CUSTOMER_ID_PATTERN = r"^C-[0-9]{1,12}$"
SKU_PATTERN = r"^[A-Z0-9]+(-[A-Z0-9]+)*$"
REFERENCE_PATTERN = r"^[A-Z0-9]+(-[A-Z0-9]+)*$"


def _json_integer(value: Any) -> Any:
    # An integer is written without a fraction: 2, never 2.0, true or "2". JSON Schema would
    # take 2.0; this contract does not (the validator's "integer" type says the same), so the
    # event model, `orders validate` and the fold agree on every input. `JsonInt` says the same
    # in Rust; a `Literal` cannot be strict, so `SchemaVersion` calls this.
    if type(value) is not int:
        raise ValueError('an integer is required (2, not 2.0, true or "2")')
    return value


JsonInt = Annotated[int, Strict()]
"""An integer written as one: 2, never 2.0, true or "2" (pydantic's strict int, in Rust)."""


_Version = TypeVar("_Version", bound=int)

SchemaVersion = Annotated[_Version, BeforeValidator(_json_integer)]
"""`SchemaVersion[Literal[2]]`: the constant 2, written as the integer 2 (not 2.0, not true).

A bare `Literal[1]` would take `True`, since `True == 1` in Python.
"""


def _is_real_instant(value: str) -> str:
    # The pattern admits 2026-02-30; the calendar does not.
    datetime.fromisoformat(value)
    return value


_FROZEN = ConfigDict(frozen=True, extra="forbid")

EventId = Annotated[
    StrictStr,
    Field(
        pattern=UUID_PATTERN,
        json_schema_extra={"format": "uuid"},
        description="Unique id of this event (a lowercase UUID); the store keeps it once.",
    ),
]
Timestamp = Annotated[
    StrictStr,
    Field(pattern=UTC_TIMESTAMP_PATTERN, json_schema_extra={"format": "date-time"}),
    AfterValidator(_is_real_instant),
]


# Constraints shared by events and the commands that cause them: one definition, no drift.
PaymentId = Annotated[StrictStr, Field(pattern=REFERENCE_PATTERN, max_length=64)]
CarrierCode = Annotated[StrictStr, Field(pattern=REFERENCE_PATTERN, max_length=32)]
TrackingNumber = Annotated[StrictStr, Field(pattern=REFERENCE_PATTERN, max_length=64)]


class Money(BaseModel):
    """An amount of money: a decimal string with two decimals and an ISO 4217 currency code.

    Never a float: `0.1 + 0.2` is not `0.3` in binary floating point.
    """

    model_config = _FROZEN

    amount: StrictStr = Field(
        pattern=AMOUNT_PATTERN,
        description='Decimal string with exactly two decimals, e.g. "129.97"; never a JSON number.',
    )
    currency: StrictStr = Field(
        pattern=CURRENCY_PATTERN, description='ISO 4217 alphabetic currency code, e.g. "EUR".'
    )


class OrderLine(BaseModel):
    """One line of an order: a product, how many, at what unit price."""

    model_config = _FROZEN

    sku: StrictStr = Field(
        pattern=SKU_PATTERN, max_length=40, description='Stock keeping unit, e.g. "RETRO-CLOCK".'
    )
    quantity: JsonInt = Field(ge=1, le=1000, description="How many units, 1 to 1000.")
    unit_price: Money = Field(description="Price of one unit.")


def _currency(line: Any) -> Any:
    # An `OrderLine`, or a dict when `canonical_event` validates.
    return line["unit_price"]["currency"] if isinstance(line, dict) else line.unit_price.currency


def _one_currency(lines: Any) -> Any:
    # A rule across lines, which JSON Schema cannot state: `orders validate` reports it from
    # the event model (`contract.validation.event_problems`).
    first = _currency(lines[0])
    for index, line in enumerate(lines):
        if _currency(line) != first:
            raise PydanticCustomError(
                "one_currency",
                "every unit price of an order is in one currency: line {index} is priced in "
                "{currency}, line 0 in {first}",
                {"index": index, "currency": _currency(line), "first": first},
            )
    return lines


OrderLines = Annotated[
    tuple[OrderLine, ...],
    Field(min_length=1, max_length=100),
    AfterValidator(_one_currency),
]
"""1 to 100 lines, every unit price in one currency: `OrderPlaced`'s lines and `PlaceOrder`'s."""


class OrderPlacedData(BaseModel):
    """What `OrderPlaced` (schema version 2) carries: who ordered which lines."""

    model_config = _FROZEN

    customer_id: StrictStr = Field(
        pattern=CUSTOMER_ID_PATTERN,
        description="Reference to the customer; no name, address or other personal data.",
    )
    lines: OrderLines = Field(
        description="The lines ordered (1 to 100); every unit price in one currency."
    )


class OrderPlacedV1Item(BaseModel):
    """A line as schema version 1 of `OrderPlaced` stored it (frozen: never written again)."""

    model_config = _FROZEN

    sku: StrictStr = Field(pattern=SKU_PATTERN, max_length=40, description="Stock keeping unit.")
    qty: JsonInt = Field(ge=1, le=1000, description="How many units, 1 to 1000.")
    unit_price_cents: JsonInt = Field(
        ge=0, le=99_999_999_999, description="Unit price in minor units (cents) of the currency."
    )


class OrderPlacedV1Data(BaseModel):
    """What `OrderPlaced` carried in schema version 1: integer cents, one currency per order."""

    model_config = _FROZEN

    customer_id: StrictStr = Field(
        pattern=CUSTOMER_ID_PATTERN, description="Reference to the customer."
    )
    currency: StrictStr = Field(
        pattern=CURRENCY_PATTERN, description="ISO 4217 currency code of every price."
    )
    items: tuple[OrderPlacedV1Item, ...] = Field(
        min_length=1, max_length=100, description="The items ordered (1 to 100)."
    )


class OrderItemAddedData(BaseModel):
    """What `OrderItemAdded` carries: one more line, added before payment."""

    model_config = _FROZEN

    line: OrderLine = Field(
        description="The line added; a SKU already ordered adds to its quantity at the same price."
    )


class OrderPaidData(BaseModel):
    """What `OrderPaid` carries: the payment, whose amount must equal the order total."""

    model_config = _FROZEN

    payment_id: PaymentId = Field(description="Reference of the payment at the payment provider.")
    amount: Money = Field(description="Amount paid; equal to the order total.")


class OrderShippedData(BaseModel):
    """What `OrderShipped` carries: the parcel's carrier and tracking number."""

    model_config = _FROZEN

    carrier: CarrierCode = Field(description='Carrier code, e.g. "DHL".')
    tracking_number: TrackingNumber = Field(description="Carrier's tracking number.")


class OrderDeliveredData(BaseModel):
    """What `OrderDelivered` carries: the tracking number of the parcel delivered."""

    model_config = _FROZEN

    tracking_number: TrackingNumber = Field(
        description="Tracking number of the parcel delivered; the one it was shipped with."
    )


CancellationReason = Literal[
    "customer_request", "payment_failed", "out_of_stock", "fraud_suspected"
]
"""The reasons an order may be cancelled (`CancelOrder` takes the same list)."""


class OrderCancelledData(BaseModel):
    """What `OrderCancelled` carries: why the order was cancelled."""

    model_config = _FROZEN

    reason: CancellationReason = Field(description="Why the order was cancelled.")


class OrderRefundedData(BaseModel):
    """What `OrderRefunded` carries: the refund of a cancelled order's payment."""

    model_config = _FROZEN

    refund_id: PaymentId = Field(description="Reference of the refund at the payment provider.")
    amount: Money = Field(description="Amount refunded; equal to the total paid.")


class EventMetadata(BaseModel):
    """Tracing: which request the event belongs to and what directly caused it."""

    model_config = _FROZEN

    correlation_id: StrictStr = Field(
        pattern=UUID_PATTERN,
        json_schema_extra={"format": "uuid"},
        description="Id shared by every message of one request, end to end.",
    )
    causation_id: StrictStr = Field(
        pattern=UUID_PATTERN,
        json_schema_extra={"format": "uuid"},
        description="Id of the command or event that caused this event.",
    )


class Envelope(BaseModel):
    """The envelope every order event travels in; `data` depends on `event_type`.

    `event_type` and `schema_version` have no defaults on purpose: a default would drop
    them from the JSON Schema's `required` list, and a payload without them would pass.
    """

    model_config = _FROZEN

    event_id: EventId
    event_type: StrictStr = Field(description="What happened, in the past tense.")
    schema_version: JsonInt = Field(ge=1, description="Version of this event type's schema.")
    order_id: StrictStr = Field(
        pattern=ORDER_ID_PATTERN, description='The order (the stream), e.g. "1001".'
    )
    version: JsonInt = Field(
        ge=1, description="Position of the event in its order's stream: 1, 2, 3 ... contiguous."
    )
    occurred_at: Timestamp = Field(
        description=(
            'When it happened: RFC 3339 in UTC to the whole second, e.g. "2026-11-02T09:15:00Z"; '
            "one spelling per instant, so text order is time order."
        )
    )
    data: Any = Field(description="What the event carries; its shape depends on event_type.")
    metadata: EventMetadata = Field(description="Correlation and causation ids.")


class OrderPlaced(Envelope):
    """A customer placed an order (schema version 2, the current one)."""

    event_type: Literal["OrderPlaced"] = Field(description="What happened: the order was placed.")
    schema_version: SchemaVersion[Literal[2]] = Field(
        description="Version of the OrderPlaced schema."
    )
    data: OrderPlacedData = Field(description="Who ordered which lines.")


class OrderPlacedV1(Envelope):
    """A customer placed an order, as schema version 1 wrote it; upcast before use."""

    event_type: Literal["OrderPlaced"] = Field(description="What happened: the order was placed.")
    schema_version: SchemaVersion[Literal[1]] = Field(
        description="Version of the OrderPlaced schema."
    )
    data: OrderPlacedV1Data = Field(description="Who ordered which items, in integer cents.")


class OrderItemAdded(Envelope):
    """The customer added a line before paying; the total grows."""

    event_type: Literal["OrderItemAdded"] = Field(description="What happened: a line was added.")
    schema_version: SchemaVersion[Literal[1]] = Field(
        description="Version of the OrderItemAdded schema."
    )
    data: OrderItemAddedData = Field(description="The line added.")


class OrderPaid(Envelope):
    """The order was paid in full."""

    event_type: Literal["OrderPaid"] = Field(description="What happened: the order was paid.")
    schema_version: SchemaVersion[Literal[1]] = Field(
        description="Version of the OrderPaid schema."
    )
    data: OrderPaidData = Field(description="The payment.")


class OrderShipped(Envelope):
    """The order left the warehouse."""

    event_type: Literal["OrderShipped"] = Field(description="What happened: the order shipped.")
    schema_version: SchemaVersion[Literal[1]] = Field(
        description="Version of the OrderShipped schema."
    )
    data: OrderShippedData = Field(description="Carrier and tracking number.")


class OrderDelivered(Envelope):
    """The parcel reached the customer; the order's life ends here."""

    event_type: Literal["OrderDelivered"] = Field(
        description="What happened: the order was delivered."
    )
    schema_version: SchemaVersion[Literal[1]] = Field(
        description="Version of the OrderDelivered schema."
    )
    data: OrderDeliveredData = Field(description="The parcel delivered.")


class OrderCancelled(Envelope):
    """The order was cancelled, before it shipped; only a refund of its payment may follow."""

    event_type: Literal["OrderCancelled"] = Field(
        description="What happened: the order was cancelled."
    )
    schema_version: SchemaVersion[Literal[1]] = Field(
        description="Version of the OrderCancelled schema."
    )
    data: OrderCancelledData = Field(description="Why it was cancelled.")


class OrderRefunded(Envelope):
    """A cancelled order's payment was paid back; the order's life ends here."""

    event_type: Literal["OrderRefunded"] = Field(
        description="What happened: the payment was refunded."
    )
    schema_version: SchemaVersion[Literal[1]] = Field(
        description="Version of the OrderRefunded schema."
    )
    data: OrderRefundedData = Field(description="The refund.")


EVENT_MODELS: dict[tuple[str, int], type[Envelope]] = {
    ("OrderPlaced", 1): OrderPlacedV1,
    ("OrderPlaced", 2): OrderPlaced,
    ("OrderItemAdded", 1): OrderItemAdded,
    ("OrderPaid", 1): OrderPaid,
    ("OrderShipped", 1): OrderShipped,
    ("OrderDelivered", 1): OrderDelivered,
    ("OrderCancelled", 1): OrderCancelled,
    ("OrderRefunded", 1): OrderRefunded,
}
"""Every event model, by (event_type, schema_version), old versions included."""


def _tag(payload: Any) -> str:
    if isinstance(payload, dict):
        event_type, version = payload.get("event_type"), payload.get("schema_version")
    else:
        event_type = getattr(payload, "event_type", None)
        version = getattr(payload, "schema_version", None)
    return f"{event_type}/v{version}"


# One tag per (event_type, schema_version): a plain discriminator on event_type cannot tell
# OrderPlaced v1 from v2.
_ANY_EVENT: TypeAdapter[Envelope] = TypeAdapter(
    Annotated[  # type: ignore[arg-type]  # a Union built at run time: no static type for it
        Union[  # noqa: UP007 (a union built from a tuple of types)
            tuple(
                Annotated[model, Tag(f"{event_type}/v{version}")]
                for (event_type, version), model in EVENT_MODELS.items()
            )
        ],
        Discriminator(_tag),
    ]
)


def parse_event(payload: Any) -> Envelope:
    """Validate one envelope dict and return its model; raises `pydantic.ValidationError`.

    Examples:
        >>> from pydantic import ValidationError
        >>> try:
        ...     parse_event({"event_type": "OrderShipped", "schema_version": 9})
        ... except ValidationError as error:
        ...     print(error.errors()[0]["type"])
        union_tag_invalid
    """
    return _ANY_EVENT.validate_python(payload)


def _as_json_data(schema: Any) -> Any:
    """A pydantic-core schema with each model read as a dict, each `tuple[X, ...]` as a list.

    The same fields, constraints, validators and discriminator: only the output differs, the
    `model_dump(mode="json")` of the model, built directly in Rust, with no model instances.
    """
    if isinstance(schema, list):
        return [_as_json_data(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "model":
        fields = schema["schema"]["fields"].items()
        return core_schema.typed_dict_schema(
            {name: core_schema.typed_dict_field(_as_json_data(f["schema"])) for name, f in fields},
            extra_behavior=schema["config"]["extra_fields_behavior"],
            ref=schema["ref"],
        )
    if schema.get("type") == "tuple" and schema.get("variadic_item_index") == 0:  # tuple[X, ...]
        (items,) = schema["items_schema"]
        return core_schema.list_schema(
            _as_json_data(items),
            min_length=schema.get("min_length"),
            max_length=schema.get("max_length"),
        )
    return {key: _as_json_data(value) for key, value in schema.items()}


_CANONICAL = SchemaValidator(
    _as_json_data(_ANY_EVENT.core_schema), config=core_schema.CoreConfig(title="Order event")
)


def canonical_event(payload: Any) -> dict[str, Any]:
    """Validate one envelope and return its canonical JSON form: what the event store keeps.

    The same as `parse_event(payload).model_dump(mode="json")`, refused with the same errors
    (a test checks both; a nested object's type error asks for a dictionary, not a model), at
    about a third of the cost: the models' own schema, validated into dicts, no model built.
    Raises `pydantic.ValidationError` if the payload breaks the contract.
    """
    event: dict[str, Any] = _CANONICAL.validate_python(payload)  # the typed dict schema's output
    return event
