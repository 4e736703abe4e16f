"""Every page of the site, opened in Chromium with no network but loopback.

For each page in the nav: the heading is visible, each code block has a copy button, every Mermaid
block (counted in the built HTML) became an SVG that shows the labels written in its source, and the
page logged no console error, threw no error and asked for nothing outside 127.0.0.1. Also: search
finds "snapshot", and the light/dark toggle switches the palette. Each page is captured in
screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

browser = pytest.mark.browser

# Lines that style or describe a diagram rather than draw text in it.
NOT_DRAWN = re.compile(
    r"^\s*(accTitle|accDescr|classDef|class|style|linkStyle|click|%%|title|direction|autonumber)\b"
)
QUOTED = re.compile(r'"([^"]+)"')
BRACKETED = re.compile(r"\b[\w-]+\s*(?:\[\[|\[\(|\(\[|\(\(|\{\{|\[|\(|\{|>)([^\[\](){}\"|]+)[\])}]")
EDGE_TEXT = re.compile(r"\|([^|\"]+)\|")
PARTICIPANT = re.compile(r"^\s*(?:participant|actor)\s+(\S+)(?:\s+as\s+(.+))?$")
MESSAGE = re.compile(r"^\s*[\w-]+\s*(?:-{1,2}(?:>>|>|x|\)))[+-]?\s*[\w-]+\s*:\s*(.+)$")
NOTE = re.compile(r"^\s*note\s+(?:over|left of|right of)\s+[^:]+:\s*(.+)$", re.IGNORECASE)
TRANSITION = re.compile(
    r"^\s*(\[\*\]|[\w-]+)(?::::\w+)?\s*-->\s*(\[\*\]|[\w-]+)(?::::\w+)?\s*(?::\s*(.+))?$"
)
STATE_ALIAS = re.compile(r'^\s*state\s+"([^"]+)"\s+as\s+([\w-]+)')
STATE_DESCRIPTION = re.compile(r"^\s*([\w-]+)\s*:\s*(.+)$")


def _kind(source: str) -> str:
    body = re.sub(r"\A\s*---\n.*?\n---\n", "", source, flags=re.S)
    first = next(
        line.strip()
        for line in body.splitlines()
        if line.strip() and not line.strip().startswith("%%")
    )
    return first.split()[0]


def expected_labels(source: str) -> list[str]:
    """Text a rendered diagram must show, read from its Mermaid source.

    Flowcharts: quoted and bracketed node labels, quoted and |piped| edge labels. Sequence
    diagrams: participants (their alias when given), messages, notes. State diagrams: state
    names (or their descriptions) and transition labels. Other kinds: quoted strings.
    """
    kind = _kind(source)
    lines = [line for line in source.splitlines()[1:] if not NOT_DRAWN.match(line)]
    labels: list[str] = []
    if kind in {"flowchart", "graph"}:
        for line in lines:
            unquoted = QUOTED.sub('""', line)
            labels += (
                QUOTED.findall(line) + BRACKETED.findall(unquoted) + EDGE_TEXT.findall(unquoted)
            )
    elif kind == "sequenceDiagram":
        for line in lines:
            if match := PARTICIPANT.match(line):
                labels.append(match.group(2) or match.group(1))
            elif match := MESSAGE.match(line) or NOTE.match(line):
                labels.append(match.group(1))
    elif kind.startswith("stateDiagram"):
        names: dict[str, list[str]] = {}
        for line in lines:
            if match := TRANSITION.match(line):
                for state in match.group(1, 2):
                    if state != "[*]":
                        names.setdefault(state, [])
                if match.group(3):
                    labels.append(match.group(3))
            elif match := STATE_ALIAS.match(line):
                names.setdefault(match.group(2), []).append(match.group(1))
            elif (match := STATE_DESCRIPTION.match(line)) and not line.lstrip().startswith(
                "state "
            ):
                names.setdefault(match.group(1), []).append(match.group(2))
        for state, descriptions in names.items():
            labels += descriptions or [state]
    else:
        for line in lines:
            labels += QUOTED.findall(line)
    unique = dict.fromkeys(label.strip() for label in labels if _comparable(label))
    return list(unique)


def _comparable(text: str) -> str:
    """Letters and digits only: SVG text loses line breaks, markup and Mermaid's #entity; codes."""
    return re.sub(r"[^0-9a-z]", "", re.sub(r"#\w+;", "", text).lower())


# Text an SVG draws: its textContent without <style>, <title> and <desc> (the text alternative
# would otherwise satisfy any label).
DRAWN_TEXT = """host => {
  const svg = host.shadowRoot.querySelector("svg").cloneNode(true);
  svg.querySelectorAll("style, title, desc").forEach(node => node.remove());
  return {
    text: svg.textContent,
    title: host.shadowRoot.querySelector("svg > title")?.textContent ?? null,
  };
}"""
RENDERED = """count => {
  const hosts = [...document.querySelectorAll(".mermaid")];
  return hosts.length === count && hosts.every(host => host.shadowRoot?.querySelector("svg"));
}"""


def _url(site_url: str, built_site: Path, html_path: Path) -> str:
    folder = html_path.parent.relative_to(built_site).as_posix()
    return site_url if folder == "." else f"{site_url}{folder}/"


