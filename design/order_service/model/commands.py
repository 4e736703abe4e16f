"""The commands a client sends: imperative, validated at the boundary, frozen.

A command asks for a change; `decide` accepts or rejects it against the order's state.
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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, TypeAdapter, ValidationError

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
    "AddOrderItem",
    "CancelOrder",
    "Command",
    "DeliverOrder",
    "InvalidCommand",
    "PayOrder",
    "PlaceOrder",
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


class PlaceOrder(_Command):
    """Place a new order for a customer, with at least one line."""

    type: Literal["PlaceOrder"] = "PlaceOrder"
    customer_id: StrictStr = Field(pattern=CUSTOMER_ID_PATTERN, description="The customer.")
    # The event's type: its limits (1 to 100 lines, one currency) are the command's and the
    # request's, in the OpenAPI document too.
    lines: OrderLines = Field(description="What is ordered: 1 to 100 lines, one currency.")


class AddOrderItem(_Command):
    """Add a line to an order that is not paid yet."""

    type: Literal["AddOrderItem"] = "AddOrderItem"
    line: OrderLine = Field(description="The line to add.")


class PayOrder(_Command):
    """Record the payment of the order's total."""

    type: Literal["PayOrder"] = "PayOrder"
    payment_id: PaymentId = Field(description="Reference of the payment at the payment provider.")
    amount: Money = Field(description="The amount paid: must equal the order's total.")


class ShipOrder(_Command):
    """Hand a paid order to a carrier."""

    type: Literal["ShipOrder"] = "ShipOrder"
    carrier: CarrierCode = Field(description='Carrier code, e.g. "DHL".')
    tracking_number: TrackingNumber = Field(description="Carrier's tracking number.")


class DeliverOrder(_Command):
    """Confirm that the shipped parcel reached the customer."""

    type: Literal["DeliverOrder"] = "DeliverOrder"
    tracking_number: TrackingNumber = Field(
        description="Tracking number of the parcel delivered; the one it was shipped with."
    )


class CancelOrder(_Command):
    """Cancel an order that has not shipped."""

    type: Literal["CancelOrder"] = "CancelOrder"
    reason: CancellationReason = Field(description="Why the order is cancelled.")


Command = PlaceOrder | AddOrderItem | PayOrder | ShipOrder | DeliverOrder | CancelOrder
"""Any command `decide` accepts."""

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
