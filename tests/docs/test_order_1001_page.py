"""The R5 page: every payload and state it shows is validated and derived by the code.

The page marks what it shows with invisible comments (see marked_blocks.py): the events of #1001
(`event`), events of other possible histories (`alternative`), the step table (`step-table`), the
final state (`state version=N`) and #1001's OrderPlaced as schema version 1 (`v1-event`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from marked_blocks import fenced_blocks, marked_blocks
from order_service.contract.validation import validate_event
from order_service.model.fold import fold
from order_service.model.history import check_history
from order_service.model.upcasting import upcast
from registry_walk import lifecycle_edges

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "docs" / "answers" / "order-1001-events.md"
TIMES = "\N{MULTIPLICATION SIGN}"
KINDS = {"event", "alternative", "step-table", "state", "v1-event"}  # what the markers may say


def blocks(kind: str):
    return [block for block in marked_blocks(PAGE) if block.kind == kind]


def story() -> list[dict]:
    return [block.json() for block in blocks("event")]


def test_every_payload_on_the_page_is_marked_and_valid():
    marked = marked_blocks(PAGE)
    assert {block.kind for block in marked} == KINDS
    json_blocks = fenced_blocks(PAGE, "json")
    assert json_blocks, "the collector found the page's JSON blocks"
    assert sorted(line for line, _ in json_blocks) == sorted(
        block.line + 1 for block in marked if block.lang == "json"
    ), "a JSON block on the page has no check marker right above it"
    payloads = [
        block.json() for block in marked if block.kind in ("event", "alternative", "v1-event")
    ]
    for payload in payloads:
        assert validate_event(payload) == [], payload["event_id"]


def test_the_story_is_order_1001_at_versions_1_to_4_in_page_order():
    events = story()
    assert [e["order_id"] for e in events] == ["1001"] * 4
    assert [e["version"] for e in events] == [1, 2, 3, 4]
    assert [e["event_type"] for e in events] == [
        "OrderPlaced",
        "OrderPaid",
        "OrderShipped",
        "OrderDelivered",
    ]
    assert len({e["event_id"] for e in events}) == len(events)


def _money(money: dict) -> str:
    return f"{money['amount']} {money['currency']}"


def _row(state) -> list[str]:
    data = state.to_dict()
    lines = ", ".join(f"{line['sku']} {TIMES} {line['quantity']}" for line in data["lines"])
    return [
        f"`{data['status']}`",
        _money(data["total"]),
        lines,
        data["payment_id"] or "",
        data["tracking_number"] or "",
    ]


def test_the_step_table_is_what_the_reducer_derives_after_each_event():
    (table,) = blocks("step-table")
    events = story()
    assert len(table.rows) == len(events) == 4
    for version, row in enumerate(table.rows, start=1):
        assert row[0] == str(version)
        assert row[1] == f"`{events[version - 1]['event_type']}`"
        assert row[2:] == _row(fold(events[:version])), f"row for version {version}"


def test_the_final_state_is_what_folding_the_first_three_events_gives():
    (state,) = blocks("state")
    version = int(state.attrs["version"])
    assert version == 3  # placed, paid, shipped: where #1001 stands
    assert state.json() == fold(story()[:version]).to_dict()
    assert state.json()["status"] == "shipped"


def test_the_alternative_events_fold_onto_the_story_at_their_version():
    item_added, cancelled, refunded = (block.json() for block in blocks("alternative"))
    histories = [
        [story()[0], item_added],
        [*story()[:2], cancelled],
        [*story()[:2], cancelled, refunded],  # the refund follows the cancellation shown
    ]
    for history in histories:
        assert check_history(history) == [], history[-1]["event_type"]
    results = [fold(history) for history in histories]
    assert [(s.status, s.total) for s in results] == [
        ("placed", "134.97"),
        ("cancelled", "129.97"),
        ("refunded", "129.97"),
    ]


def test_only_the_refund_can_follow_the_cancellation_shown_and_nothing_the_refund():
    _, cancelled, refunded = (block.json() for block in blocks("alternative"))
    delivered = dict(story()[3], version=4)
    [problem] = check_history([*story()[:2], cancelled, delivered])
    assert (problem.version, problem.rule) == (4, "the order is already cancelled")
    again = dict(refunded, version=5)
    [problem] = check_history([*story()[:2], cancelled, refunded, again])
    assert (problem.version, problem.rule) == (5, "the order is already refunded")


def test_the_v1_event_upcasts_to_the_v2_event_on_the_page():
    (v1,) = blocks("v1-event")
    old = v1.json()
    assert old["schema_version"] == 1
    assert upcast(old) == story()[0]
    assert fold([upcast(old), *story()[1:3]]) == fold(story()[:3])


def test_the_refusal_shown_is_the_history_checks_message():
    page = PAGE.read_text(encoding="utf-8")
    (shown,) = re.findall(r"```text\n\s*(event .*)\n\s*```", page)
    shipped_early = dict(story()[2], version=2)
    [problem] = check_history([story()[0], shipped_early])
    assert str(problem) == shown


def _diagram_edges() -> set[tuple[str, str, str]]:
    (diagram,) = [body for _, body in fenced_blocks(PAGE, "mermaid")]
    assert diagram.startswith("stateDiagram-v2")
    assert "accTitle:" in diagram and "accDescr:" in diagram
    edges = set()
    for line in diagram.splitlines():
        edge = re.fullmatch(r"\s*(\S+) --> (\S+?)(?:: (\w+))?", line)
        if edge:
            edges.add((edge[1], edge[2], edge[3] or ""))
    return edges


def test_the_lifecycle_diagram_is_what_the_reducer_allows():
    assert _diagram_edges() == lifecycle_edges()  # every command of the registry, tried


def test_every_event_shown_anywhere_on_the_site_validates():
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
    shown, not_json = [], []
    for page in pages:
        for line, body in fenced_blocks(page, "json"):
            included = re.fullmatch(r'\s*--8<-- "([^"]+)"\s*', body)  # a snippet: the file shown
            if included:
                body = (REPO_ROOT / included[1]).read_text(encoding="utf-8")
            try:
                payload = json.loads(body)
            except json.JSONDecodeError as error:  # a typo must not hide an event from the check
                not_json.append(f"{page.relative_to(REPO_ROOT)}:{line}: {error}")
                continue
            for item in payload if isinstance(payload, list) else [payload]:
                if isinstance(item, dict) and "event_type" in item:
                    shown.append((f"{page.relative_to(REPO_ROOT)}:{line}", item))
    assert not_json == []
    # The collector finds at least every payload the R5 page marks (the rest is checked too).
    marked = [
        b.json() for b in marked_blocks(PAGE) if b.kind in ("event", "alternative", "v1-event")
    ]
    assert all(payload in [item for _, item in shown] for payload in marked)
    problems = [f"{where}: {p}" for where, item in shown for p in validate_event(item)]
    assert problems == []
