"""MkDocs hook: what the playground page (docs/playground.md) loads, put into the built site.

After each build it writes `assets/playground/` into the site:

- `playground.json`: order #1001's events, read from the R5 page's own marked blocks (the blocks its
  tests check, read by the tests' own reader), the "what if" variants derived from them here,
  and the lists of modules and schemas below;
- `order_service/*.py`: the project's modules that run in the browser, copied byte for byte;
- `schemas/order-event.schema.json`: the JSON Schema `orders validate` uses, for ajv in the browser.

It also makes `mkdocs serve` send `.wasm` as `application/wasm`, which WebAssembly streaming needs.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import mimetypes
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from order_service.model.fold import fold
from order_service.model.snapshots import take_snapshot
from order_service.model.upcasting import upcast

mimetypes.add_type("application/wasm", ".wasm")

ROOT = Path(__file__).resolve().parents[1]
R5_PAGE = ROOT / "docs" / "answers" / "order-1001-events.md"
PACKAGE = ROOT / "design" / "order_service"
SCHEMAS = ROOT / "schemas"
OUT = Path("assets") / "playground"

BROWSER_MODULES = (
    "__init__.py",
    "model/__init__.py",
    "model/integrity.py",
    "model/money.py",
    "model/fold.py",
    "model/snapshots.py",
    "model/decide.py",
    "model/history.py",
    "model/upcasting.py",
    "model/derivation.py",
)
"""The modules the page runs, as paths in `order_service`: the one list (the page reads it)."""
ANY_EVENT_SCHEMA = "order-event.schema.json"


def _marked_blocks(page: Path) -> list[Any]:
    # The tests' own reader: the page and the tests read the same blocks the same way.
    spec = importlib.util.spec_from_file_location(
        "marked_blocks", ROOT / "tests" / "docs" / "marked_blocks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.marked_blocks(page)


def r5_payloads() -> dict[str, list[dict[str, Any]]]:
    """The R5 page's payloads by marker kind: `event` (#1001's story), `alternative`, `v1-event`."""
    found: dict[str, list[dict[str, Any]]] = {"event": [], "alternative": [], "v1-event": []}
    for block in _marked_blocks(R5_PAGE):
        if block.kind in found:
            found[block.kind].append(block.json())
    return found


def _at(event: dict[str, Any], version: int) -> dict[str, Any]:
    return {**copy.deepcopy(event), "version": version}


def variants(payloads: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The "what if" streams, each made from the R5 payloads (no payload is written here)."""
    placed, paid, shipped, delivered = payloads["event"]
    (added,) = [e for e in payloads["alternative"] if e["event_type"] == "OrderItemAdded"]
    (placed_v1,) = payloads["v1-event"]

    short = copy.deepcopy(paid)
    short["data"]["amount"]["amount"] = str(
        Decimal(paid["data"]["amount"]["amount"]) - Decimal("0.01")
    )
    snapshot = take_snapshot(fold([upcast(placed), paid]))
    return [
        {
            "id": "one-cent-short",
            "label": "Pay one cent short",
            "lesson": "The fold applies the stored payment as a fact: the state is derived. The "
            "history lint replays OrderPaid as the PayOrder behind it, and decide compares the "
            "amount with the total of the lines: one cent short breaks that rule, named below.",
            "events": [placed, short, shipped],
        },
        {
            "id": "ship-before-paying",
            "label": "Ship before paying",
            "lesson": "Only a paid order ships. The order is still placed at version 2, so the "
            "ShipOrder behind the event would have been rejected: the lint names the rule, and "
            "the fold still applies the shipment as stored.",
            "events": [placed, _at(shipped, 2)],
        },
        {
            "id": "line-after-payment",
            "label": "Add a line after payment",
            "lesson": "Lines can be added while the order is placed, before it is paid: a line "
            "after the payment would make the total differ from what was paid.",
            "events": [placed, paid, _at(added, 3)],
        },
        {
            "id": "delivered-twice",
            "label": "Deliver an event twice",
            "lesson": "At-least-once delivery can hand over the same OrderPaid twice. Version 2 is "
            "already applied, so the fold refuses the duplicate: the stream itself is broken.",
            "events": [placed, paid, copy.deepcopy(paid), shipped],
        },
        {
            "id": "upcast-v1",
            "label": "Upcast an OrderPlaced v1",
            "lesson": "The first event is stored as schema version 1 (prices in cents, one "
            "currency). The upcaster lifts it to version 2 on the way in; the state is the same.",
            "events": [placed_v1, paid, shipped, delivered],
        },
        {
            "id": "resume-from-snapshot",
            "label": "Resume from a snapshot",
            "lesson": "The snapshot holds the state after version 2, as `orders derive "
            "--as-snapshot` prints it. Only the events after it are folded, to the same state.",
            "events": [shipped, delivered],
            "snapshot": snapshot.to_dict(),
        },
    ]


def playground_data() -> dict[str, Any]:
    """Everything `playground.json` holds."""
    payloads = r5_payloads()
    return {
        "events": payloads["event"],
        "variants": variants(payloads),
        "modules": list(BROWSER_MODULES),
        # The file `orders validate` reads: it bundles every event type's schema in its $defs.
        "schemas": [ANY_EVENT_SCHEMA],
        "any_event_schema": ANY_EVENT_SCHEMA,
    }


def on_post_build(config: Any) -> None:
    out = Path(config["site_dir"]) / OUT
    if out.exists():
        shutil.rmtree(out)
    (out / "schemas").mkdir(parents=True)
    data = playground_data()
    for module in data["modules"]:
        (out / "order_service" / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / module, out / "order_service" / module)
    for schema in data["schemas"]:
        shutil.copyfile(SCHEMAS / schema, out / "schemas" / schema)
    text = json.dumps(data, indent=1, ensure_ascii=False)
    (out / "playground.json").write_text(text + "\n", encoding="utf-8")
