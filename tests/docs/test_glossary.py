"""The glossary is the one source of every hover definition, and the build puts them on every page.

`hooks/glossary.py` reads docs/glossary.md's definition list; these tests check that it reads every
term the built glossary page shows, that each hover is the first sentence of its definition there,
that the built pages carry no hover text from anywhere else, and that a term broken over two source
lines still gets its hover while code never does. `hooks/diagrams.py` puts every diagram in a box.
"""

from __future__ import annotations

import html
import re

import markdown
import pytest
from site_pages import load_hook

glossary = load_hook("glossary")
diagrams = load_hook("diagrams")

ABBR = re.compile(r'<abbr title="([^"]*)">')
TAG = re.compile(r"<[^>]+>")


def _text(fragment: str) -> str:
    return " ".join(html.unescape(TAG.sub("", fragment)).split())


def test_the_hook_reads_every_term_the_glossary_page_shows(page_html_path):
    built = page_html_path("glossary.md").read_text(encoding="utf-8")
    shown = [_text(term) for term in re.findall(r"<dt>(.*?)</dt>", built, re.S)]
    read = list(glossary.read_glossary())
    assert len(shown) >= 40
    assert read == shown


def test_each_hover_is_the_first_sentence_of_its_definition_on_the_glossary_page(page_html_path):
    built = page_html_path("glossary.md").read_text(encoding="utf-8")
    definitions = [_text(dd) for dd in re.findall(r"<dd>(.*?)</dd>", built, re.S)]
    entries = glossary.read_glossary()
    assert len(definitions) == len(entries)
    for (term, definition), shown in zip(entries.items(), definitions, strict=True):
        hover = glossary.hover_text(definition)
        assert hover.endswith((".", "…")), f"{term}: {hover!r}"
        assert shown.startswith(hover), f"{term}: the page says {shown[:80]!r}"


def test_every_hover_on_the_site_comes_from_the_glossary(built_site, nav_pages, page_html_path):
    hovers = set(glossary.hover_terms().values())
    per_page = {
        page: ABBR.findall(page_html_path(page).read_text(encoding="utf-8")) for page in nav_pages
    }
    stray = {page: set(map(html.unescape, titles)) - hovers for page, titles in per_page.items()}
    assert {page: titles for page, titles in stray.items() if titles} == {}
    answers = [page for page in nav_pages if page.startswith("answers/")]
    assert len(answers) == 6 and all(per_page[page] for page in answers)


def test_every_entry_gets_a_hover_except_the_exercises_everyday_words():
    entries = glossary.read_glossary()
    terms = {part.strip() for entry in entries for part in entry.split(",")}
    hovered = set(glossary.hover_terms())
    assert terms >= glossary.NO_HOVER, "every everyday word is a glossary term"
    missing = {term for term in terms - glossary.NO_HOVER if term not in hovered}
    assert missing == set()
    assert not glossary.NO_HOVER & hovered


def test_a_term_broken_across_lines_gets_its_hover_and_code_does_not():
    extension = glossary.GlossaryExtension({"read model": "A copy shaped for queries."})
    page = markdown.markdown("The read\nmodel is `read model` here.", extensions=[extension])
    assert page == (
        '<p>The <abbr title="A copy shaped for queries.">read\nmodel</abbr> is '
        "<code>read model</code> here.</p>"
    )


def test_forms_cover_case_title_case_and_plural():
    assert glossary.forms("Read model") == {
        "Read model",
        "read model",
        "Read Model",
        "Read models",
        "read models",
        "Read Models",
    }
    assert glossary.forms("DTO") == {"DTO", "DTOs"}
    assert glossary.forms("CQRS") == {"CQRS"}


def test_the_hook_refuses_a_glossary_without_definitions(tmp_path):
    page = tmp_path / "glossary.md"
    page.write_text("# Glossary\n\nNo definition list here.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no definition list found"):
        glossary.read_glossary(page)


def test_every_diagram_on_the_built_site_sits_in_a_scrolling_box(nav_pages, page_html_path):
    pages = [page_html_path(page).read_text(encoding="utf-8") for page in nav_pages]
    diagrams_found = sum(len(re.findall(r'<pre\s+class="mermaid">', page)) for page in pages)
    boxed = sum(page.count('<div class="diagram-scroll"><pre') for page in pages)
    assert diagrams_found >= 3
    assert boxed == diagrams_found


def test_wrapping_puts_each_diagram_in_its_own_box():
    page = '<p>a</p><pre  class="mermaid"><code>x</code></pre><pre class="mermaid">y</pre>'
    assert diagrams.wrap_diagrams(page) == (
        '<p>a</p><div class="diagram-scroll"><pre  class="mermaid"><code>x</code></pre></div>'
        '<div class="diagram-scroll"><pre class="mermaid">y</pre></div>'
    )
