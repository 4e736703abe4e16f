"""The site as a reader sees it, in Chromium: answers first, terms defined, readable on a phone.

"Visible prose" is the text of the page's article that shows without expanding anything, code
blocks and diagrams aside: the text a learner has to read before choosing to go deeper. Measured per
answer page against the budget of issue 9. The same visible text must name no module, file, function
or test (those live in each page's closed "Checked by" box), and the first visible use of every
glossary term on every page must carry its hover definition (or be a link to the glossary). On a
390 px phone no diagram's text may shrink below 10 px; at 1280 px no code block scrolls sideways.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from site_pages import ANSWER_PAGES, REPO_ROOT, load_hook

browser_test = pytest.mark.browser

WORDS_PER_ANSWER = 800
WORDS_FOR_ALL_ANSWERS = 4_200
SMALLEST_READABLE_PX = 10
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


glossary_hook = load_hook("glossary")

# The article's text with code blocks, diagrams, permalinks and the bodies of closed boxes hidden.
VISIBLE_PROSE = """() => {
  const article = document.querySelector("article.md-content__inner");
  const hide = article.querySelectorAll(
    "pre, .mermaid, .diagram-scroll, .headerlink, details:not([open]) > :not(summary)"
  );
  const saved = [...hide].map(el => [el, el.style.display]);
  hide.forEach(el => { el.style.display = "none"; });
  const text = article.innerText;
  saved.forEach(([el, display]) => { el.style.display = display; });
  return text;
}"""

# For each term (with its spellings), the first visible text node that uses it, and whether that use
# sits in an <abbr title> or a link to the glossary. Code, diagrams and closed boxes are skipped.
FIRST_USES = """terms => {
  const article = document.querySelector("article.md-content__inner");
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {
    acceptNode: node => node.parentElement.closest(
      "pre, code, .mermaid, .headerlink, details:not([open]) > :not(summary)"
    ) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  const escape = s => s.replace(/[.*+?^${}()|[\\]\\\\]/g, "\\\\$&");
  const results = [];
  for (const [term, spellings] of terms) {
    const alternatives = spellings.map(s => s.split(/\\s+/).map(escape).join("\\\\s+"));
    const pattern = new RegExp("\\\\b(?:" + alternatives.join("|") + ")\\\\b");
    const node = nodes.find(n => pattern.test(n.textContent));
    if (!node) continue;
    const holder = node.parentElement.closest("abbr[title], a[href*='glossary']");
    results.push({term, text: node.textContent.trim().slice(0, 80), defined: holder !== null,
                  title: holder && holder.tagName === "ABBR" ? holder.title : null});
  }
  return results;
}"""

# Each rendered diagram: its drawn width, its viewBox width, the smallest label font size in SVG
# units, whether its box scrolls, and whether the page itself scrolls sideways.
DIAGRAM_SIZES = """() => [...document.querySelectorAll(".mermaid")].map(host => {
  const svg = host.shadowRoot.querySelector("svg");
  const selector = "text, foreignObject span, foreignObject div, foreignObject p";
  const labels = [...svg.querySelectorAll(selector)]
    .filter(el => el.textContent.trim() && !el.querySelector("span, div, p, text"));
  const sizes = labels.map(el => parseFloat(getComputedStyle(el).fontSize));
  const box = host.closest(".diagram-scroll");
  return {
    drawn: svg.getBoundingClientRect().width,
    natural: svg.viewBox.baseVal.width,
    smallestFont: Math.min(...sizes),
    labels: sizes.length,
    boxScrolls: box !== null && getComputedStyle(box).overflowX === "auto",
    pageScrolls: document.documentElement.scrollWidth > window.innerWidth,
  };
})"""

# Every code block (all boxes opened first) whose content is wider than its frame.
SCROLLING_CODE = """() => {
  document.querySelectorAll("article details").forEach(d => { d.open = true; });
  return [...document.querySelectorAll("article pre > code")]
    .filter(code => !code.closest(".mermaid, .diagram-scroll"))
    .map(code => ({width: code.scrollWidth, frame: code.clientWidth,
                   start: code.textContent.trim().split("\\n")[0].slice(0, 60)}))
    .filter(block => block.width > block.frame + 1);
}"""


def words(text: str) -> int:
    """Words a reader reads: whitespace-separated tokens with at least one letter or digit."""
    return sum(1 for token in text.split() if re.search(r"[0-9A-Za-z]", token))


def code_names() -> set[str]:
    """Names a reader of an answer should not need: the design's functions, classes and modules.

    Every module, function, class and method of the two packages whose name is recognisably code
    (an underscore, or two capitals as in `EventStore`), except the event and command classes and
    the SQL tables, which are the domain's and the exercise's own words (`OrderPaid`, `PlaceOrder`,
    `order_events`).
    """
    names: set[str] = set()
    domain: set[str] = set()
    for package in ("order_service", "order_service_bench"):
        for path in (REPO_ROOT / "design" / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names.add(path.name)
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    bases = {getattr(base, "id", None) for base in node.bases}
                    if bases & {"Envelope", "_Command"}:
                        domain.add(node.name)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
    recognisable = {
        name
        for name in names
        if not name.startswith("__")
        and ("_" in name.strip("_") or len(re.findall("[A-Z]", name)) >= 2 or name.endswith(".py"))
    }
    tables = set()
    for sql in (REPO_ROOT / "design" / "order_service").rglob("*.sql"):
        tables |= set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", sql.read_text("utf-8")))
    assert {"order_events", "order_summary"} <= tables, "the SQL tables were read"
    return recognisable - domain - tables


def code_names_in(text: str, names: set[str]) -> list[str]:
    """The code names, test names and file paths a visible text mentions."""
    found = {name for name in names if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text)}
    found |= set(re.findall(r"\btests/[\w/.-]*|\btest_\w+|\b[\w-]+\.py\b", text))
    return sorted(found)


def _load(page: Page, nav_page: str, site_url: str, page_html_path, built_site: Path) -> Page:
    folder = page_html_path(nav_page).parent.relative_to(built_site).as_posix()
    page.goto(site_url if folder == "." else f"{site_url}{folder}/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.mermaid')]"
        ".every(host => host.shadowRoot?.querySelector('svg'))",
        timeout=20_000,
    )
    return page


@pytest.fixture
def page_at(offline_context, site_url: str, page_html_path, built_site: Path):
    """`page_at(nav_page, viewport)`: that page, loaded offline, its diagrams rendered."""

    def open_page(nav_page: str, viewport: dict[str, int]) -> Page:
        page = offline_context(viewport).new_page()
        return _load(page, nav_page, site_url, page_html_path, built_site)

    return open_page


@pytest.fixture(scope="module")
def read_at_1280(offline_context_opener, site_url: str, page_html_path, built_site: Path):
    """`read_at_1280(nav_page)`: what that page shows at 1280 px, each page loaded once for the
    module's three tests that only read it: the first use of each glossary term (`FIRST_USES`,
    boxes closed as a reader first sees them), then the code blocks wider than their frame
    (`SCROLLING_CODE`, which opens every box)."""
    context = offline_context_opener(DESKTOP)
    read: dict[str, dict] = {}

    def read_page(nav_page: str) -> dict:
        if nav_page not in read:
            page = _load(context.new_page(), nav_page, site_url, page_html_path, built_site)
            first_uses = page.evaluate(FIRST_USES, _terms())
            read[nav_page] = {"first_uses": first_uses, "scrolling": page.evaluate(SCROLLING_CODE)}
            page.close()
        return read[nav_page]

    yield read_page
    context.close()


@pytest.fixture(scope="module")
def visible_prose(browser: Browser, site_url: str, page_html_path, built_site: Path) -> dict:
    """Each answer page's visible prose, read once at 1280 px."""
    context = browser.new_context(viewport=DESKTOP)
    context.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
    page = context.new_page()
    texts = {}
    for nav_page in ANSWER_PAGES:
        folder = page_html_path(nav_page).parent.relative_to(built_site).as_posix()
        page.goto(f"{site_url}{folder}/")
        texts[nav_page] = page.evaluate(VISIBLE_PROSE)
    context.close()
    return texts


