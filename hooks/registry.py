"""MkDocs hook: what each command adds to the pages, written from the command registry.

A page line `<!-- registry: KIND -->` (alone, or as the only cell of a table row) is replaced
by one line per command of `order_service.model.commands.COMMANDS`, indented as the marker is:

- `endpoints`: the HTTP API page's table row of the command's endpoint;
- `rules`: the CQRS concepts page's row: the command, when it is accepted, its event;
- `events`, `event-data`, `commands`: the API reference's `:::` entries for the command's event,
  what that event carries, and the command.

So a new command adds no line to a page. An unknown KIND stops the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from order_service.model.commands import COMMANDS
from order_service.model.events import EVENT_MODELS
from order_service.model.fold import CURRENT_SCHEMA_VERSIONS

MARKER = re.compile(r"^(?P<indent>\s*)(?:\| )?<!-- registry: (?P<kind>[\w-]+) -->(?: \|)?\s*$")


def _endpoint(command: Any) -> str:
    path = command.http_path.replace("{order_id}", "{id}")
    if command.http_path == "/orders":  # the command that creates the order
        answer = '**201**, `Location: /orders/{id}`, `{"order_id", "version": 1}`'
    else:
        answer = '**200**, `{"order_id", "version"}`'
    return f"| `POST {path}` | `{command.__name__}` | {answer} |"


def _event_model(command: Any) -> Any:
    return EVENT_MODELS[(command.event, CURRENT_SCHEMA_VERSIONS[command.event])]


def _entry(module: str, name: str) -> str:
    options = "    options:\n      heading_level: 4\n      show_source: false\n"
    return f"::: order_service.model.{module}.{name}\n{options}"


KINDS: dict[str, Callable[[Any], str]] = {
    "endpoints": _endpoint,
    "rules": lambda c: f"| `{c.__name__}` | {c.accepted_when} | `{c.event}` |",
    "events": lambda c: _entry("events", _event_model(c).__name__),
    "event-data": lambda c: _entry(
        "events", _event_model(c).model_fields["data"].annotation.__name__
    ),
    "commands": lambda c: _entry("commands", c.__name__),
}
"""What each KIND writes for one command."""


def expand(markdown: str) -> str:
    """The page with each registry marker replaced by its lines, one entry per command."""
    out = []
    for line in markdown.split("\n"):
        marker = MARKER.match(line)
        if marker is None:
            out.append(line)
            continue
        write = KINDS.get(marker["kind"])
        if write is None:
            raise ValueError(f"registry marker of an unknown kind: {line.strip()}")
        lines = "\n".join(write(command) for command in COMMANDS).splitlines()
        out += [marker["indent"] + text if text else text for text in lines]
    return "\n".join(out)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return expand(markdown)
