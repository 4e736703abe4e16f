"""The site builds strictly, fails on broken links and anchors, and needs nothing from outside.

The strict build itself is the `built_site` fixture (tests/conftest.py). Here: the nav and the built
pages agree, a throwaway project with the same link checks proves that a broken link or anchor
fails the build, and the built HTML loads no script, style, image or frame from another host.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"

# Diagrams the exercise asks for: the architecture as a flowchart and a PlaceOrder/GetOrder sequence
# (R2), the order lifecycle as a state diagram (R5).
REQUIRED_DIAGRAM_KINDS = {"flowchart", "sequenceDiagram", "stateDiagram"}

MERMAID_BUNDLE = "assets/javascripts/mermaid.min.js"


def test_the_strict_build_produces_one_page_per_nav_entry(
    built_site: Path, nav_pages, page_html_path
):
    # Every Markdown page under docs/ is in the nav once: none orphaned, none listed twice.
    written = sorted(page.relative_to(DOCS).as_posix() for page in DOCS.rglob("*.md"))
    assert sorted(nav_pages) == written
    missing = [page for page in nav_pages if not page_html_path(page).is_file()]
    assert missing == []


def test_the_sitemap_lists_exactly_the_nav_pages(
    built_site: Path, nav_pages, page_html_path, mkdocs_config
):
    site_url = mkdocs_config["site_url"]
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.parse(built_site / "sitemap.xml").getroot()
    locations = [loc.text.removeprefix(site_url) for loc in root.iterfind("s:url/s:loc", namespace)]
    folders = [page_html_path(page).parent.relative_to(built_site).as_posix() for page in nav_pages]
    assert sorted(locations) == sorted("" if folder == "." else folder + "/" for folder in folders)


# --- a build that fails on mistakes ---------------------------------------------------------------

BROKEN_PAGES = {
    "a Markdown link to a missing page": ("[the design](nowhere.md)", "nowhere.md"),
    "a Markdown link to a missing anchor": (
        "[the store](other.md#no-such-heading)",
        "no-such-heading",
    ),
    "a raw HTML link to a missing page": ('<a href="../vanished/">gone</a>', "vanished"),
    "a raw HTML link to a missing anchor": ('<a href="#not-here">here</a>', "not-here"),
}


def _throwaway_project(tmp_path: Path, mkdocs_config: dict, index_body: str) -> Path:
    """A two-page project with the real config's strictness, validation and htmlproofer options."""
    htmlproofer = [
        plugin
        for plugin in mkdocs_config["plugins"]
        if isinstance(plugin, dict) and "htmlproofer" in plugin
    ]
    assert len(htmlproofer) == 1, "mkdocs.yml should configure the htmlproofer plugin once"
    config = {
        "site_name": "throwaway",
        "docs_dir": str(tmp_path / "docs"),
        "strict": mkdocs_config["strict"],
        "theme": {"name": "material", "font": False},
        "validation": mkdocs_config["validation"],
        "markdown_extensions": ["attr_list", "md_in_html", {"toc": {"permalink": True}}],
        "plugins": ["search", *htmlproofer],
        "nav": ["index.md", "other.md"],
    }
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(f"# Home\n\n{index_body}\n", encoding="utf-8")
    (tmp_path / "docs" / "other.md").write_text(
        "# Other\n\n## The store\n\nText.\n", encoding="utf-8"
    )
    config_file = tmp_path / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    return config_file


def test_the_throwaway_project_builds_when_its_links_are_sound(
    tmp_path, mkdocs_config, mkdocs_build
):
    sound = '[the store](other.md#the-store) and <a href="#home">home</a>'
    result = mkdocs_build(_throwaway_project(tmp_path, mkdocs_config, sound), tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("mistake", BROKEN_PAGES.values(), ids=BROKEN_PAGES.keys())
def test_the_build_fails_and_names_the_broken_link(tmp_path, mkdocs_config, mkdocs_build, mistake):
    body, target = mistake
    result = mkdocs_build(_throwaway_project(tmp_path, mkdocs_config, body), tmp_path / "site")
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert target in log


# --- nothing from outside the site ----------------------------------------------------------------

# Attributes through which a browser fetches something by itself (a plain <a href> is a reference
# the reader may follow, not a request the page makes).
FETCHING_ATTRIBUTES = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "use": ("href", "xlink:href"),
}
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_EXTERNAL_URL = re.compile(r"(url\(\s*['\"]?|@import\s+['\"])(https?:)?//", re.IGNORECASE)


