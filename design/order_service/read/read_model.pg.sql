-- The read model of the Order Service on PostgreSQL: the same tables as read_model.sql.
-- This file is the single source of this DDL: the projector runs it, the site includes it.
-- Everything here can be dropped and rebuilt from order_events (`orders replay`). The
-- projector's tracking record and parked events live beside it (bus/subscription.sql).

-- --8<-- [start:order_summary]
CREATE TABLE IF NOT EXISTS order_summary (
    order_id        TEXT    COLLATE "C" PRIMARY KEY,  -- byte order, as SQLite sorts text
    customer_id     TEXT    NOT NULL,
    status          TEXT    NOT NULL
                    CHECK (status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled',
                                      'refunded')),
    total_amount    TEXT    NOT NULL,                  -- decimal string, never a float
    currency        TEXT    NOT NULL,
    item_count      INTEGER NOT NULL,                  -- units ordered, over all lines
    skus            JSON    NOT NULL,                  -- sorted JSON array, for display
    placed_at       TEXT    COLLATE "C" NOT NULL,      -- RFC 3339 UTC: sorts as text
    paid_at         TEXT,
    shipped_at      TEXT,
    delivered_at    TEXT,
    cancelled_at    TEXT,
    tracking_number TEXT,
    last_version    INTEGER NOT NULL,                  -- an event at or below it changes nothing
    last_position   BIGINT  NOT NULL,                  -- global position of that event
    -- the order's folded OrderState (JSON): every column above is read off it
    state           JSON    NOT NULL
);

-- One index per search the query side offers; each ends with the sort key.
CREATE INDEX IF NOT EXISTS order_summary_by_customer
    ON order_summary (customer_id, placed_at, order_id);
CREATE INDEX IF NOT EXISTS order_summary_by_status
    ON order_summary (status, placed_at, order_id);
CREATE INDEX IF NOT EXISTS order_summary_by_placed
    ON order_summary (placed_at, order_id);
-- --8<-- [end:order_summary]

-- --8<-- [start:order_summary_skus]
-- Search by product: one row per (SKU, order), since a B-tree cannot look inside a JSON array.
CREATE TABLE IF NOT EXISTS order_summary_skus (
    sku      TEXT NOT NULL,
    order_id TEXT NOT NULL REFERENCES order_summary (order_id),
    PRIMARY KEY (sku, order_id)
);
-- --8<-- [end:order_summary_skus]
