-- The write model of the Order Service on PostgreSQL: the same tables as event_store.sql.
-- This file is the single source of this DDL: the code runs it, the site includes it.
-- JSON columns are `json` (the text as given, validated by the server), not `jsonb`
-- (which would reorder keys): the store keeps the canonical event text byte for byte.

-- --8<-- [start:order_events]
CREATE TABLE IF NOT EXISTS order_events (
    position       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- taken at INSERT
    event_id       TEXT    NOT NULL UNIQUE,           -- the same event id twice is stored once
    order_id       TEXT    NOT NULL,                  -- the stream
    version        INTEGER NOT NULL CHECK (version >= 1),
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version >= 1),
    data           JSON    NOT NULL,
    metadata       JSON    NOT NULL,
    occurred_at    TEXT    NOT NULL,                  -- when it happened (RFC 3339, UTC)
    recorded_at    TEXT    NOT NULL,                  -- when the store accepted it
    UNIQUE (order_id, version)                        -- optimistic concurrency per version
);

CREATE OR REPLACE FUNCTION order_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order_events is append-only: % is refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE OR REPLACE TRIGGER order_events_refuse_update_delete
BEFORE UPDATE OR DELETE ON order_events
FOR EACH ROW EXECUTE FUNCTION order_events_refuse_change();

CREATE OR REPLACE TRIGGER order_events_refuse_truncate
BEFORE TRUNCATE ON order_events
FOR EACH STATEMENT EXECUTE FUNCTION order_events_refuse_change();
-- --8<-- [end:order_events]

-- --8<-- [start:outbox]
-- Written in the same transaction as the events it announces: no dual write.
CREATE TABLE IF NOT EXISTS outbox (
    position BIGINT PRIMARY KEY REFERENCES order_events (position),
    sent_at  TEXT                                      -- NULL until the relay has published it
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (position) WHERE sent_at IS NULL;
-- --8<-- [end:outbox]

-- --8<-- [start:commands]
-- A row lives 24 hours (store.COMMAND_ID_LIFETIME) after its command's events were recorded,
-- then append deletes it (at most once an hour) or `orders prune-keys` does.
-- One row per command carried out, written in the same transaction as its events.
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
    state           JSON    NOT NULL,
    taken_at        TEXT    NOT NULL
);
-- --8<-- [end:order_snapshots]
