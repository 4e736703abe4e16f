"""WCAG 2.1 AA on every page the site builds, checked by axe-core in Chromium, and by keyboard.

The pages come from the built site (its sitemap, plus Material's 404 page), served under the path of
`site_url` as they would be deployed. Each is checked in the light and the dark scheme at a desktop
(1280 px) and a phone (390 px) width: no serious or critical violation of axe's WCAG 2.0/2.1 A and
AA rules, every overflowing region of the content takes focus, every diagram keeps its accessible
title and description. Every highlight token the stylesheets colour is legible, used or not yet.
Keyboard: Tab reaches every visible control with a focus ring of 3:1 against what surrounds it,
and the palette toggle, menu, search and collapsible sections work by key. axe-core is fetched at
set-up (`make setup`, version pinned in the Makefile), never committed nor served.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from site_server import SiteServer

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ["serious", "critical"]
SCHEMES = {"light": "default", "dark": "slate"}  # system preference -> Material's scheme
WIDTHS = {"desktop": 1280, "phone": 390}
NOT_FOUND_PAGE = "404.html"

# Material has replaced every Mermaid block by an SVG, and the resize observers have run.
SETTLED = """async () => {
  const rendered = () => document.querySelectorAll("pre.mermaid").length === 0 &&
    [...document.querySelectorAll(".mermaid")].every(host => host.shadowRoot?.querySelector("svg"));
  for (let waited = 0; !rendered(); waited += 50) {
    if (waited > 20000) throw new Error("a Mermaid diagram did not render in 20 s");
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}"""

# axe runs in the page on its own while the other pages run theirs (one renderer process each);
# AXE_RESULT then waits for it. Only serious and critical violations are returned.
AXE_START = """({tags, blocking}) => {
  window.a11yAxeResult = axe.run(document, {runOnly: {type: "tag", values: tags},
                                            resultTypes: ["violations"]}).then(result => ({
    version: axe.version,
    rulesRun: result.passes.length + result.violations.length + result.incomplete.length,
    violations: result.violations.filter(rule => blocking.includes(rule.impact)).flatMap(rule =>
      rule.nodes.map(node => ({
        rule: rule.id, impact: rule.impact, target: node.target.join(" "),
        why: node.failureSummary.split("\\n").slice(1, 2).join("").trim(),
      }))),
  }));
}"""
AXE_RESULT = "() => window.a11yAxeResult"

# The page's own facts: its scheme, its language, the content's overflowing regions that Tab
# cannot reach, and each diagram's accessible title and description.
PAGE_FACTS = """() => {
  const scrolls = value => value === "auto" || value === "scroll";
  const unreachable = [...document.querySelectorAll(".md-content *")].filter(element => {
    const style = getComputedStyle(element);
    const overflows =
      (scrolls(style.overflowX) && element.scrollWidth > element.clientWidth + 1) ||
      (scrolls(style.overflowY) && element.scrollHeight > element.clientHeight + 1);
    return overflows && element.tabIndex < 0 && element.checkVisibility();
  }).map(element => element.tagName.toLowerCase() + "." + [...element.classList].join("."));
  const diagrams = [...document.querySelectorAll(".mermaid")].map(host => {
    const svg = host.shadowRoot.querySelector("svg");
    const text = attribute => (svg.getAttribute(attribute) || "").split(/\\s+/).filter(Boolean)
      .map(id => svg.querySelector(`[id="${id}"]`)?.textContent.trim() ?? "").join(" ").trim();
    return {title: text("aria-labelledby"), description: text("aria-describedby")};
  });
  return {scheme: document.body.dataset.mdColorScheme, lang: document.documentElement.lang,
          unreachable, diagrams};
}"""


def _axe_version() -> str:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^AXE_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert match, "Makefile: no `AXE_VERSION := x.y.z` line"
    return match.group(1)


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's axe.min.js as `make setup` fetched it (the version the Makefile pins)."""
    path = REPO_ROOT / ".cache" / f"axe-core-{_axe_version()}.min.js"
    if not path.exists():
        reason = f"{path.relative_to(REPO_ROOT)} is missing: run `make setup`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI the accessibility check must run", pytrace=False)
        pytest.skip(reason)
    return path.read_text(encoding="utf-8")


