"""The pages' per-command lines come from the command registry (`hooks/registry.py`).

The HTTP API's endpoint rows, the CQRS concepts page's table of commands and the API reference's
entries for each command, its event and what the event carries are written by the hook, so a
new command adds no line to a page; these tests check what the hook writes, page by page.
"""

from __future__ import annotations

import re

import pytest
from order_service.model.commands import COMMANDS
from order_service.model.events import EVENT_MODELS
from order_service.model.fold import CURRENT_SCHEMA_VERSIONS
from site_pages import REPO_ROOT, load_hook

registry = load_hook("registry")
DOCS = REPO_ROOT / "docs"


def _expanded(page: str) -> str:
    return registry.expand((DOCS / page).read_text(encoding="utf-8"))


def test_every_kind_of_marker_is_used_and_each_page_is_left_with_none():
    used = set()
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        used |= {m["kind"] for line in text.splitlines() if (m := registry.MARKER.match(line))}
        assert "registry:" not in registry.expand(text), page.name
    assert used == set(registry.KINDS)


def test_an_unknown_marker_stops_the_build():
    with pytest.raises(ValueError, match="unknown kind"):
        registry.expand("| <!-- registry: endpoint --> |")


def test_the_cqrs_concepts_table_has_each_command_its_rule_and_its_event():
    rows = re.findall(
        r"^    \| `(\w+)` \| (.+) \| `(\w+)` \|$", _expanded("answers/cqrs-concepts.md"), re.M
    )
    assert rows == [(c.__name__, c.accepted_when, c.event) for c in COMMANDS]


def test_the_api_reference_has_each_command_its_event_and_what_the_event_carries():
    entries = re.findall(
        r"^::: order_service\.model\.(\w+)\.(\w+)$", _expanded("design/api.md"), re.M
    )
    for command in COMMANDS:
        event = EVENT_MODELS[(command.event, CURRENT_SCHEMA_VERSIONS[command.event])]
        data = event.model_fields["data"].annotation
        for module, name in [("commands", command.__name__), ("events", event.__name__),
                             ("events", data.__name__)]:  # fmt: skip
            assert entries.count((module, name)) == 1, f"{module}.{name}"


def test_the_generated_lines_keep_the_markers_indent():
    note, *expanded = registry.expand("??? note\n    <!-- registry: commands -->\n").splitlines()
    assert note == "??? note" and all(line.startswith("    ") for line in expanded if line)
    assert expanded.count(f"    ::: order_service.model.commands.{COMMANDS[0].__name__}") == 1


def test_every_file_the_add_a_command_checklist_names_exists():
    page = (DOCS / "contributing.md").read_text(encoding="utf-8")
    checklist = page.split("## Add a command", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`((?:design|docs|schemas|tests|hooks)/[\w./-]+)`", checklist)
    assert len(named) >= 10, named  # the reader finds the paths the steps name
    assert [path for path in named if not (REPO_ROOT / path).exists()] == []
