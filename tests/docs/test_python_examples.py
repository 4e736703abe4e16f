"""Every ```python block on the site's pages runs, and prints what the page says it prints.

Expected output follows the call as `#>` lines (pytest-examples' convention):

    print(order.status)
    #> paid

`pytest tests/docs/test_python_examples.py --update-examples` rewrites the `#>` lines from a run.
A block that only includes a source file (`--8<-- "design/..."`) shows code tested elsewhere and is
not run here. The collector is checked on a page of known content, and on the pages that must
keep their examples.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"

# Pages whose answer is shown by a runnable example: they must keep having one.
MUST_HAVE_EXAMPLES = {
    "docs/answers/order-1001-events.md",
    "docs/design/run.md",
    "docs/design/decider.md",
}


def site_pages() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def python_examples(*pages: Path) -> list[CodeExample]:
    """The runnable Python blocks of the pages: ```python or ```py, not a bare snippet include."""
    return [
        example
        for example in find_examples(*pages)
        if example.prefix.split()[0].strip("{.") in {"python", "py"}
        and "--8<--" not in example.source
    ]


EXAMPLES = python_examples(*site_pages())


def test_the_pages_that_answer_with_an_example_still_have_one():
    found = {example.path.relative_to(REPO_ROOT).as_posix() for example in EXAMPLES}
    pages = {page.relative_to(REPO_ROOT).as_posix() for page in site_pages()}
    assert pages >= MUST_HAVE_EXAMPLES
    assert found >= MUST_HAVE_EXAMPLES, sorted(MUST_HAVE_EXAMPLES - found)


def test_the_collector_finds_python_blocks_and_skips_other_languages_and_includes(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n"
        "```python\nprint(1 + 1)\n#> 2\n```\n\n"
        '```py title="two.py"\nx = 2\n```\n\n'
        '```json\n{"a": 1}\n```\n\n'
        '```python\n--8<-- "design/order_service/model/fold.py"\n```\n\n'
        '=== "Tab"\n\n    ```python\n    y = 3\n    ```\n',
        encoding="utf-8",
    )
    examples = python_examples(page)
    assert [example.source for example in examples] == [
        "print(1 + 1)\n#> 2\n",
        "x = 2\n",
        "y = 3\n",
    ]


def test_an_example_passes_when_it_prints_what_it_says(tmp_path, eval_example: EvalExample):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1 + 1)\n#> 2\n```\n", encoding="utf-8")
    [example] = python_examples(page)
    eval_example.run_print_check(example)


def test_an_example_fails_when_its_expected_output_is_wrong(tmp_path, eval_example: EvalExample):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1 + 1)\n#> 3\n```\n", encoding="utf-8")
    [example] = python_examples(page)
    with pytest.raises(pytest.fail.Exception, match="Print output changed"):
        eval_example.run_print_check(example)


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{e.path.relative_to(REPO_ROOT)}:{e.start_line}" for e in EXAMPLES]
)
def test_the_example_runs_and_prints_what_the_page_says(
    example: CodeExample, eval_example: EvalExample
):
    eval_example.set_config(line_length=100)
    eval_example.run_print_check(example)
