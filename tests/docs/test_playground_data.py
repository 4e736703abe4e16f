"""What the playground page loads, as the build writes it: #1001's events from the R5 page, the
"what if" variants made from them, and the project's own modules and schema, copied unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import mimetypes
import subprocess
import sys
from pathlib import Path

import pytest
from marked_blocks import marked_blocks
from order_service.contract.validation import validate_event
from order_service.model.derivation import derive
from order_service.model.fold import VersionOutOfSequence, fold
from order_service.model.snapshots import Snapshot
from order_service.model.upcasting import upcast

REPO_ROOT = Path(__file__).resolve().parents[2]
R5 = REPO_ROOT / "docs" / "answers" / "order-1001-events.md"


def _hook():
    spec = importlib.util.spec_from_file_location(
        "playground_hook", REPO_ROOT / "hooks" / "playground.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def playground_dir(built_site: Path) -> Path:
    return built_site / "assets" / "playground"


@pytest.fixture(scope="module")
def data(playground_dir: Path) -> dict:
    return json.loads((playground_dir / "playground.json").read_text(encoding="utf-8"))


def story() -> list[dict]:
    return [block.json() for block in marked_blocks(R5) if block.kind == "event"]


def test_the_editors_events_are_the_r5_pages_event_blocks(data):
    assert len(story()) == 4
    assert data["events"] == story()


def test_every_variant_is_schema_valid_so_what_refuses_it_is_the_fold_or_the_history_check(data):
    checked = 0
    for variant in data["variants"]:
        for event in variant["events"]:
            assert validate_event(event) == [], (variant["id"], event["event_id"])
            checked += 1
    assert checked >= len(data["variants"])


def _variant(data: dict, variant_id: str) -> dict:
    (found,) = [v for v in data["variants"] if v["id"] == variant_id]
    return found


def test_the_variants_are_the_six_the_page_promises(data):
    assert [v["id"] for v in data["variants"]] == [
        "one-cent-short",
        "ship-before-paying",
        "line-after-payment",
        "delivered-twice",
        "upcast-v1",
        "resume-from-snapshot",
    ]
    for variant in data["variants"]:
        assert variant["label"] and variant["lesson"], variant["id"]


def test_one_cent_short_changes_only_the_paid_amount_and_breaks_the_total_rule(data):
    events = _variant(data, "one-cent-short")["events"]
    placed, paid, shipped, _ = story()
    assert [events[0], events[2]] == [placed, shipped]
    assert {**events[1], "data": paid["data"]} == paid
    assert events[1]["data"]["amount"] == {"amount": "129.96", "currency": "EUR"}
    [problem] = derive(events).problems
    assert (problem.index, problem.pointer) == (1, "/data/amount/amount")
    assert problem.rule == "paid 129.96 EUR, the total is 129.97 EUR"


def test_ship_before_paying_is_the_shipment_at_version_2_refused_by_status(data):
    events = _variant(data, "ship-before-paying")["events"]
    assert [e["event_type"] for e in events] == ["OrderPlaced", "OrderShipped"]
    [problem] = derive(events).problems
    assert (problem.version, problem.pointer) == (2, "/event_type")
    assert problem.rule == "only a paid order ships; the order is placed"


def test_line_after_payment_is_r5s_added_line_after_the_payment(data):
    events = _variant(data, "line-after-payment")["events"]
    assert [e["event_type"] for e in events] == ["OrderPlaced", "OrderPaid", "OrderItemAdded"]
    [problem] = derive(events).problems
    assert (problem.version, problem.pointer) == (3, "/event_type")


def test_delivered_twice_repeats_one_event_and_the_repeat_is_refused(data):
    events = _variant(data, "delivered-twice")["events"]
    assert events[1] == events[2]
    broken = derive(events).broken
    assert isinstance(broken, VersionOutOfSequence)
    assert broken.version == 2 and derive(events).problems == ()


def test_the_v1_variant_starts_with_r5s_v1_event_and_folds_to_the_storys_state(data):
    events = _variant(data, "upcast-v1")["events"]
    (v1,) = [block.json() for block in marked_blocks(R5) if block.kind == "v1-event"]
    assert events[0] == v1 and events[1:] == story()[1:]
    assert derive(events).state == fold(story())


def test_the_snapshot_variant_resumes_after_version_2_to_the_storys_state(data):
    variant = _variant(data, "resume-from-snapshot")
    snapshot = Snapshot.from_dict(variant["snapshot"])
    assert snapshot.version == 2
    assert variant["events"] == story()[2:]
    assert snapshot.state == fold([upcast(e) for e in story()[:2]]).to_dict()
    assert derive(variant["events"], snapshot).state == fold(story())


def test_the_modules_and_schema_in_the_site_are_the_projects_files_byte_for_byte(
    data, playground_dir
):
    modules = data["modules"]
    assert {
        "model/fold.py",
        "model/history.py",
        "model/upcasting.py",
        "model/derivation.py",
    } <= set(modules)
    assert modules == list(_hook().BROWSER_MODULES)
    for module in modules:
        copied = playground_dir / "order_service" / module
        assert copied.read_bytes() == (REPO_ROOT / "design" / "order_service" / module).read_bytes()
    assert data["schemas"] == ["order-event.schema.json"]
    for schema in data["schemas"]:
        assert (playground_dir / "schemas" / schema).read_bytes() == (
            REPO_ROOT / "schemas" / schema
        ).read_bytes()


def test_the_copied_modules_run_with_the_standard_library_alone(data, playground_dir):
    # As in Pyodide: no site-packages (-S), only the copied files on the path.
    program = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from order_service.model.derivation import report;"
        "print(json.dumps(report(json.loads(sys.argv[2]))['state']))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", program, str(playground_dir), json.dumps(data["events"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == fold(story()).to_dict()
    modules = [
        "order_service." + m.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for m in data["modules"]
    ]
    modules.remove("order_service.__init__")
    importer = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        + "".join(f"import {module};" for module in modules)
        + "print(json.dumps(sorted(n for n in sys.modules if n.startswith('order_service'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-S", "-c", importer, str(playground_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == sorted(["order_service", *modules])


def test_mkdocs_serve_sends_webassembly_as_application_wasm():
    from mkdocs.livereload import LiveReloadServer

    _hook()  # mkdocs imports the hook before serving
    assert mimetypes.guess_type("pyodide.asm.wasm")[0] == "application/wasm"
    assert (
        LiveReloadServer._guess_type("assets/vendor/pyodide/pyodide.asm.wasm") == "application/wasm"
    )
