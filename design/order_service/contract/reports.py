"""How `orders validate` shows its problems: as text for people, GitHub annotations, or JSON.

- `text` (the default): `path[:line]: event <event_id or index>: <JSON pointer>: <reason>`.
- `github`: one workflow command per problem, `::error file=…,line=…,col=…,title=…::<text>`,
  so that a GitHub Actions run marks the line holding the invalid field in the pull request
  and its log still reads as the text format does.
- `json`: one JSON document, `{"valid", "events", "problems": [...]}`, for any other CI.

The text format's line is the event's line in a JSON Lines file; the other two place each
problem on the line and column of the field itself, read again from the file (standard input
and other pipes cannot be read twice, so their problems keep the event's line).

Examples:
    >>> problem = Finding("events/a.json", None, 0, "/occurred_at", "not UTC", event="e-1")
    >>> print(problem.text)
    events/a.json: event e-1: /occurred_at: not UTC
    >>> print(github_command(problem, (3, 5)))
    ::error file=events/a.json,line=3,col=5,title=orders validate::events/a.json: event e-1: ...
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TextIO

from order_service.contract.locations import PointerIndex, locate
from order_service.contract.validation import bounded

__all__ = ["FORMATS", "Finding", "github_command", "render", "summarize"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem `orders validate` found, and where.

    Attributes:
        path: The file as given (`-` for standard input).
        line: The event's line in a JSON Lines file, or where a file stops being JSON; else None.
        index: The event's position in its file, from 0.
        pointer: JSON pointer to the invalid value inside the event; None for a file that is not
            JSON at all.
        message: What is wrong, in words.
        event: The event's `event_id`, or its index as text; None when there is no event.
    """

    path: str
    line: int | None
    index: int
    pointer: str | None
    message: str
    event: str | None = None

    @property
    def text(self) -> str:
        """The default output line: `path[:line]: [event <id>: ][<pointer>: ]<message>`."""
        path = bounded(self.path, limit=None)  # escaped, never cut
        where = path if self.line is None else f"{path}:{self.line}"
        event = "" if self.event is None else f"event {bounded(self.event)}: "
        pointer = "" if self.pointer is None else f"{bounded(self.pointer or '/')}: "
        return f"{where}: {event}{pointer}{bounded(self.message, 4 * 80)}"


def render(
    format_name: str, findings: Sequence[Finding], events: int, out: TextIO, err: TextIO
) -> None:
    """Print `findings` in the format named to `out`, and the one-line summary to `err`."""
    FORMATS[format_name](findings, events, out)
    summarize(len(findings), events, out, err)


def summarize(problems: int, events: int, out: TextIO, err: TextIO) -> None:
    """Print the one-line summary to `err`, after everything printed to `out`."""
    out.flush()  # problems first, then the summary, also when both streams go to one log
    if problems:
        print(f"orders: {problems} problem(s) in {events} event(s)", file=err)
    else:
        print(f"orders: {events} event(s) valid", file=err)


def github_command(finding: Finding, position: tuple[int, int] | None) -> str:
    """The `::error` workflow command for `finding` at `position` (line, column), if known."""
    properties = {}
    if finding.path != "-":
        properties["file"] = bounded(posixpath.normpath(Path(finding.path).as_posix()), None)
    if position is not None:
        properties["line"], properties["col"] = (str(number) for number in position)
    properties["title"] = "orders validate"
    listed = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::error {listed}::{_escape_data(finding.text)}"


def _escape_data(value: str) -> str:
    # As GitHub's own toolkit escapes a command's message (@actions/core, command.ts).
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _locator() -> Callable[[Finding], tuple[int, int] | None]:
    """Line and column of a finding's field, each file read and indexed once per run."""
    lines_of, index_of = cache(_lines), cache(_index)

    def position(finding: Finding) -> tuple[int, int] | None:
        fallback = None if finding.line is None else (finding.line, 1)  # all we knew already
        if finding.pointer is None or not _rereadable(finding.path):
            return fallback
        if finding.line is not None:  # JSON Lines: the pointer is inside that one line
            lines = lines_of(finding.path)
            if lines is None or finding.line > len(lines):
                return fallback
            found = locate(lines[finding.line - 1], finding.pointer)
            return fallback if found is None else (finding.line, found[1])
        document = index_of(finding.path)
        if document is None:
            return fallback
        in_array = f"/{finding.index}{finding.pointer}"
        return document.locate(in_array if document.is_array else finding.pointer)

    return position


def _rereadable(path: str) -> bool:
    # A pipe (standard input, `<(...)`, a FIFO) was read once already: reading it again would
    # wait for a writer for ever. Its problems keep the line they were found on.
    return path != "-" and Path(path).is_file()


def _lines(path: str) -> list[str] | None:
    # Split on "\n" only, as a JSON Lines reader and GitHub's line numbers do.
    try:
        return Path(path).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return None


def _index(path: str) -> PointerIndex | None:
    try:
        return PointerIndex(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def _text(findings: Sequence[Finding], events: int, out: TextIO) -> None:
    for finding in findings:
        print(finding.text, file=out)


def _github(findings: Sequence[Finding], events: int, out: TextIO) -> None:
    position = _locator()
    for finding in findings:
        print(github_command(finding, position(finding)), file=out)


def _json(findings: Sequence[Finding], events: int, out: TextIO) -> None:
    problems, position = [], _locator()
    for finding in findings:
        line, column = position(finding) or (None, None)
        problems.append(
            {
                "file": bounded(finding.path, limit=None),
                "line": line,
                "column": column,
                "event": None if finding.event is None else bounded(finding.event),
                "pointer": None if finding.pointer is None else bounded(finding.pointer),
                "message": bounded(finding.message, 4 * 80),
            }
        )
    report = {"valid": not findings, "events": events, "problems": problems}
    print(json.dumps(report, indent=2, ensure_ascii=False), file=out)


FORMATS: dict[str, Callable[[Sequence[Finding], int, TextIO], None]] = {
    "text": _text,
    "github": _github,
    "json": _json,
}
"""Each `--format` name and the function that prints the problems in it."""
