-- The write model of the Order Service: an append-only event store.
-- This file is the single source of the DDL: the code runs it, the site includes it.

-- --8<-- [start:order_events]
CREATE TABLE IF NOT EXISTS order_events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT, -- global order, never reused
    event_id       TEXT    NOT NULL UNIQUE,           -- the same event id twice is stored once
    order_id       TEXT    NOT NULL,                  -- the stream
    version        INTEGER NOT NULL CHECK (version >= 1),
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version >= 1),
    data           TEXT    NOT NULL CHECK (json_valid(data)),
    metadata       TEXT    NOT NULL CHECK (json_valid(metadata)),
    occurred_at    TEXT    NOT NULL,                  -- when it happened (RFC 3339, UTC)
    recorded_at    TEXT    NOT NULL,                  -- when the store accepted it
    UNIQUE (order_id, version)                        -- optimistic concurrency per version
);

CREATE TRIGGER IF NOT EXISTS order_events_refuse_update
BEFORE UPDATE ON order_events
BEGIN
    SELECT RAISE(ABORT, 'order_events is append-only: UPDATE is refused');
END;

CREATE TRIGGER IF NOT EXISTS order_events_refuse_delete
BEFORE DELETE ON order_events
BEGIN
    SELECT RAISE(ABORT, 'order_events is append-only: DELETE is refused');
END;

-- REPLACE (INSERT OR REPLACE) deletes the row it conflicts with without running the DELETE
-- trigger (unless recursive_triggers is on): refused here, before any conflict is resolved.
CREATE TRIGGER IF NOT EXISTS order_events_refuse_overwrite
BEFORE INSERT ON order_events
WHEN EXISTS (
    SELECT 1 FROM order_events
    WHERE event_id = NEW.event_id OR position = NEW.position
       OR (order_id = NEW.order_id AND version = NEW.version)
)
BEGIN
    SELECT RAISE(ABORT, 'order_events is append-only: an INSERT over a stored event is refused');
END;

-- What append checks, checked again for any writer: each event takes its order's next version
-- and a position after every stored one (NEW.position is -1 when SQLite picks it).
CREATE TRIGGER IF NOT EXISTS order_events_refuse_out_of_order
BEFORE INSERT ON order_events
WHEN NEW.version <> (SELECT COALESCE(MAX(version), 0) + 1 FROM order_events
                     WHERE order_id = NEW.order_id)
  OR (NEW.position <> -1
      AND NEW.position <= (SELECT COALESCE(MAX(position), 0) FROM order_events))
BEGIN
    SELECT RAISE(ABORT, 'order_events is append-only: not its order''s next version or position');
END;
-- --8<-- [end:order_events]

-- --8<-- [start:outbox]
-- Written in the same transaction as the events it announces: no dual write.
CREATE TABLE IF NOT EXISTS outbox (
    position INTEGER PRIMARY KEY REFERENCES order_events (position),
    sent_at  TEXT                                      -- NULL until the relay has published it
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (position) WHERE sent_at IS NULL;
-- --8<-- [end:outbox]

-- --8<-- [start:commands]
-- A row lives 24 hours (store.COMMAND_ID_LIFETIME) after its command's events were recorded,
-- then append deletes it (at most once an hour) or `orders prune-keys` does.
-- One row per command carried out, written with its events: a command sent
-- again with the same id gets this version back and appends nothing.
CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT    PRIMARY KEY,                   -- the client's id (Idempotency-Key)
    order_id   TEXT    NOT NULL,
    digest     TEXT    NOT NULL,                      -- SHA-256 of the canonical command
    version    INTEGER NOT NULL                       -- the order's version after the command
);
-- --8<-- [end:commands]

-- --8<-- [start:order_snapshots]
-- A cache, never needed for correctness: drop it and every order still loads by replay.
CREATE TABLE IF NOT EXISTS order_snapshots (
    order_id        TEXT    PRIMARY KEY,
    version         INTEGER NOT NULL,                 -- the last event folded into state
    reducer_version INTEGER NOT NULL,                 -- another reducer's snapshot is not trusted
    state           TEXT    NOT NULL CHECK (json_valid(state)),
    taken_at        TEXT    NOT NULL
);
-- --8<-- [end:order_snapshots]