def test_every_nav_page_is_visited(nav_pages, built_site: Path):
    sitemap = (built_site / "sitemap.xml").read_text(encoding="utf-8")
    # Each nav page is parametrized into the browser tests below; the sitemap lists the same set.
    assert nav_pages and len(nav_pages) == sitemap.count("<loc>")


@browser
def test_the_page_renders_offline_with_every_diagram_and_no_error(
    nav_page, watched_page, site_url, built_site, page_html_path, mermaid_sources, screenshots
):
    page, watch = watched_page
    sources = mermaid_sources[nav_page]
    page.goto(_url(site_url, built_site, page_html_path(nav_page)))
    try:
        expect(page.locator("article h1").first).to_be_visible()
        page.wait_for_function(RENDERED, arg=len(sources), timeout=20_000)
        page.wait_for_load_state("networkidle")
    finally:
        page.screenshot(
            path=screenshots / f"{nav_page.removesuffix('.md').replace('/', '-')}.png",
            full_page=True,
        )

    hosts = page.locator(".mermaid").all()
    assert len(hosts) == len(sources)
    assert page.locator("pre.mermaid").count() == 0, "a Mermaid block was left as source"
    for number, (host, source) in enumerate(zip(hosts, sources, strict=True), start=1):
        drawn = host.evaluate(DRAWN_TEXT)
        labels = expected_labels(source)
        assert len(labels) >= 2, f"diagram {number}: too few labels derived from its source"
        missing = [
            label for label in labels if _comparable(label) not in _comparable(drawn["text"])
        ]
        assert missing == [], f"diagram {number} does not show these labels"
        if title := re.search(r"^\s*accTitle\s*:\s*(.+)$", source, re.M):
            assert drawn["title"] == title.group(1).strip()

    # Material's content.code.copy: every code block offers a copy button.
    code_blocks = page.locator("article div.highlight").count()
    copy_buttons = page.locator("article div.highlight button[title='Copy to clipboard']")
    assert copy_buttons.count() == code_blocks

    assert watch.outside_requests == []
    assert watch.console_errors == []
    assert watch.page_errors == []


@browser
def test_search_finds_snapshot(watched_page, site_url):
    page, watch = watched_page
    page.goto(site_url)
    search = page.locator("input.md-search__input")
    search.click()
    search.press_sequentially("snapshot", delay=30)
    results = page.locator(".md-search-result__item")
    expect(results.first).to_be_visible(timeout=10_000)
    expect(results.first).to_contain_text(re.compile("snapshot", re.IGNORECASE))
    # The result count Material shows ("2 matching documents") agrees with the list.
    expect(page.locator(".md-search-result__meta")).to_contain_text(re.compile(r"\d+ matching"))
    assert (watch.outside_requests, watch.console_errors, watch.page_errors) == ([], [], [])


@browser
def test_the_light_dark_toggle_switches_the_palette(watched_page, site_url):
    page, watch = watched_page
    page.goto(site_url)
    body = page.locator("body")
    expect(body).to_have_attribute("data-md-color-scheme", "default")
    page.get_by_title("Switch to dark mode").click()
    expect(body).to_have_attribute("data-md-color-scheme", "slate")
    page.get_by_title("Switch to light mode").click()
    expect(body).to_have_attribute("data-md-color-scheme", "default")
    assert (watch.outside_requests, watch.console_errors, watch.page_errors) == ([], [], [])


@browser
def test_a_request_off_loopback_is_aborted_and_recorded(watched_page, site_url):
    page, watch = watched_page
    page.goto(site_url)
    outcome = page.evaluate(
        "() => fetch('https://example.invalid/beacon').then(() => 'sent', () => 'refused')"
    )
    assert outcome == "refused"
    assert watch.outside_requests == ["https://example.invalid/beacon"]


# --- the label reader, on sources whose rendering is known -------------------------------------


def test_labels_of_a_flowchart_are_its_node_and_edge_texts():
    source = (
        "flowchart LR\n    accTitle: Not drawn\n"
        '    client["Client"] -- "POST /orders" --> h[Handler]\n'
        '    h -->|append| db[(Write DB)]\n    subgraph side["Command side"]\n    end\n'
    )
    assert expected_labels(source) == [
        "Client",
        "POST /orders",
        "Handler",
        "Write DB",
        "append",
        "Command side",
    ]


def test_labels_of_a_sequence_diagram_are_participants_messages_and_notes():
    source = (
        "sequenceDiagram\n    actor client as Client\n    participant api\n"
        "    client->>api: PlaceOrder 1001\n    api-->>client: 201 Created\n"
        "    Note over client,api: Stale window\n"
    )
    assert expected_labels(source) == [
        "Client",
        "api",
        "PlaceOrder 1001",
        "201 Created",
        "Stale window",
    ]


def test_labels_of_a_state_diagram_are_states_and_transitions():
    source = (
        "stateDiagram-v2\n    [*] --> placed\n    placed --> paid : OrderPaid\n"
        '    state "Shipped to customer" as shipped\n    paid --> shipped\n    shipped --> [*]\n'
    )
    assert expected_labels(source) == ["OrderPaid", "placed", "paid", "Shipped to customer"]
