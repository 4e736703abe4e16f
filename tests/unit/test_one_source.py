"""One source per fact: money, the amount pattern and the statuses are each written once.

The model holds each (`model.money`, `model.fold.STATUSES`); every other reader imports it, and
the two read-model DDL files, which cannot import, name the list (`:STATUSES`) that `sql_text` puts
in when the DDL runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from order_service.infra.database import DDL_LISTS, backend_of, sql_text
from order_service.model import money
from order_service.model.decide import MAX_TOTAL_CENTS
from order_service.model.events import Money
from order_service.model.fold import STATUSES
from order_service.model.snapshots import STATUSES as SNAPSHOT_STATUSES
from order_service.model.upcasting import upcast
from order_service.read import queries
from order_service.read.projections import SUMMARY_COLUMNS
from order_service.read.read_model import open_read_model
from pydantic import ValidationError
from registry_walk import lifecycle_edges

READ = Path(queries.__file__).parent
DDL_FILES = [READ / "read_model.sql", READ / "read_model.pg.sql"]


@given(st.integers(0, MAX_TOTAL_CENTS))
def test_cents_and_amount_text_are_inverse_and_the_text_matches_the_pattern(value):
    text = money.amount(value)
    assert money.AMOUNT.fullmatch(text)
    assert money.cents(text) == value


@pytest.mark.parametrize(
    ("text", "valid"),
    [("0.00", True), ("129.97", True), ("9999999999.99", True), ("10000000000.00", False),
     ("012.50", False), ("12.5", False), ("12.50\n", False), ("-1.00", False)],
)  # fmt: skip
def test_the_fold_and_the_event_model_read_amounts_with_the_one_pattern(text, valid):
    assert Money.model_fields["amount"].metadata[0].pattern == money.AMOUNT_PATTERN
    assert bool(money.AMOUNT.fullmatch(text)) is valid
    try:
        Money(amount=text, currency="EUR")
    except ValidationError:
        assert not valid
    else:
        assert valid


def test_an_upcast_v1_price_is_the_money_helpers_text():
    placed_v1 = {
        "event_type": "OrderPlaced", "schema_version": 1,
        "data": {"customer_id": "C-1", "currency": "EUR",
                 "items": [{"sku": "A", "qty": 1, "unit_price_cents": 7}]},
    }  # fmt: skip
    [line] = upcast(placed_v1)["data"]["lines"]
    assert line["unit_price"]["amount"] == money.amount(7) == "0.07"


def test_every_reader_of_the_statuses_reads_the_models_list():
    assert SNAPSHOT_STATUSES is STATUSES
    assert queries.STATUSES is STATUSES
    reached = {after for _, after, _ in lifecycle_edges()} - {"[*]"}  # every command, tried
    assert reached == set(STATUSES)


@pytest.mark.parametrize("ddl", DDL_FILES, ids=lambda path: path.name)
def test_each_read_model_ddl_checks_the_status_against_the_models_list(ddl):
    assert DDL_LISTS[":STATUSES"] is STATUSES
    written = re.findall(r"CHECK \(status IN \(([^)]*)\)\)", ddl.read_text(encoding="utf-8"))
    assert written == [":STATUSES"], f"{ddl.name}: expected one CHECK naming :STATUSES"
    [run] = re.findall(r"CHECK \(status IN \(([^)]*)\)\)", sql_text(ddl.name))
    listed = tuple(re.findall(r"'([^']*)'", run))
    assert listed == STATUSES, f"{ddl.name} runs {listed}, the model lists {STATUSES}"


def test_each_read_model_accepts_each_status_and_refuses_any_other(new_db):
    """On SQLite and PostgreSQL: a status new in `STATUSES` is tried on both without more tests."""
    conn = open_read_model(new_db("read"))
    row = dict.fromkeys(SUMMARY_COLUMNS) | {
        "customer_id": "C-1", "total_amount": "1.00", "currency": "EUR", "item_count": 1,
        "skus": "[]", "placed_at": "2026-11-02T10:00:00Z", "last_version": 1, "last_position": 1,
        "state": "{}",
    }  # fmt: skip

    def insert(order_id: str, status: str) -> None:
        values = row | {"order_id": order_id, "status": status}
        marks = ", ".join("?" * len(values))
        sql = f"INSERT INTO order_summary ({', '.join(values)}) VALUES ({marks})"
        conn.execute(sql, list(values.values()))

    for number, status in enumerate(STATUSES):
        insert(str(number), status)
    with pytest.raises(backend_of(conn).IntegrityError, match=r"(?i)check"):
        insert("99", "lost")  # no status of the model
