"""The temporal query: an order as it was, folded from the event store.

It reads the write side (the read model knows only the present), so it lives with the write
side and not with the queries of the read model. Read-only: it never appends.
"""

from __future__ import annotations

from itertools import takewhile

from order_service.infra.clock import timestamp
from order_service.model.fold import OrderState, fold
from order_service.write.store import EventStore

__all__ = ["AsOfError", "order_as_of"]


MAX_VERSION = 2**31 - 1
"""The highest version a stream can reach (PostgreSQL's `INTEGER` column holds no more)."""


class AsOfError(ValueError):
    """The temporal query's arguments are invalid; the message names the argument."""


# --8<-- [start:order_as_of]
def order_as_of(
    store: EventStore, order_id: str, *, version: int | None = None, at: str | None = None
) -> OrderState | None:
    """A temporal query: the order as it was at `version`, or at time `at` (or both).

    It folds the order's events up to that point from the event store (the read model only
    knows the present). At a time, that is the events in version order up to the first one
    that occurred later: a stream is a prefix, even where `occurred_at` goes back in time.
    None if the order had no event by then.

    Example:
        `order_as_of(store, "1001", version=2).status` is `"paid"` for #1001.
    """
    if version is not None and version < 1:
        raise AsOfError(f"version: {version} is not a version (1, 2, 3 ...)")
    if version is not None and version > MAX_VERSION:  # past every stream's end: the whole
        version = None  # stream (and no integer the databases cannot bind)
    events = store.load(order_id, upto_version=version, with_metadata=False, upcast=True)
    if at is not None:
        try:
            upto = timestamp(at, round_up=False)  # for `<=`: see clock.timestamp
        except ValueError:
            raise AsOfError(f"at: {at!r} is not an ISO 8601 date or date-time") from None
        events = list(takewhile(lambda event: event["occurred_at"] <= upto, events))
    return fold(events)


# --8<-- [end:order_as_of]
