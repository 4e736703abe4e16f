-- The shipping notifier's database: its sent messages (and, from subscription.pg.sql,
-- its tracking record).

-- --8<-- [start:notifications]
-- The shipping notifier's effects: one message per OrderShipped event id, sent once.
CREATE TABLE IF NOT EXISTS notifications (
    event_id TEXT    PRIMARY KEY,
    position BIGINT  NOT NULL,                         -- the event's global position
    order_id TEXT    NOT NULL,
    message  TEXT    NOT NULL
);
-- --8<-- [end:notifications]
