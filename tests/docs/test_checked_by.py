"""Every page's "Checked by" note names tests that exist.

A page ends with a note titled "Checked by" whose code spans name the tests that prove it:
`tests/docs/test_x.py`, `tests/x.py::test_name`, `tests/x.py::TestClass::test_name` or a folder
of tests such as `tests/integration/`. Read from the built HTML, so a note that reaches the page
through a snippet (the home page includes README.md) counts. Code spans after the title that do not
start with `tests/` (a table name, a command) are prose, not test names.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Every nav page has a note except the API reference, which mkdocstrings generates from the code.
PAGES_WITHOUT_NOTE = {"design/api.md"}

ARTICLE = re.compile(r'<article class="md-content__inner md-typeset">(.*?)</article>', re.S)
CODE_SPAN = re.compile(r"<code>(tests/[^<]*)</code>")


def checked_by_names(page_html: str) -> list[str] | None:
    """The test names in the page's last "Checked by" note, or None when it has no such note."""
    article = ARTICLE.search(page_html)
    if article is None or "Checked by" not in article.group(1):
        return None
    note = article.group(1).rsplit("Checked by", 1)[1]
    return [html.unescape(name) for name in CODE_SPAN.findall(note)]


def _defined_names(tree: ast.AST) -> dict[str, ast.AST]:
    return {
        node.name: node
        for node in getattr(tree, "body", [])
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def missing_test(name: str) -> str | None:
    """Why `name` does not name an existing test, or None when it does."""
    path_part, *symbols = name.split("::")
    path = REPO_ROOT / path_part
    if not symbols and path_part.endswith("/"):
        if not path.is_dir():
            return f"{name}: no such folder"
        return None if any(path.rglob("test_*.py")) else f"{name}: no test_*.py in it"
    if not re.fullmatch(r"tests/[\w/.-]*test_\w+\.py", path_part):
        return f"{name}: not a test file path (tests/.../test_*.py)"
    if not path.is_file():
        return f"{name}: no such file"
    scope: ast.AST = ast.parse(path.read_text(encoding="utf-8"))
    for symbol in symbols:
        scope = _defined_names(scope).get(symbol.split("[", 1)[0])
        if scope is None:
            return f"{name}: {symbol} is not defined in {path_part}"
    return None


def test_the_page_names_only_tests_that_exist(nav_page, page_html_path):
    names = checked_by_names(page_html_path(nav_page).read_text(encoding="utf-8"))
    if nav_page in PAGES_WITHOUT_NOTE:
        assert names is None or names, "a Checked by note names at least one test"
        return
    assert names is not None, f"{nav_page} has no 'Checked by' note"
    assert names, f"{nav_page}'s 'Checked by' note names no test as a `tests/...` code span"
    problems = [reason for name in names if (reason := missing_test(name))]
    assert problems == [], "\n".join(problems)


def test_every_nav_page_but_the_api_reference_has_a_checked_by_note(nav_pages, page_html_path):
    assert set(nav_pages) > PAGES_WITHOUT_NOTE, "the exempt pages are nav pages, not the whole nav"
    without_note = [
        page
        for page in nav_pages
        if checked_by_names(page_html_path(page).read_text(encoding="utf-8")) is None
    ]
    assert set(without_note) <= PAGES_WITHOUT_NOTE


def test_the_name_checker_accepts_real_tests_and_rejects_invented_ones():
    this_file = "tests/docs/test_checked_by.py"
    assert missing_test(this_file) is None
    assert missing_test(f"{this_file}::test_the_page_names_only_tests_that_exist[index.md]") is None
    assert missing_test("tests/docs/") is None
    assert "no such file" in missing_test("tests/docs/test_nothing_here.py")
    assert "is not defined" in missing_test(f"{this_file}::test_that_was_never_written")
    assert "no such folder" in missing_test("tests/nowhere/")
    assert "not a test file path" in missing_test("tests/conftest.py")


def test_the_note_reader_takes_only_test_names_after_the_last_title():
    page = (
        '<nav>Checked by <code>tests/nav_noise.py</code></nav><article class="md-content__inner '
        'md-typeset"><p>See <code>tests/before.py</code>; every page has a Checked by note.</p>'
        '<div class="admonition note"><p class="admonition-title">Checked by</p><p>'
        "<code>tests/a/test_b.py::test_c</code> (the <code>order_events</code> table) and "
        "<code>tests/integration/</code></p></div></article>"
    )
    assert checked_by_names(page) == ["tests/a/test_b.py::test_c", "tests/integration/"]
    assert checked_by_names('<article class="md-content__inner md-typeset"></article>') is None
