"""Money as the contract writes it: a decimal string with two decimals, e.g. "129.97".

The one place that reads such a string as integer cents and writes cents back as one, and the
one amount pattern (the event model's `Money` and the JSON Schemas carry it). Arithmetic is in
integer cents: never a float. Standard library only.

Examples:
    >>> cents("129.97"), amount(12997), amount(5)
    (12997, '129.97', '0.05')
    >>> bool(AMOUNT.fullmatch("129.9")), bool(AMOUNT.fullmatch("007.00"))
    (False, False)
"""

from __future__ import annotations

import re

__all__ = ["AMOUNT", "AMOUNT_PATTERN", "amount", "cents"]

AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$"
"""Exactly two decimals and no leading zeros, so equal amounts are equal strings."""

AMOUNT = re.compile(AMOUNT_PATTERN.removeprefix("^").removesuffix("$"))
"""`AMOUNT_PATTERN` compiled, for `fullmatch` (Python's `$` would also match before a newline)."""


def cents(text: str) -> int:
    """The amount `text` (already matching `AMOUNT_PATTERN`) in integer cents."""
    return int(text.replace(".", ""))


def amount(in_cents: int) -> str:
    """`in_cents` (an integer >= 0) as an amount string with two decimals."""
    return f"{in_cents // 100}.{in_cents % 100:02d}"
