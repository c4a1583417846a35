-- +goose Up

-- A row's version goes up by one with every change. Its ETag is made from
-- it, so the tag changes whenever the resource does and is the same on
-- every replica; a conditional write (If-Match) applies only while the
-- version is still the one the client saw.
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE items ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- The first answer to each Idempotency-Key, kept 24 hours so that a retry
-- of the same request gets it again instead of writing twice. A record is
-- written in the same transaction as what the request created.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL, -- the route and the caller
    key          text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash bytea       NOT NULL, -- of the request, to tell a retry from another request
    status       integer     NOT NULL,
    location     text        NOT NULL,
    etag         text        NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- Expired records are removed a few at a time, oldest first.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
ALTER TABLE items DROP COLUMN version;
ALTER TABLE users DROP COLUMN version;
