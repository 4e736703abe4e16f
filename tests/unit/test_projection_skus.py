"""The search by product follows the folded state's lines, whichever way they change.

No event of today's model removes a line, so the test stands one in: the projector's summary of
the second event is made to drop a SKU, as an event that removes a line would.
"""

from __future__ import annotations

import pytest
from event_streams import item_added, line, placed
from order_service.read import projections
from order_service.read.projections import OrderSummaryProjector
from order_service.read.read_model import open_read_model


def _skus(conn) -> set[str]:
    return {row["sku"] for row in conn.execute("SELECT sku FROM order_summary_skus")}


def _at(event: dict, second: int) -> dict:
    return {**event, "occurred_at": f"2026-11-02T10:00:0{second}Z"}


@pytest.mark.parametrize("batch", [False, True], ids=["apply", "apply_batch"])
def test_a_line_the_state_no_longer_has_leaves_the_sku_table(tmp_path, monkeypatch, batch):
    conn = open_read_model(tmp_path / "read.db")
    projector = OrderSummaryProjector(conn)
    projector.apply(_at(placed(1, line("RETRO-CLOCK"), line("BRASS-KEY", 2, "24.99")), 1), 1)
    assert _skus(conn) == {"RETRO-CLOCK", "BRASS-KEY"}
    summarise = projections.summarise

    def without_brass_key(row, event, position):
        new = summarise(row, event, position)
        return {**new, "skus": [sku for sku in new["skus"] if sku != "BRASS-KEY"]}

    monkeypatch.setattr(projections, "summarise", without_brass_key)
    added = _at(item_added(2, line("TIN-ROBOT", 1, "15.00")), 2)
    if batch:
        assert projector.apply_batch([(2, added)]) == {}
    else:
        projector.apply(added, 2)
    assert _skus(conn) == {"RETRO-CLOCK", "TIN-ROBOT"}
