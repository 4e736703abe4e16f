"""The playground page in Chromium: the design's own code, run in the browser, says what the CLI
says.

One page is kept for the module, so Pyodide loads once (the time to the first result is printed).
Each run waits for the result region's run counter. Parity: `orders derive` runs in a subprocess
on the same input as the page; the state it prints, or its refusal, and its history lint must be
the page's, word for word.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from order_service.contract.validation import validate_event
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
R5 = REPO_ROOT / "docs" / "answers" / "order-1001-events.md"
INVALID_FIXTURES = sorted((REPO_ROOT / "schemas" / "fixtures" / "invalid").glob("*.json"))
RUNTIME = re.compile(r"/assets/vendor/(pyodide|ajv)/")


def marked_blocks(page: Path) -> list:
    """The marked blocks of a page, read by tests/docs/marked_blocks.py as the page's tests do."""
    spec = importlib.util.spec_from_file_location(
        "marked_blocks", REPO_ROOT / "tests" / "docs" / "marked_blocks.py"
    )
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "marked_blocks"):
        spec.loader.exec_module(module)
    return module.marked_blocks(page)


def orders_derive(tmp_path: Path, events_text: str, snapshot: dict | None = None):
    """`orders derive` on the text the page's editor holds (and the snapshot), as a file."""
    events_file = tmp_path / "events.json"
    events_file.write_text(events_text, encoding="utf-8")
    command = [sys.executable, "-m", "order_service.entrypoints.cli", "derive", str(events_file)]
    if snapshot is not None:
        snapshot_file = tmp_path / "snapshot.json"
        snapshot_file.write_text(json.dumps(snapshot), encoding="utf-8")
        command += ["--snapshot", str(snapshot_file)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def cli_refusal(cli: subprocess.CompletedProcess, tmp_path: Path) -> str:
    """What `orders derive` printed on standard error, without its file name (the page has none)."""
    prefix = f"{tmp_path / 'events.json'}: "
    return "\n".join(line.removeprefix(prefix) for line in cli.stderr.splitlines())


def run(page: Page, action=None) -> None:
    """Click Run (or do `action`) and wait until the page has shown that run's result."""
    runs = int(page.get_attribute("#playground-result", "data-runs") or 0)
    if action is None:
        page.click("#playground-run")
    else:
        action()
    page.wait_for_selector(f"#playground-result[data-runs='{runs + 1}']", timeout=120_000)


def set_editor(page: Page, events_text: str) -> None:
    """The events editor holds `events_text`; no snapshot (Reset clears it)."""
    page.click("#playground-reset")
    page.fill("#playground-events", events_text)


def step_rows(page: Page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#playground-steps tbody tr",
        "rows => rows.map(row => [...row.cells].map(cell => cell.textContent.trim()))",
    )


@pytest.fixture(scope="module")
def playground(page_opener, site_url, request):
    context, page, watch = page_opener()
    page.goto(f"{site_url}playground/")
    expect(page.locator("#playground-run")).to_be_enabled()
    runtime_before_run = [url for url in watch.requested if RUNTIME.search(url)]
    started = time.perf_counter()
    run(page)
    seconds = time.perf_counter() - started
    # Measured, not asserted: printed past pytest's capture so every run shows it.
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nplayground: time to first result {seconds:.1f} s (Pyodide loaded on the click)")
    first = {
        "rows": step_rows(page),
        "state": page.text_content("#playground-state"),
        "runtime_before_run": runtime_before_run,
    }
    yield page, watch, first
    context.close()


def test_the_runtime_loads_on_the_first_run_not_with_the_page(playground):
    _page, watch, first = playground
    assert first["runtime_before_run"] == []
    assert any(RUNTIME.search(url) for url in watch.requested)


def test_the_prefilled_events_give_the_r5_step_table_and_the_clis_state(playground, tmp_path):
    _page, _watch, first = playground
    (table,) = [block for block in marked_blocks(R5) if block.kind == "step-table"]
    expected = [[cell.strip("`") for cell in row] for row in table.rows]
    assert len(expected) == 4
    assert first["rows"] == expected
    story = [block.json() for block in marked_blocks(R5) if block.kind == "event"]
    cli = orders_derive(tmp_path, json.dumps(story))
    assert cli.returncode == 0, cli.stderr
    assert first["state"] == cli.stdout.rstrip("\n")


def test_each_what_if_gives_what_orders_derive_gives(playground, built_site, tmp_path):
    page, _watch, _ = playground
    data = json.loads((built_site / "assets/playground/playground.json").read_text("utf-8"))
    checked, linted = [], []
    for variant in data["variants"]:
        run(page, lambda v=variant: page.click(f"button[data-variant='{v['id']}']"))
        expect(page.locator("#playground-lesson")).to_have_text(variant["lesson"])
        editor_text = page.input_value("#playground-events")
        assert json.loads(editor_text) == variant["events"]
        cli = orders_derive(tmp_path, editor_text, variant.get("snapshot"))
        if cli.returncode == 0:
            assert page.locator("#playground-refusal").count() == 0, variant["id"]
            assert page.text_content("#playground-state") == cli.stdout.rstrip("\n"), variant["id"]
            lint = page.locator("#playground-lint")
            shown = lint.text_content() if lint.count() else ""
            assert shown == cli_refusal(cli, tmp_path), variant["id"]  # the lint, on stderr
            linted.append(bool(shown))
        else:
            assert cli.returncode == 1, cli.stderr
            refusal = page.text_content("#playground-refusal")
            assert refusal == cli_refusal(cli, tmp_path), variant["id"]
        checked.append((variant["id"], cli.returncode))
    assert len(checked) == len(data["variants"]) >= 6
    assert {status for _, status in checked} == {0, 1}, "both states and refusals are compared"
    assert set(linted) == {False, True}, "states with and without a lint are compared"


def test_editing_the_paid_amount_gives_the_state_and_lint_the_command_line_gives(
    playground, tmp_path
):
    page, _watch, _ = playground
    page.click("#playground-reset")
    text = page.input_value("#playground-events")
    assert text.count('"amount": "129.97"') == 1
    edited = text.replace('"amount": "129.97"', '"amount": "129.90"')
    page.fill("#playground-events", edited)
    run(page)
    cli = orders_derive(tmp_path, edited)
    assert cli.returncode == 0
    assert page.text_content("#playground-state") == cli.stdout.rstrip("\n")
    lint = page.text_content("#playground-lint")
    assert lint == cli_refusal(cli, tmp_path)
    assert "/data/amount/amount: paid 129.90 EUR, the total is 129.97 EUR" in lint


def test_broken_json_gives_one_line_saying_where_as_the_cli_does(playground, tmp_path):
    page, _watch, _ = playground
    page.click("#playground-reset")
    broken = page.input_value("#playground-events").replace('"version": 2,', '"version": 2', 1)
    set_editor(page, broken)
    run(page)
    message = page.text_content("#playground-error")
    cli = orders_derive(tmp_path, broken)
    first_line = cli.stderr.splitlines()[0]
    assert message == first_line.replace(str(tmp_path / "events.json"), "events")
    assert re.fullmatch(
        r"events:\d+: malformed JSON: Expecting ',' delimiter \(column \d+\)", message
    )
    assert "Traceback" not in page.text_content("#playground-result")


def _floats_for_integers(story: list[dict]) -> dict[str, str]:
    """#1001's events with a whole number written as a float where the contract wants an int."""
    placed, paid = json.dumps(story[0]), json.dumps(story[1])
    cases = {
        "version-2.0": paid.replace('"version": 2', '"version": 2.0'),
        "schema_version-2.0": placed.replace('"schema_version": 2', '"schema_version": 2.0'),
        "quantity-1.0": placed.replace('"quantity": 1', '"quantity": 1.0'),
    }
    assert not {placed, paid} & set(cases.values()), "each case changes its event"
    return cases


def test_every_invalid_fixture_gets_the_pointers_orders_validate_gives(playground, built_site):
    page, _watch, _ = playground
    assert len(INVALID_FIXTURES) >= 10
    data = json.loads((built_site / "assets/playground/playground.json").read_text("utf-8"))
    cases = {path.name: path.read_text(encoding="utf-8") for path in INVALID_FIXTURES}
    cases.update(_floats_for_integers(data["events"]))
    checked = 0
    for name, text in cases.items():
        payload = json.loads(text)
        set_editor(page, f"[{text}]")
        run(page)
        lines = page.eval_on_selector_all(
            "#playground-problems li", "items => items.map(item => item.textContent)"
        )
        label = payload.get("event_id") if isinstance(payload.get("event_id"), str) else "0"
        pointers = {line.split(": ")[1] for line in lines}
        assert all(line.startswith(f"event {label}: ") for line in lines), name
        expected = {problem.pointer or "/" for problem in validate_event(payload)}
        assert expected, f"{name} is invalid for orders validate"
        assert pointers == expected, name
        checked += 1
    assert checked == len(INVALID_FIXTURES) + 3


def test_the_editor_and_buttons_work_from_the_keyboard(playground):
    page, _watch, _ = playground
    page.click("#playground-reset")
    page.focus("#playground-events")
    run(page, lambda: page.keyboard.press("Control+Enter"))
    assert len(step_rows(page)) == 4
    page.keyboard.press("Tab")  # Tab leaves the editor: it is not a keyboard trap
    assert page.evaluate("document.activeElement.id") != "playground-events"
    page.focus("#playground-run")
    run(page, lambda: page.keyboard.press("Enter"))
    page.focus("button[data-variant='ship-before-paying']")
    run(page, lambda: page.keyboard.press("Space"))
    assert "only a paid order ships" in page.text_content("#playground-lint")


def test_results_are_announced_in_a_live_region(playground):
    page, _watch, _ = playground
    result = page.locator("#playground-result")
    assert result.get_attribute("aria-live") == "polite"
    assert result.get_attribute("aria-busy") == "false"
    assert page.get_attribute("#playground-status", "role") == "status"
    expect(page.locator("#playground-status")).to_contain_text("Done in")


def test_no_console_error_and_no_request_outside_the_site(playground):
    _page, watch, _ = playground
    assert watch.console_errors == []
    assert watch.page_errors == []
    assert watch.outside_requests == []


def test_the_page_is_readable_on_a_390_px_phone(page_opener, site_url):
    context, page, watch = page_opener(viewport={"width": 390, "height": 844})
    try:
        page.goto(f"{site_url}playground/")
        expect(page.locator("#playground-run")).to_be_enabled()
        run(page)
        assert len(step_rows(page)) == 4
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#playground-events").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert watch.console_errors == [] and watch.outside_requests == []
    finally:
        context.close()


def test_without_webassembly_the_page_says_so_and_offers_no_run(page_opener, site_url):
    context, page, watch = page_opener()
    try:
        context.add_init_script("delete window.WebAssembly;")
        page.goto(f"{site_url}playground/")
        expect(page.locator("#playground-status")).to_contain_text("cannot run WebAssembly")
        expect(page.locator("#playground-run")).to_be_disabled()
        assert watch.console_errors == [] and watch.page_errors == []
    finally:
        context.close()


def test_other_pages_do_not_load_the_runtime(page_opener, site_url):
    context, page, watch = page_opener()
    try:
        for path in ("", "answers/order-1001-events/"):
            page.goto(f"{site_url}{path}")
            page.wait_for_load_state("networkidle")
        assert [url for url in watch.requested if RUNTIME.search(url)] == []
        assert len(watch.requested) > 2
    finally:
        context.close()


def test_the_test_server_sends_webassembly_as_application_wasm(page_opener, site_url):
    context, page, _watch = page_opener()
    try:
        response = page.request.get(f"{site_url}assets/vendor/pyodide/pyodide.asm.wasm")
        assert response.ok
        assert response.headers["content-type"] == "application/wasm"
    finally:
        context.close()
