-- +goose Up
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL CHECK (char_length(email) <= 255),
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Emails are stored lower-cased; the index on lower() keeps them unique even
-- for rows written by something other than this service.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE items (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
    price_cents bigint      NOT NULL CHECK (price_cents BETWEEN 0 AND 1000000000000),
    -- No ON DELETE CASCADE: deleting a user deletes their items explicitly, in
    -- one transaction (services.UserService.Delete).
    owner_id    bigint      NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX items_owner_id_idx ON items (owner_id, id);

-- Failed logins, kept in the database so every replica throttles alike. A
-- login records its attempt before checking the password and deletes the row
-- again unless the password was wrong.
CREATE TABLE login_failures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key       text        NOT NULL,
    failed_at timestamptz NOT NULL
);

CREATE INDEX login_failures_key_idx ON login_failures (key, failed_at);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE items;
DROP TABLE users;
