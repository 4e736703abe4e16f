-- The privileges of the application's role on PostgreSQL: what the store reads and writes, no more.
-- The owner of the schema (the role that created its tables: run the application as it once, or
-- `orders demo --db URL`) runs this; here the schema is `orders` and the role is `orders_app`.
-- The role owns nothing, so it cannot ALTER, DROP or DISABLE TRIGGER on these tables either.

-- --8<-- [start:grants]
GRANT USAGE ON SCHEMA orders TO orders_app;
-- Append-only: SELECT and INSERT, never UPDATE, DELETE or TRUNCATE.
GRANT SELECT, INSERT ON orders.order_events TO orders_app;
-- The relay claims unsent rows (SELECT ... FOR UPDATE) and marks them sent.
GRANT SELECT, INSERT, UPDATE (sent_at) ON orders.outbox TO orders_app;
-- Command ids are deleted after their lifetime (24 hours).
GRANT SELECT, INSERT, DELETE ON orders.commands TO orders_app;
-- A cache: a newer snapshot replaces an older one.
GRANT SELECT, INSERT, UPDATE ON orders.order_snapshots TO orders_app;
-- --8<-- [end:grants]
