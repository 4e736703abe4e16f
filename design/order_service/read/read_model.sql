-- The read model of the Order Service: one denormalised row per order, shaped for the queries.
-- This file is the single source of the DDL: the projector runs it, the site includes it.
-- Everything here can be dropped and rebuilt from order_events (`orders replay`).

-- --8<-- [start:order_summary]
CREATE TABLE IF NOT EXISTS order_summary (
    order_id        TEXT    PRIMARY KEY,
    customer_id     TEXT    NOT NULL,
    status          TEXT    NOT NULL
                    CHECK (status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled')),
    total_amount    TEXT    NOT NULL,                  -- decimal string, never a float
    currency        TEXT    NOT NULL,
    item_count      INTEGER NOT NULL,                  -- units ordered, over all lines
    skus            TEXT    NOT NULL CHECK (json_valid(skus)), -- sorted JSON array, for display
    placed_at       TEXT    NOT NULL,                  -- RFC 3339 UTC: sorts as text
    paid_at         TEXT,
    shipped_at      TEXT,
    delivered_at    TEXT,
    cancelled_at    TEXT,
    tracking_number TEXT,
    last_version    INTEGER NOT NULL,                  -- checkpoint: older events change nothing
    last_position   INTEGER NOT NULL,                  -- global position of that event
    state           TEXT    NOT NULL CHECK (json_valid(state)) -- the folded OrderState
);

-- One index per search the query side offers; each ends with the sort key, so a search
-- reads rows already in (placed_at, order_id) order and stops at the limit.
CREATE INDEX IF NOT EXISTS order_summary_by_customer
    ON order_summary (customer_id, placed_at, order_id);
CREATE INDEX IF NOT EXISTS order_summary_by_status
    ON order_summary (status, placed_at, order_id);
CREATE INDEX IF NOT EXISTS order_summary_by_placed
    ON order_summary (placed_at, order_id);
-- --8<-- [end:order_summary]

-- --8<-- [start:order_summary_skus]
-- Search by product: one row per (SKU, order), since an index cannot look inside a JSON array.
CREATE TABLE IF NOT EXISTS order_summary_skus (
    sku      TEXT NOT NULL,
    order_id TEXT NOT NULL REFERENCES order_summary (order_id),
    PRIMARY KEY (sku, order_id)
) WITHOUT ROWID;
-- --8<-- [end:order_summary_skus]

-- --8<-- [start:tracking]
-- Where each subscriber resumes: the highest global position it has handled, written in the
-- same transaction as its effects (a tracking record). One row per subscriber.
CREATE TABLE IF NOT EXISTS tracking (
    subscriber TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL                        -- the highest global position handled
);
-- --8<-- [end:tracking]

-- --8<-- [start:parked_events]
-- Events a subscriber could not apply, and the later events of the same order, which wait
-- behind them (so each order is applied in version order). `orders redrive` retries them.
CREATE TABLE IF NOT EXISTS parked_events (
    subscriber TEXT    NOT NULL,
    position   INTEGER NOT NULL,                       -- the event's global position
    event_id   TEXT    NOT NULL,
    order_id   TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    error      TEXT    NOT NULL,                     -- why it was parked (the first event: the cause)
    parked_at  TEXT    NOT NULL,
    PRIMARY KEY (subscriber, position)
);
CREATE INDEX IF NOT EXISTS parked_events_by_order ON parked_events (subscriber, order_id);
-- --8<-- [end:parked_events]

-- --8<-- [start:notifications]
-- The shipping notifier's effects: one message per OrderShipped event id, sent once.
CREATE TABLE IF NOT EXISTS notifications (
    event_id TEXT    PRIMARY KEY,
    position INTEGER NOT NULL,                         -- the event's global position
    order_id TEXT    NOT NULL,
    message  TEXT    NOT NULL
);
-- --8<-- [end:notifications]
