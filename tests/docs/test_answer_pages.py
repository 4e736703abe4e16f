"""Each answer page has the shape issue 9 asks for, read from the built HTML.

One title; the question quoted first; the answer next, before any "Going deeper" box; every depth
box closed; and one closed "Checked by" box last, holding the code and test names.
"""

from __future__ import annotations

import re

import pytest
from site_pages import ANSWER_PAGES

ARTICLE = re.compile(r'<article class="md-content__inner md-typeset">(.*?)</article>', re.S)
BOX = re.compile(r"<details(?P<attrs>[^>]*)>\s*<summary>(?P<title>.*?)</summary>", re.S)


def _article(page_html_path, page: str) -> str:
    match = ARTICLE.search(page_html_path(page).read_text(encoding="utf-8"))
    assert match, f"{page}: no article"
    return match.group(1)


@pytest.mark.parametrize("page", ANSWER_PAGES)
def test_an_answer_page_is_question_answer_then_closed_depth_then_checked_by(page_html_path, page):
    article = _article(page_html_path, page)
    assert article.count("<h1") == 1, f"{page}: a line read as a second title"
    question = article.find("<blockquote>")
    first_box = article.find("<details")
    answer_heading = article.find("<h2")
    assert 0 < question < answer_heading < first_box, f"{page}: question, answer, then depth"
    boxes = list(BOX.finditer(article))
    assert len(boxes) >= 3, f"{page}: the depth is not in boxes"
    assert all("open" not in box["attrs"] for box in boxes), f"{page}: a box starts open"
    titles = [re.sub(r"<[^>]+>", "", box["title"]) for box in boxes]
    assert all(title.startswith("Going deeper: ") for title in titles[:-1]), titles
    assert titles[-1].startswith("Checked by"), f"{page}: the last box is {titles[-1]!r}"
    assert [title for title in titles if title.startswith("Checked by")] == [titles[-1]]
    after_last_box = article[boxes[-1].start() :]
    assert after_last_box.count("<details") == 1 and "tests/" in after_last_box