class _UnderSitePath(SimpleHTTPRequestHandler):
    prefix = "/"

    def translate_path(self, path: str) -> str:
        inside = path.startswith(self.prefix)
        return super().translate_path("/" + path.removeprefix(self.prefix) if inside else "/-")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def deployed_url(built_site: Path, mkdocs_config: dict) -> Iterator[str]:
    """The built site on 127.0.0.1 under site_url's path, where its absolute links (the 404 page
    uses only those) resolve: a base URL ending in '/'."""
    prefix = urlsplit(mkdocs_config["site_url"]).path.rstrip("/") + "/"
    handler = type("Handler", (_UnderSitePath,), {"prefix": prefix})
    server = SiteServer(("127.0.0.1", 0), functools.partial(handler, directory=str(built_site)))
    thread = threading.Thread(target=server.serve_forever, name="deployed-site", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{prefix}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def built_pages(built_site: Path, mkdocs_config: dict) -> list[str]:
    """Every page the build wrote, as a path under the site's root: the sitemap's, then 404.html."""
    site_url = mkdocs_config["site_url"]
    sitemap = (built_site / "sitemap.xml").read_text(encoding="utf-8")
    pages = [loc.removeprefix(site_url) for loc in re.findall(r"<loc>([^<]+)</loc>", sitemap)]
    return [*pages, NOT_FOUND_PAGE]


def test_the_checked_pages_are_every_page_the_build_wrote(
    built_pages, built_site: Path, nav_pages: list[str]
):
    written = {
        path.relative_to(built_site).as_posix().removesuffix("index.html")
        for path in built_site.rglob("*.html")
        if not path.relative_to(built_site).as_posix().startswith("assets/")
    }
    assert sorted(built_pages) == sorted(written)
    nav_urls = {page.removesuffix(".md").removesuffix("index") for page in nav_pages}
    nav_urls = {url if url == "" or url.endswith("/") else f"{url}/" for url in nav_urls}
    assert nav_urls <= set(built_pages), "a nav page was not found in the built site"


def test_axe_core_is_a_test_tool_the_site_never_ships(built_site: Path, axe_script: str):
    banner = axe_script[:200].splitlines()[0]  # "/*! axe v4.14.1"
    assert banner == f"/*! axe v{_axe_version()}"
    shipped = [
        path.relative_to(built_site).as_posix()
        for path in built_site.rglob("*.js")
        if banner in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert shipped == []


def _visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    page.evaluate(SETTLED)


@pytest.mark.slow
def test_no_built_page_has_a_serious_wcag_violation_in_either_scheme_at_either_width(
    open_watched_page, deployed_url, built_pages, axe_script
):
    configurations = [(scheme, width) for scheme in SCHEMES for width in WIDTHS]
    pages = {}
    for scheme, width in configurations:
        page, watch = open_watched_page(width=WIDTHS[width], color_scheme=scheme)
        page.context.add_init_script(axe_script)
        pages[scheme, width] = page, watch
    problems: list[str] = []
    for path in built_pages:
        for page, _ in pages.values():
            _visit(page, deployed_url + path)
            page.evaluate(AXE_START, {"tags": WCAG_TAGS, "blocking": BLOCKING})
        for (scheme, width), (page, _) in pages.items():
            where = f"/{path} [{scheme}, {WIDTHS[width]} px]"
            result = page.evaluate(AXE_RESULT)
            assert result["version"] == _axe_version() and result["rulesRun"] > 0, where
            problems += [
                f"{where}: {v['rule']} ({v['impact']}) at {v['target']}: {v['why']}"
                for v in result["violations"]
            ]
            problems += _page_problems(page, where, SCHEMES[scheme])

    assert problems == [], f"{len(problems)} accessibility problems:\n" + "\n".join(problems)
    for (scheme, width), (_, watch) in pages.items():
        assert (watch.outside_requests, watch.page_errors) == ([], []), (scheme, width)


# One span per token class the stylesheets colour inside code (read from the live CSS rules), in
# a plain line and in a highlighted one (`hl_lines`), appended to the page's content for axe.
EVERY_TOKEN = """() => {
  const classes = new Set();
  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      if (!rule.selectorText || !rule.style?.color) continue;
      for (const match of rule.selectorText.matchAll(/\\.highlight (?:code )?\\.([a-z0-9]+)\\b/g)) {
        if (match[1] !== "hll") classes.add(match[1]);
      }
    }
  }
  const line = [...classes].map(name => `<span class="${name}">${name}_token</span>`).join(" ");
  const block = document.createElement("div");
  block.id = "every-token";
  block.className = "highlight";
  block.innerHTML = `<pre><code>${line}\n<span class="hll">${line}</span></code></pre>`;
  document.querySelector("article.md-content__inner").append(block);
  return [...classes];
}"""


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_every_highlight_token_is_legible_on_code_and_on_a_highlighted_line(
    scheme, open_watched_page, deployed_url, axe_script
):
    page, _ = open_watched_page(color_scheme=scheme)
    page.context.add_init_script(axe_script)
    _visit(page, deployed_url)
    classes = page.evaluate(EVERY_TOKEN)
    assert {"c1", "k", "s", "o", "go"} <= set(classes), "token classes not read from the CSS"
    violations = page.evaluate(
        """async () => (await axe.run("#every-token", {runOnly: ["color-contrast"]}))
             .violations.flatMap(rule => rule.nodes.map(node =>
               node.target.join(" ") + ": " + node.failureSummary.split("\\n")[1].trim()))"""
    )
    assert violations == [], f"[{scheme}] illegible tokens:\n" + "\n".join(violations)


def _page_problems(page: Page, where: str, scheme: str) -> list[str]:
    facts = page.evaluate(PAGE_FACTS)
    assert facts["scheme"] == scheme, f"{where}: the page is in the {facts['scheme']} scheme"
    problems = [f"{where}: Tab cannot reach {region}" for region in facts["unreachable"]]
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*", facts["lang"]):
        problems.append(f"{where}: <html lang> is {facts['lang']!r}")
    for number, diagram in enumerate(facts["diagrams"], start=1):
        if not (diagram["title"] and diagram["description"]):
            problems.append(f"{where}: diagram {number} lacks a title or a description")
    return problems


# --- keyboard ------------------------------------------------------------------------------------

# Every element Tab should stop at, each given a number; radio groups stop once (the checked one).
TAB_STOPS = """() => {
  const stops = [...document.querySelectorAll(
    "a[href], button, input, select, textarea, summary, [tabindex]")].filter(element =>
      element.tabIndex >= 0 && !element.disabled &&
      !(element.type === "radio" && !element.checked) &&
      (element.matches("input.md-option") ||
       (element.checkVisibility({visibilityProperty: true, opacityProperty: true}) &&
        element.getClientRects().length > 0)));
  stops.forEach((element, index) => element.dataset.a11yStop = index);
  return stops.map(element => element.outerHTML.slice(0, 120));
}"""

# The focused element: which stop it is, and whether its ring shows once transitions settle: an
# outline of at least 1 px whose colour contrasts 3:1 with what is painted where it is drawn, on
# each side (the weakest side counts). A hidden input (the palette toggle) is ringed through its
# visible label.
FOCUS_RING = """async kinds => {
  kinds = kinds || {};
  const focused = document.activeElement;
  if (!focused || focused === document.body) return null;
  const shown = focused.matches("input.md-option") ? focused.nextElementSibling : focused;
  await Promise.all(document.getAnimations().map(animation => animation.finished.catch(() => {})));
  const rgba = text => {
    const [r, g, b, a = 1] = text.match(/[\\d.]+/g).map(Number);
    return [r, g, b, a];
  };
  const over = (top, below) =>
    top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3])).concat(1);
  const luminance = color => color.slice(0, 3).map(c => c / 255)
    .map(c => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const contrast = (x, y) => {
    const [light, dark] = [luminance(x), luminance(y)].sort((p, q) => q - p);
    return (light + 0.05) / (dark + 0.05);
  };
  const style = getComputedStyle(shown);
  let box = shown.getBoundingClientRect();
  if (box.top < 0 && box.bottom > innerHeight) {
    // Taller than the screen (a long table on a phone): no side of its ring is in view, so bring
    // its top edge in, as a reader scrolling to it would see it.
    window.scrollBy(0, box.top - innerHeight / 4);
    box = shown.getBoundingClientRect();
  }
  const gap = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth) / 2;
  const [middleX, middleY] = [box.left + box.width / 2, box.top + box.height / 2];
  const sides = [[box.left - gap, middleY], [box.right + gap, middleY],
                 [middleX, box.top - gap], [middleX, box.bottom + gap]]
    .filter(([x, y]) => x >= 0 && y >= 0 && x < innerWidth && y < innerHeight);
  const ratios = sides.map(([x, y]) => {
    // An inset ring (negative offset) is painted on the element's own background.
    const painted = document.elementsFromPoint(x, y)
      .filter(node => !shown.contains(node) || (node === shown && gap < 0));
    const background = painted.reduceRight(
      (below, node) => over(rgba(getComputedStyle(node).backgroundColor), below),
      [255, 255, 255, 1]);
    return contrast(over(rgba(style.outlineColor), background), background);
  });
  return {
    stop: focused.dataset.a11yStop ?? null,
    what: focused.outerHTML.slice(0, 120),
    kinds: Object.keys(kinds).filter(kind => focused.matches(kinds[kind])),
    ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 1,
    contrast: ratios.length ? Math.min(...ratios) : 0,
    onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0 &&
      box.top < innerHeight && box.left < innerWidth,
  };
}"""


def _tab_through(page: Page, kinds: dict[str, str], limit: int = 400) -> list[dict]:
    """Press Tab from the top of the page until focus leaves it; each stop's FOCUS_RING facts,
    with the names of the `kinds` (name: CSS selector) it matches."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUS_RING, kinds)
        if stop is None:
            return stops
        stops.append(stop)
    raise AssertionError(f"focus did not leave the page after {limit} Tab presses")


@pytest.mark.parametrize(("scheme", "width_name"), [("light", "desktop"), ("dark", "phone")])
def test_tab_reaches_every_control_of_an_answer_page_with_a_visible_ring(
    scheme, width_name, open_watched_page, deployed_url
):
    # R5: header controls, code blocks with their copy buttons and, on a phone, the table of
    # states in a region that scrolls sideways.
    page, _ = open_watched_page(width=WIDTHS[width_name], color_scheme=scheme)
    _visit(page, deployed_url + "answers/order-1001-events/")
    kinds = {
        "the skip link": ".md-skip",
        "the palette toggle": "input[name='__palette']",
        "search": ".md-search__input" if width_name == "desktop" else "[for='__search']",
        "a copy button": ".md-code__button",
    }
    if width_name == "phone":  # only there is a table too wide to show
        kinds["the menu"] = "[for='__drawer']"
        kinds["a scrolling region"] = ".md-content [data-a11y-region]"
    expected = page.evaluate(TAB_STOPS)
    stops = _tab_through(page, kinds)

    reached = {stop["stop"] for stop in stops}
    missed = [html for index, html in enumerate(expected) if str(index) not in reached]
    assert missed == [], "Tab never reaches:\n" + "\n".join(missed)
    unseen = [
        f"{stop['what']} (ring: {stop['ring']}, contrast {stop['contrast']:.2f}:1, "
        f"on screen: {stop['onScreen']})"
        for stop in stops
        if not (stop["ring"] and stop["contrast"] >= 3 and stop["onScreen"])
    ]
    assert unseen == [], "focus is not visible on:\n" + "\n".join(unseen)
    found = {kind for stop in stops for kind in stop["kinds"]}
    assert sorted(set(kinds) - found) == [], "Tab never reaches these"


def _tab_to(page: Page, selector: str, limit: int = 50, key: str = "Tab") -> None:
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("selector => document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"Tab did not reach {selector} in {limit} presses")


def test_the_palette_toggle_works_by_keyboard(open_watched_page, deployed_url):
    page, _ = open_watched_page()
    _visit(page, deployed_url)
    body = page.locator("body")
    _tab_to(page, "input[name='__palette']")
    page.keyboard.press("Enter")
    expect(body).to_have_attribute("data-md-color-scheme", "slate")
    page.keyboard.press("Enter")
    expect(body).to_have_attribute("data-md-color-scheme", "default")


def test_on_a_phone_the_menu_and_search_open_and_close_by_keyboard(open_watched_page, deployed_url):
    page, watch = open_watched_page(width=WIDTHS["phone"])
    _visit(page, deployed_url)

    _tab_to(page, ".md-header__button[for='__drawer']")
    page.keyboard.press("Enter")
    expect(page.locator("#__drawer")).to_be_checked()
    _tab_to(page, ".md-sidebar--primary a[href]")
    expect(page.locator(".md-sidebar--primary a[href]:focus")).to_be_in_viewport()
    _tab_to(page, ".md-header__button[for='__drawer']", key="Shift+Tab")  # back to the menu button
    page.keyboard.press("Enter")
    expect(page.locator("#__drawer")).not_to_be_checked()
    page.keyboard.press("Enter")  # open it again, go in, and leave it with Escape
    _tab_to(page, ".md-sidebar--primary a[href]")
    page.keyboard.press("Escape")
    expect(page.locator("#__drawer")).not_to_be_checked()
    expect(page.locator(".md-header__button[for='__drawer']")).to_be_focused()

    _tab_to(page, ".md-header__button[for='__search']")
    page.keyboard.press("Enter")
    expect(page.locator("#__search")).to_be_checked()
    expect(page.locator(".md-search__input")).to_be_focused()
    page.keyboard.type("snapshot", delay=30)
    expect(page.locator(".md-search-result__item").first).to_be_visible(timeout=10_000)
    page.keyboard.press("Escape")
    expect(page.locator("#__search")).not_to_be_checked()
    expect(page.locator(".md-header__button[for='__search']")).to_be_focused()
    assert (watch.outside_requests, watch.page_errors) == ([], [])


def test_a_collapsible_section_opens_and_closes_by_keyboard(
    open_watched_page, deployed_url, built_pages, built_site
):
    def html(path: str) -> str:
        file = built_site / path if path.endswith(".html") else built_site / path / "index.html"
        return file.read_text(encoding="utf-8")

    with_details = [path for path in built_pages if "<details" in html(path)]
    assert with_details, "no built page has a collapsible section to try"
    page, _ = open_watched_page()
    _visit(page, deployed_url + with_details[0])
    summary = page.locator("details > summary").first
    summary.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # arrives by keyboard, so the ring shows
    expect(summary).to_be_focused()
    ring = page.evaluate(FOCUS_RING)
    assert ring["ring"] and ring["contrast"] >= 3, ring
    opened = page.locator("details").first
    was_open = opened.evaluate("details => details.open")
    page.keyboard.press("Enter")
    assert opened.evaluate("details => details.open") is not was_open
    page.keyboard.press("Enter")
    assert opened.evaluate("details => details.open") is was_open