class _ExternalFetches(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self._in_style = tag == "style"
        # rel=canonical names the page's published address; browsers do not fetch it.
        if tag == "link" and "canonical" in (attributes.get("rel") or "").split():
            return
        for name in FETCHING_ATTRIBUTES.get(tag, ()):
            if EXTERNAL.match(attributes.get(name) or ""):
                self.found.append(f"<{tag} {name}={attributes[name]!r}>")
        if CSS_EXTERNAL_URL.search(attributes.get("style") or ""):
            self.found.append(f"<{tag} style={attributes['style']!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and CSS_EXTERNAL_URL.search(data):
            self.found.append(f"<style> {data.strip()[:120]!r}")


def test_no_built_page_fetches_anything_from_another_host(built_site: Path, nav_pages):
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) > len(nav_pages)  # the nav pages plus 404.html
    found = []
    for page in pages:
        parser = _ExternalFetches()
        parser.feed(page.read_text(encoding="utf-8"))
        found += [f"{page.relative_to(built_site)}: {fetch}" for fetch in parser.found]
    assert found == []


def test_no_web_fonts_are_configured_or_referenced(built_site: Path, mkdocs_config):
    assert mkdocs_config["theme"]["font"] is False
    font_hosts = re.compile(r"fonts\.(googleapis|gstatic)\.com")
    files = [*built_site.rglob("*.html"), *built_site.rglob("*.css")]
    assert [
        str(f.relative_to(built_site)) for f in files if font_hosts.search(f.read_text("utf-8"))
    ] == []


def test_the_site_serves_its_own_pinned_mermaid_bundle(built_site: Path):
    bundle = built_site / MERMAID_BUNDLE
    assert bundle.is_file(), "run `make setup`: it fetches mermaid.min.js from the npm registry"
    makefile = (Path(__file__).parents[2] / "Makefile").read_text(encoding="utf-8")
    version = re.search(r"^MERMAID_VERSION := (11\.\d+\.\d+)$", makefile, re.MULTILINE)
    assert version, "the Makefile pins a mermaid 11.x version"
    assert version.group(1) in bundle.read_text(encoding="utf-8")


def test_every_page_with_a_diagram_loads_mermaid_from_the_site(
    nav_pages, page_html_path, mermaid_sources
):
    with_diagrams = [page for page in nav_pages if mermaid_sources[page]]
    assert with_diagrams, "the site has no Mermaid diagram"
    for page in with_diagrams:
        html_path = page_html_path(page)
        sources = re.findall(r'<script src="([^"]*mermaid\.min\.js)"', html_path.read_text("utf-8"))
        assert len(sources) == 1, (page, sources)
        assert (html_path.parent / sources[0]).resolve() == (
            page_html_path("index.md").parent / MERMAID_BUNDLE
        ).resolve()


def _diagram_kind(source: str) -> str:
    """The diagram's type keyword, past any front matter (`---` ... `---`) and `%%` lines."""
    body = re.sub(r"\A\s*---\n.*?\n---\n", "", source, flags=re.S)
    lines = [line.strip() for line in body.splitlines()]
    first = next(line for line in lines if line and not line.startswith("%%"))
    kind = first.split()[0].removesuffix("-v2")
    return "flowchart" if kind == "graph" else kind


def test_the_site_has_the_diagrams_the_exercise_asks_for(mermaid_sources):
    kinds = {_diagram_kind(source) for sources in mermaid_sources.values() for source in sources}
    assert kinds >= REQUIRED_DIAGRAM_KINDS


def test_every_diagram_has_a_text_alternative(mermaid_sources):
    missing = [
        f"{page} diagram {number}"
        for page, sources in mermaid_sources.items()
        for number, source in enumerate(sources, start=1)
        if not (
            re.search(r"^\s*accTitle\s*:", source, re.M)
            and re.search(r"^\s*accDescr\s*[:{]", source, re.M)
        )
    ]
    assert missing == [], "each Mermaid diagram needs accTitle and accDescr"
