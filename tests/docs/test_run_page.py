"""The "Run the design" page: its demo output is what `orders demo` prints; its map is real."""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "docs" / "design" / "run.md"
DEMO_OUTPUT = REPO_ROOT / "docs" / "design" / "demo-output.txt"
PACKAGE = REPO_ROOT / "design" / "order_service"
SNIPPET = re.compile(r'^--8<-- "([^":]+)(?::([\w-]+))?"$', re.M)

BOXES = {
    "Client",
    "Command Handler",
    "Write DB (SQL)",
    "Outbox relay",
    "Event Bus",
    "Event Handler",
    "Read DB",
    "Query Handler",
    "Contract",
    "Composition root",
}


def orders_demo(tmp_path: Path) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "order_service.entrypoints.cli",
            "demo",
            "--db",
            str(tmp_path / "orders.db"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_page_shows_what_orders_demo_prints_now(tmp_path):
    assert '--8<-- "docs/design/demo-output.txt"' in PAGE.read_text(encoding="utf-8")
    printed = orders_demo(tmp_path)
    assert printed == DEMO_OUTPUT.read_text(encoding="utf-8"), (
        "orders demo prints something else than the page shows; if the change is intended, run "
        "`.venv/bin/orders demo > docs/design/demo-output.txt` and review the diff"
    )


def test_the_built_page_carries_every_line_of_the_demo_output(page_html_path):
    page = page_html_path("design/run.md").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    lines = [line for line in DEMO_OUTPUT.read_text(encoding="utf-8").splitlines() if line]
    assert len(lines) > 50
    missing = [line for line in lines if line not in text]
    assert missing == []


def test_the_box_table_names_every_module_of_the_tree_once():
    rows = [
        line for line in PAGE.read_text(encoding="utf-8").splitlines() if line.startswith("| **")
    ]
    named: list[str] = []
    boxes = set()
    for row in rows:
        boxes.add(re.match(r"\| \*\*(.+?)\*\*", row).group(1))
        cell = row.split("|")[2]
        if cell.strip() == "`app.py`":
            named.append("app.py")
            continue
        for folder, modules in re.findall(r"`(\w+)/`: ([^;]+)", cell):
            named += [f"{folder}/{name}" for name in re.findall(r"`([\w.]+\.(?:py|sql))`", modules)]
    assert boxes == BOXES
    in_tree = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.suffix in {".py", ".sql"}
        and path.name != "__init__.py"
        and "__pycache__" not in path.parts
    )
    assert "model/fold.py" in in_tree  # the walk finds the package
    assert sorted(named) == in_tree  # each module named once, and nothing that is not there


def test_every_snippet_the_page_includes_exists_with_its_section():
    snippets = SNIPPET.findall(PAGE.read_text(encoding="utf-8"))
    assert ("docs/design/demo-output.txt", "") in snippets  # the collector reads the includes
    for path, section in snippets:
        source = (REPO_ROOT / path).read_text(encoding="utf-8")
        if section:
            assert f"--8<-- [start:{section}]" in source, f"{path}: no start of {section}"
            assert f"--8<-- [end:{section}]" in source, f"{path}: no end of {section}"


def test_the_page_states_guarantees_limits_and_the_mapping_at_scale():
    page = PAGE.read_text(encoding="utf-8")
    for heading in (
        "## What the design guarantees",
        "## What it does not guarantee",
        "## At scale: PostgreSQL, Kafka, Elasticsearch",
    ):
        assert heading in page
    assert "No global order across orders on a partitioned bus" in page
    assert "at least once" in page
    assert "eventually consistent" in page


def test_the_steps_the_page_points_to_are_those_steps_of_the_output():
    steps = {
        int(number): line
        for number, line in re.findall(
            r"^\[(\d+)\] (.*)$", DEMO_OUTPUT.read_text(encoding="utf-8"), re.M
        )
    }
    page = PAGE.read_text(encoding="utf-8")
    pointed = {
        "the query in step 6 still sees version 1": "get #1001, before the relay has run",
        "step 7 publishes": "Outbox relay -> Event Bus",
        "step 10 is a command the rules refuse": "CancelOrder #1001",
        "step 12 loads #1001 from its snapshot": "load #1001 before the next command",
        "step 20 rebuilds the read model from nothing": "Replay: rebuild the read model",
    }
    for phrase, expected in pointed.items():
        assert phrase in " ".join(page.split()), phrase
        number = int(re.search(r"step (\d+)", phrase).group(1))
        assert expected in steps[number], (phrase, steps[number])


def test_the_demo_runs_the_order_1001_that_the_r5_page_shows(tmp_path):
    from marked_blocks import marked_blocks
    from order_service.entrypoints.demo import run_demo
    from order_service.write.store import EventStore

    shown = [
        block.json()
        for block in marked_blocks(REPO_ROOT / "docs" / "answers" / "order-1001-events.md")
        if block.kind == "event"
    ]
    life = ("OrderPlaced", "OrderPaid", "OrderShipped", "OrderDelivered")
    page_story = [
        (event["version"], event["event_type"], event["occurred_at"], event["data"])
        for event in shown
        if event["order_id"] == "1001" and event["event_type"] in life
        and event["schema_version"] == (2 if event["event_type"] == "OrderPlaced" else 1)
    ]  # fmt: skip
    assert len(page_story) == 4
    run_demo(tmp_path / "orders.db", io.StringIO())
    store = EventStore(tmp_path / "orders.db", clock=str, read_only=True)
    demo_story = [
        (event["version"], event["event_type"], event["occurred_at"], event["data"])
        for event in store.load("1001")
    ]
    store.close()
    assert demo_story == sorted(page_story, key=lambda step: step[0])


def test_each_row_marked_tested_names_tests_that_exist():
    from test_checked_by import missing_test

    page = PAGE.read_text(encoding="utf-8")
    table = page.split("## At scale: PostgreSQL, Kafka, Elasticsearch", 1)[1].split("\n\n")[2]
    rows = {row.split("|")[1].strip(): row for row in table.splitlines()[2:]}
    assert "Event Bus" in rows and "Write DB" in rows  # the split found the table
    bus = rows["Event Bus"].rsplit("|", 2)[1]
    assert bus.strip().startswith("**tested** on a real broker"), bus
    named = re.findall(r"`(tests/[^`]+)`", bus)
    assert any(name.startswith("tests/kafka/") for name in named), bus
    for box, row in rows.items():
        for name in re.findall(r"`(tests/[^`]+)`", row.rsplit("|", 2)[1]):
            assert missing_test(name) is None, (box, missing_test(name))
