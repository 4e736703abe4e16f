-- A subscriber's bookkeeping, in the subscriber's own database (the read model's for the
-- projector): where it resumes, and what it could not apply. See bus/subscription.py.
-- PostgreSQL: the same tables as subscription.sql.

-- --8<-- [start:tracking]
-- Where each subscriber resumes: the highest global position it has handled, written in the
-- same transaction as its effects (a tracking record). One row per subscriber.
CREATE TABLE IF NOT EXISTS tracking (
    subscriber TEXT    PRIMARY KEY,
    position   BIGINT  NOT NULL                        -- the highest global position handled
);
-- --8<-- [end:tracking]

-- --8<-- [start:parked_events]
-- Events a subscriber could not apply, and the later events of the same order, which wait
-- behind them (so each order is applied in version order). `orders redrive` retries them.
CREATE TABLE IF NOT EXISTS parked_events (
    subscriber TEXT    NOT NULL,
    position   BIGINT  NOT NULL,                       -- the event's global position
    event_id   TEXT    NOT NULL,
    order_id   TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    error      TEXT    NOT NULL,                       -- why it was parked
    parked_at  TEXT    NOT NULL,
    PRIMARY KEY (subscriber, position)
);
CREATE INDEX IF NOT EXISTS parked_events_by_order ON parked_events (subscriber, order_id);
-- --8<-- [end:parked_events]
