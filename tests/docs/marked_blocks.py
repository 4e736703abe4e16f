"""Read the blocks a page marks for checking: `<!-- check: KIND [key=value ...] -->` before a block.

The marker is an HTML comment, invisible on the site and in a rendered pull request; the block after
it (a fenced JSON block, or a Markdown table) stays plain Markdown, readable raw. Marker and block
may be indented together, inside a collapsed "Going deeper" block; the indentation is removed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!-- check: (?P<kind>[\w-]+)(?P<attrs>(?: [\w-]+=[\w.-]+)*) -->$")
FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")


@dataclass
class Marked:
    kind: str
    attrs: dict[str, str]
    line: int  # 1-based line of the marker in the page
    text: str  # the block's text: a fenced block's body, or a table's lines
    lang: str | None = None  # the fence's language, None for a table
    rows: list[list[str]] = field(default_factory=list)  # a table's body cells

    def json(self) -> Any:
        return json.loads(self.text)


def marked_blocks(page: Path) -> list[Marked]:
    """Every marked block of the page, in page order; a marker not followed by a block fails."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    for index, line in enumerate(lines):
        marker = MARKER.match(line.strip())
        if not marker:
            continue
        attrs = dict(pair.split("=", 1) for pair in marker["attrs"].split())
        start = index + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        where = f"{page.name}:{index + 1}"
        if start < len(lines) and (fence := FENCE.match(lines[start].strip())):
            indent = len(lines[start]) - len(lines[start].lstrip())
            end = start + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            if end == len(lines):
                raise AssertionError(f"{where}: the fenced block after the marker never closes")
            found.append(
                Marked(
                    marker["kind"],
                    attrs,
                    index + 1,
                    "\n".join(line[indent:] for line in lines[start + 1 : end]),
                    fence["lang"],
                )
            )
        elif start < len(lines) and lines[start].lstrip().startswith("|"):
            end = start
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            table = lines[start:end]
            rows = [
                [cell.strip() for cell in row.strip().strip("|").split("|")] for row in table[2:]
            ]
            found.append(Marked(marker["kind"], attrs, index + 1, "\n".join(table), rows=rows))
        else:
            raise AssertionError(
                f"{where}: a check marker must be followed by a fenced block or a table"
            )
    return found


def fenced_blocks(page: Path, lang: str) -> list[tuple[int, str]]:
    """(line, body) of every fenced block in `lang` on the page, marked or not."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        fence = FENCE.match(lines[index].strip())
        if fence:
            indent = len(lines[index]) - len(lines[index].lstrip())
            end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            if fence["lang"] == lang:
                body = "\n".join(line[indent:] for line in lines[index + 1 : end])
                blocks.append((index + 1, body))
            index = end
        index += 1
    return blocks
