"""What a run takes from the outside world: the time and fresh ids, each from one place.

Timestamps are RFC 3339 in UTC to the whole second (`2026-11-02T09:15:00Z`): one spelling per
instant, so comparing them as text compares them in time. Tests and the demo inject their own
clock and ids into `app.bootstrap`; everything else uses these.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

__all__ = ["TIMESTAMP_FORMAT", "new_id", "timestamp", "utc_now"]

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""The one text form of a timestamp (`datetime.strftime`)."""


def utc_now() -> str:
    """The system clock, as a timestamp."""
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)


def new_id() -> str:
    """A fresh random id (a lowercase UUID), for events and commands."""
    return str(uuid.uuid4())


def timestamp(value: str, *, round_up: bool) -> str:
    """A date or date-time (ISO 8601, UTC if naive) as a timestamp; raises `ValueError`.

    A fraction of a second is rounded to the whole second that keeps a comparison with stored
    timestamps exact: up for `>=` and `<`, down for `<=`.

    Examples:
        >>> timestamp("2026-11-02T10:15:00.5+01:00", round_up=True)
        '2026-11-02T09:15:01Z'
        >>> timestamp("2026-11-02", round_up=False)
        '2026-11-02T00:00:00Z'
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
        if parsed.microsecond:
            parsed = parsed.replace(microsecond=0) + timedelta(seconds=1 if round_up else 0)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is after the last year datetime holds
        raise ValueError(f"{value!r} is out of the range of dates (years 1 to 9999)") from None
    return parsed.strftime(TIMESTAMP_FORMAT)
