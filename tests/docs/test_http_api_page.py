"""The HTTP API page: its OpenAPI document is the code's, and it documents what the code answers."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from order_service.entrypoints.http_api import WAIT_TIMEOUT, openapi_document, write_openapi
from order_service.entrypoints.http_problems import MAX_BODY_BYTES, PROBLEM_BASE, PROBLEM_TYPES
from order_service.model.commands import COMMANDS
from order_service.read.queries import MAX_LIMIT
from site_pages import load_hook

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "docs" / "design" / "http-api.md"
DOCUMENT = REPO_ROOT / "docs" / "design" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(document: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_committed_openapi_document_is_the_one_the_code_generates(tmp_path):
    write_openapi(tmp_path / "openapi.json")
    assert DOCUMENT.read_text(encoding="utf-8") == (tmp_path / "openapi.json").read_text(
        encoding="utf-8"
    ), "the API changed: run `make openapi` and review the diff of docs/design/openapi.json"


def test_the_page_lists_every_operation_of_the_document_and_no_other():
    page = load_hook("registry").expand(PAGE.read_text(encoding="utf-8"))  # as the site shows it
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    listed = set()
    for row in rows:
        endpoint = re.match(r"\| `(GET|POST) ([^`?]+)", row)
        if endpoint:
            listed.add((endpoint[1], endpoint[2].replace("{id}", "{order_id}")))
    assert listed == _operations(openapi_document())
    for command in COMMANDS:  # each command's row names the command it sends
        path = command.http_path.replace("{order_id}", "{id}")
        row = f"| `POST {path}` | `{command.__name__}` |"
        assert any(line.startswith(row) for line in rows), command.__name__


def test_every_problem_type_has_its_section_and_its_uri_points_at_it(mkdocs_config, page_html_path):
    assert mkdocs_config["site_url"] + "design/http-api/#" == PROBLEM_BASE
    text = PAGE.read_text(encoding="utf-8")
    built = page_html_path("design/http-api.md").read_text(encoding="utf-8")
    assert PROBLEM_TYPES, "no problem types to check"
    for kind in PROBLEM_TYPES:
        assert f"\n### {kind}\n" in text, f"no section for the problem type {kind}"
        assert f'id="{kind}"' in built, f"the built page has no anchor #{kind}"


def test_every_error_status_the_document_declares_is_in_the_page_table():
    declared = {
        int(status)
        for item in openapi_document()["paths"].values()
        for operation in item.values()
        for status in operation["responses"]
        if int(status) >= 400
    }
    table = {int(s) for s in re.findall(r"^\| (\d{3}) \|", PAGE.read_text("utf-8"), re.M)}
    assert declared, "the document declares no error status"
    assert declared <= table, sorted(declared - table)


def test_the_page_states_the_limits_the_code_uses():
    text = " ".join(PAGE.read_text(encoding="utf-8").split())
    assert f"up to {WAIT_TIMEOUT:g} seconds** (`WAIT_TIMEOUT`" in text
    assert MAX_BODY_BYTES == 16 * 1024 and "over 16 KiB (`MAX_BODY_BYTES`)" in text
    assert f"`limit` (1 to {MAX_LIMIT}, default 50)" in text


def test_the_built_page_renders_every_operation_of_the_document(page_html_path):
    built = page_html_path("design/http-api.md").read_text(encoding="utf-8")
    headings = {
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", heading)).replace("¶", "").split())
        for heading in re.findall(r"<h3 [^>]*>(.*?)</h3>", built, re.S)
    }
    operations = _operations(json.loads(DOCUMENT.read_text(encoding="utf-8")))
    assert {path for method, path in operations if method == "POST"} == {
        command.http_path for command in COMMANDS
    }
    assert {f"{method} {path}" for method, path in operations} <= headings