@browser_test
@pytest.mark.parametrize("answer_page", ANSWER_PAGES)
def test_an_answer_page_shows_under_800_words_of_prose_before_expanding(visible_prose, answer_page):
    count = words(visible_prose[answer_page])
    assert 100 < count < WORDS_PER_ANSWER, f"{answer_page}: {count} visible words"


@browser_test
def test_the_six_answers_show_under_4200_words_of_prose_together(visible_prose):
    counts = {page: words(text) for page, text in visible_prose.items()}
    assert len(counts) == len(ANSWER_PAGES)
    assert sum(counts.values()) < WORDS_FOR_ALL_ANSWERS, counts


@browser_test
@pytest.mark.parametrize("answer_page", ANSWER_PAGES)
def test_a_visible_answer_names_no_module_function_or_test(visible_prose, answer_page):
    assert code_names_in(visible_prose[answer_page], code_names()) == []


@browser_test
def test_the_closed_checked_by_box_still_names_the_code(page_at):
    page = page_at("answers/cqrs-concepts.md", DESKTOP)
    box = page.locator("article details", has_text="Checked by").last
    assert box.get_attribute("open") is None, "the code and tests box starts closed"
    assert "tests/unit/test_decide.py" in box.text_content()
    assert "tests/" not in page.evaluate(VISIBLE_PROSE)


