"""The commands a client sends: imperative, validated at the boundary, frozen.

A command asks for a change; `decide` accepts or rejects it against the order's state.
Each command class also declares, once, what the rest of the package and the site derive from
it: its endpoint (`http_path`, `summary`), its rule in words (`accepted_when`) and an example body
from #1001's story (`example`). The event it produces is `decide.COMMAND_BEHIND`'s (the browser
runs `decide` with the standard library only), read back as `event`. `COMMANDS` lists them all.
Fields reuse the event model's types (`Money`, `OrderLine` and their patterns), so a command
that validates here carries nothing an event could not.

Examples:
    >>> command = parse_command({"type": "PayOrder", "order_id": "1001",
    ...     "payment_id": "PAY-7731", "amount": {"amount": "129.97", "currency": "EUR"}})
    >>> type(command).__name__, command.amount.amount
    ('PayOrder', '129.97')
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictStr, TypeAdapter, ValidationError

from order_service.model.decide import COMMAND_BEHIND
from order_service.model.events import (
    CUSTOMER_ID_PATTERN,
    ORDER_ID_PATTERN,
    UUID_PATTERN,
    CancellationReason,  # the event model's list of reasons, not a copy of it
    CarrierCode,
    Money,
    OrderLine,
    OrderLines,
    PaymentId,
    TrackingNumber,
)

__all__ = [
    "COMMANDS",
    "AddOrderItem",
    "CancelOrder",
    "Command",
    "DeliverOrder",
    "InvalidCommand",
    "PayOrder",
    "PlaceOrder",
    "RefundOrder",
    "ShipOrder",
    "command_digest",
    "parse_command",
]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: StrictStr = Field(pattern=ORDER_ID_PATTERN, description='The order, e.g. "1001".')
    command_id: StrictStr = Field(
        default_factory=lambda: str(uuid.uuid4()),  # a fresh id, as infra.clock.new_id makes
        pattern=UUID_PATTERN,
        description="Id of this command; the events it causes carry it as causation_id.",
    )
    correlation_id: StrictStr | None = Field(
        default=None,
        pattern=UUID_PATTERN,
        description="Id of the whole request; defaults to command_id.",
    )

    # The registry: each command sets these once; history, the HTTP API and the docs derive
    # their tables from them (a test checks every command sets each one).
    event: ClassVar[str]
    """The event type `decide` returns when it accepts the command (from `COMMAND_BEHIND`)."""
    http_path: ClassVar[str]
    """Its endpoint: a POST to this path."""
    summary: ClassVar[str]
    """The endpoint's summary in the OpenAPI document."""
    accepted_when: ClassVar[str]
    """When `decide` accepts it, in words: the CQRS concepts page's table of commands."""
    example: ClassVar[dict[str, Any]]
    """An example request body, from #1001's story (the HTTP tests send each one)."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        events = [event for event, name in COMMAND_BEHIND.items() if name == cls.__name__]
        if len(events) != 1:
            raise TypeError(f"{cls.__name__}: decide.COMMAND_BEHIND must name its event once")
        cls.event = events[0]


class PlaceOrder(_Command):
    """Place a new order for a customer, with at least one line."""

    type: Literal["PlaceOrder"] = "PlaceOrder"
    customer_id: StrictStr = Field(pattern=CUSTOMER_ID_PATTERN, description="The customer.")
    # The event's type: its limits (1 to 100 lines, one currency) are the command's and the
    # request's, in the OpenAPI document too.
    lines: OrderLines = Field(description="What is ordered: 1 to 100 lines, one currency.")

    http_path = "/orders"
    summary = "Place an order"
    accepted_when = "the order does not exist yet; at least one line, all in one currency"
    example = {
        "order_id": "1001",
        "customer_id": "C-0042",
        "lines": [
            {
                "sku": "RETRO-CLOCK",
                "quantity": 1,
                "unit_price": {"amount": "79.99", "currency": "EUR"},
            },
            {
                "sku": "BRASS-KEY",
                "quantity": 2,
                "unit_price": {"amount": "24.99", "currency": "EUR"},
            },
        ],
    }


class AddOrderItem(_Command):
    """Add a line to an order that is not paid yet."""

    type: Literal["AddOrderItem"] = "AddOrderItem"
    line: OrderLine = Field(description="The line to add.")

    http_path = "/orders/{order_id}/items"
    summary = "Add an item"
    accepted_when = (
        "status is `placed` (not paid yet); same currency, same unit price for a known SKU"
    )
    example = {
        "line": {
            "sku": "TIN-ROBOT",
            "quantity": 1,
            "unit_price": {"amount": "15.00", "currency": "EUR"},
        },
    }


class PayOrder(_Command):
    """Record the payment of the order's total."""

    type: Literal["PayOrder"] = "PayOrder"
    payment_id: PaymentId = Field(description="Reference of the payment at the payment provider.")
    amount: Money = Field(description="The amount paid: must equal the order's total.")

    http_path = "/orders/{order_id}/payment"
    summary = "Pay"
    accepted_when = "status is `placed`; the amount equals the current total, in its currency"
    example = {"payment_id": "PAY-7731", "amount": {"amount": "129.97", "currency": "EUR"}}


