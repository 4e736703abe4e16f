"""Where a JSON pointer points in a JSON text: the line and column a CI annotation marks.

`json` parses values but forgets where they were; this scanner keeps, for every member and
item, the position of its key (or, for an array item, of its value), so a problem at
`/data/amount/amount` can be shown on the line of the file that holds `"amount": 43.5`.
A pointer to something absent (a missing property) is placed at its nearest present parent.

Examples:
    >>> text = '{\\n  "data": {\\n    "amount": 43.5\\n  }\\n}'
    >>> locate(text, "/data/amount")
    (3, 5)
    >>> locate(text, "/data/currency")  # missing: shown on its parent's line
    (2, 3)
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from json import decoder

# Reads one JSON string from its opening quote's next index: (the string, the index after it).
# Raises JSONDecodeError, a ValueError.
scanstring: Callable[[str, int], tuple[str, int]] = decoder.scanstring  # type: ignore[attr-defined]  # in json.decoder, not in its stub

__all__ = ["PointerIndex", "locate", "positions"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = ("true", "false", "null")


def positions(text: str) -> dict[str, int]:
    """Offset in `text` of every JSON pointer's key or value, `""` (the root) included.

    Raises:
        ValueError: `text` is not one JSON value.
    """
    start = _skip(text, 0)
    found = {"": start}
    end = _value(text, start, "", found)
    if _skip(text, end) != len(text):
        raise ValueError(f"extra data at offset {end}")
    return found


class PointerIndex:
    """A JSON text read once, then asked where each pointer is.

    Args:
        text: The JSON text; if it is not one JSON value, every answer is None.
    """

    def __init__(self, text: str) -> None:
        text = text.removeprefix("\ufeff")  # a byte order mark is no character of line 1
        try:
            self._found: dict[str, int] | None = positions(text)
        except (ValueError, RecursionError):
            self._found = None
        self._starts = [0, *(newline.end() for newline in re.finditer("\n", text))]
        self.is_array = text.lstrip(" \t\r\n").startswith("[")
        """Whether the text is a JSON array (of events), so an event's pointers start `/index`."""

    def locate(self, pointer: str) -> tuple[int, int] | None:
        """(line, column), both from 1, of `pointer`, or of its nearest present parent."""
        if self._found is None:
            return None
        while pointer not in self._found:
            pointer = pointer.rpartition("/")[0]
        offset = self._found[pointer]
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def locate(text: str, pointer: str) -> tuple[int, int] | None:
    """(line, column), both from 1, of `pointer` in `text`, or of its nearest present parent.

    None when `text` is not one JSON value (the caller keeps the position it already had).
    To ask about many pointers in one text, build one `PointerIndex` instead.
    """
    return PointerIndex(text).locate(pointer)


def _skip(text: str, at: int) -> int:
    blank = _WHITESPACE.match(text, at)
    return blank.end() if blank else at


def _token(pointer_part: str) -> str:
    return pointer_part.replace("~", "~0").replace("/", "~1")


def _value(text: str, at: int, pointer: str, found: dict[str, int]) -> int:
    char = text[at : at + 1]
    if char == "{":
        return _container(text, at, pointer, found, "}", keyed=True)
    if char == "[":
        return _container(text, at, pointer, found, "]", keyed=False)
    if char == '"':
        return scanstring(text, at + 1)[1]
    number = _NUMBER.match(text, at)
    if number:
        return number.end()
    for literal in _LITERALS:
        if text.startswith(literal, at):
            return at + len(literal)
    raise ValueError(f"no JSON value at offset {at}")


def _container(
    text: str, at: int, pointer: str, found: dict[str, int], close: str, *, keyed: bool
) -> int:
    at = _skip(text, at + 1)
    if text[at : at + 1] == close:
        return at + 1
    index = 0
    while True:
        if keyed:
            if text[at : at + 1] != '"':
                raise ValueError(f"no key at offset {at}")
            key, after = scanstring(text, at + 1)
            child = f"{pointer}/{_token(key)}"
            found[child] = at  # the key's line holds the member (a repeated key: the last)
            at = _skip(text, after)
            if text[at : at + 1] != ":":
                raise ValueError(f"no ':' at offset {at}")
            at = _skip(text, at + 1)
        else:
            child = f"{pointer}/{index}"
            found[child] = at
        at = _skip(text, _value(text, at, child, found))
        index += 1
        if text[at : at + 1] == ",":
            at = _skip(text, at + 1)
        elif text[at : at + 1] == close:
            return at + 1
        else:
            raise ValueError(f"no ',' or {close!r} at offset {at}")