def _terms() -> list[tuple[str, list[str]]]:
    by_term: dict[str, list[str]] = {}
    for entry in glossary_hook.read_glossary():
        for term in (part.strip() for part in entry.split(",")):
            if term not in glossary_hook.NO_HOVER:
                by_term[term] = sorted(glossary_hook.forms(term))
    return list(by_term.items())


@browser_test
def test_every_glossary_term_has_its_hover_definition_at_first_use(nav_page, read_at_1280):
    if nav_page == "design/api.md":
        pytest.skip("generated from docstrings: names, not prose")
    assert len(_terms()) >= 40, "the glossary's terms were read"
    uses = read_at_1280(nav_page)["first_uses"]
    hovers = glossary_hook.hover_terms()
    undefined = [f"{use['term']}: {use['text']!r}" for use in uses if not use["defined"]]
    assert undefined == []
    wrong = [use["term"] for use in uses if use["title"] and use["title"] not in hovers.values()]
    assert wrong == [], "a hover text that is not the glossary's"


@browser_test
def test_the_answer_pages_use_glossary_terms(read_at_1280):
    used = {term for term, _ in _terms()}
    found: set[str] = set()
    for nav_page in ANSWER_PAGES:
        found |= {use["term"] for use in read_at_1280(nav_page)["first_uses"]}
    assert len(found) >= 25, sorted(used - found)


@browser_test
def test_on_a_phone_every_diagram_scrolls_at_a_readable_size_instead_of_shrinking(
    mermaid_sources, page_at
):
    pages = [page for page, sources in mermaid_sources.items() if sources]
    measured = 0
    for nav_page in pages:
        diagrams = page_at(nav_page, PHONE).evaluate(DIAGRAM_SIZES)
        assert len(diagrams) == len(mermaid_sources[nav_page])
        for number, diagram in enumerate(diagrams, start=1):
            where = f"{nav_page}, diagram {number}"
            shown = diagram["smallestFont"] * diagram["drawn"] / diagram["natural"]
            assert diagram["labels"] >= 2, f"{where}: no labels measured"
            assert shown >= SMALLEST_READABLE_PX, f"{where}: text drawn at {shown:.1f} px"
            assert diagram["boxScrolls"], f"{where}: its box does not scroll sideways"
            assert not diagram["pageScrolls"], f"{where}: the page itself scrolls sideways"
            measured += 1
    assert measured == sum(len(sources) for sources in mermaid_sources.values()) >= 3


@browser_test
def test_the_rule_would_catch_a_diagram_shrunk_to_the_phone(page_at):
    page = page_at("answers/architecture.md", PHONE)
    page.add_style_tag(content=".diagram-scroll > .mermaid { min-width: 0 !important; }")
    shrunk = page.evaluate(DIAGRAM_SIZES)
    smallest = min(d["smallestFont"] * d["drawn"] / d["natural"] for d in shrunk)
    assert smallest < SMALLEST_READABLE_PX


@browser_test
def test_at_1280_px_no_code_block_scrolls_sideways(nav_page, read_at_1280):
    assert read_at_1280(nav_page)["scrolling"] == []


def test_words_counts_words_not_punctuation():
    assert words("The answer: 1 — two, three. ¶ …") == 5


def test_code_names_are_found_and_domain_words_are_not():
    names = code_names()
    assert {"EventStore", "wait_for", "handlers.py", "OrderQueries"} <= names
    assert not {"OrderPaid", "PlaceOrder", "fold", "decide"} & names
    text = "PlaceOrder is refused; OrderQueries.wait_for waits (handlers.py, tests/unit/)."
    assert code_names_in(text, names) == [
        "OrderQueries",
        "handlers.py",
        "tests/unit/",
        "wait_for",
    ]