class ShipOrder(_Command):
    """Hand a paid order to a carrier."""

    type: Literal["ShipOrder"] = "ShipOrder"
    carrier: CarrierCode = Field(description='Carrier code, e.g. "DHL".')
    tracking_number: TrackingNumber = Field(description="Carrier's tracking number.")

    http_path = "/orders/{order_id}/shipment"
    summary = "Ship"
    accepted_when = "status is `paid`"
    example = {"carrier": "DHL", "tracking_number": "JD014600006281230704"}


class DeliverOrder(_Command):
    """Confirm that the shipped parcel reached the customer."""

    type: Literal["DeliverOrder"] = "DeliverOrder"
    tracking_number: TrackingNumber = Field(
        description="Tracking number of the parcel delivered; the one it was shipped with."
    )

    http_path = "/orders/{order_id}/delivery"
    summary = "Confirm delivery"
    accepted_when = "status is `shipped`; the tracking number is the one shipped"
    example = {"tracking_number": "JD014600006281230704"}


class CancelOrder(_Command):
    """Cancel an order that has not shipped."""

    type: Literal["CancelOrder"] = "CancelOrder"
    reason: CancellationReason = Field(description="Why the order is cancelled.")

    http_path = "/orders/{order_id}/cancellation"
    summary = "Cancel"
    accepted_when = (
        "status is `placed` or `paid` (not shipped, delivered or cancelled); a paid order then"
        " owes a refund"
    )
    example = {"reason": "customer_request"}


class RefundOrder(_Command):
    """Pay back a cancelled order that was paid: its whole total, once."""

    type: Literal["RefundOrder"] = "RefundOrder"
    refund_id: PaymentId = Field(description="Reference of the refund at the payment provider.")
    amount: Money = Field(description="The amount refunded: must equal the total paid.")

    http_path = "/orders/{order_id}/refund"
    summary = "Refund"
    accepted_when = (
        "status is `cancelled` and the order was paid, once; the amount equals the total paid"
    )
    example = {"refund_id": "REF-7731", "amount": {"amount": "129.97", "currency": "EUR"}}


Command = (
    PlaceOrder | AddOrderItem | PayOrder | ShipOrder | DeliverOrder | CancelOrder | RefundOrder
)
"""Any command `decide` accepts."""

COMMANDS: tuple[type[_Command], ...] = get_args(Command)
"""Every command class, in the order of an order's life: the registry the tables derive from."""

_ANY_COMMAND: TypeAdapter[Command] = TypeAdapter(Annotated[Command, Field(discriminator="type")])


class InvalidCommand(ValueError):
    """A command payload that does not validate; the message names each field and rule."""


def parse_command(payload: Any) -> Command:
    """Validate a command payload (a dict with a `type`); raise `InvalidCommand` if it is bad."""
    try:
        return _ANY_COMMAND.validate_python(payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'/'.join(str(part) for part in problem['loc']) or '(root)'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise InvalidCommand(f"invalid command: {problems}") from None


def command_digest(command: Command) -> str:
    """SHA-256 of the command's canonical JSON, ids left out: what "the same command" means.

    A command sent again with the same `command_id` must have the same digest; `command_id`
    and `correlation_id` (tracing) are not part of what the command asks for.

    Examples:
        >>> a = CancelOrder(order_id="1001", reason="customer_request")
        >>> b = CancelOrder(order_id="1001", reason="customer_request")
        >>> command_digest(a) == command_digest(b), a.command_id == b.command_id
        (True, False)
    """
    fields = command.model_dump(mode="json", exclude={"command_id", "correlation_id"})
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
