-- Indexes for lists that cost the same on ten million rows as on ten
-- thousand. A list sorts by a column with id as the tie-break, so an index
-- on each (column, id) lets a page, whether reached by offset or by cursor,
-- read only its own rows, in either direction.
--
-- On a large table CREATE INDEX blocks writes to it while it builds; to
-- avoid that, build these by hand first with CREATE INDEX CONCURRENTLY
-- under the same names: IF NOT EXISTS then skips them here.

-- +goose Up
CREATE INDEX IF NOT EXISTS items_created_at_id_idx ON items (created_at, id);
CREATE INDEX IF NOT EXISTS items_price_cents_id_idx ON items (price_cents, id);
CREATE INDEX IF NOT EXISTS items_name_id_idx ON items (name, id);
CREATE INDEX IF NOT EXISTS users_created_at_id_idx ON users (created_at, id);
CREATE INDEX IF NOT EXISTS users_name_id_idx ON users (name, id);

-- ?q= matches a part of a name or an email. Trigram indexes (pg_trgm ships
-- with PostgreSQL, and is trusted: a database owner may create it) let a
-- selective term find its rows without reading the table.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS items_name_trgm_idx ON items USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS users_name_trgm_idx ON users USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS users_email_trgm_idx ON users USING gin (email gin_trgm_ops);

-- Failed logins older than the throttling window are pruned by age.
CREATE INDEX IF NOT EXISTS login_failures_failed_at_idx ON login_failures (failed_at);

-- +goose Down
DROP INDEX login_failures_failed_at_idx;
DROP INDEX users_email_trgm_idx;
DROP INDEX users_name_trgm_idx;
DROP INDEX items_name_trgm_idx;
DROP INDEX users_name_id_idx;
DROP INDEX users_created_at_id_idx;
DROP INDEX items_name_id_idx;
DROP INDEX items_price_cents_id_idx;
DROP INDEX items_created_at_id_idx;
