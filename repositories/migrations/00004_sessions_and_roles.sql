-- +goose Up

-- An admin may read and change every user and item; `server users promote`
-- and `demote` set it, and it takes effect on the next request, which reads
-- it with the user-exists check.
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));

-- Access tokens carry the generation they were issued in; a password change
-- moves it on, so that every access token issued before the change fails.
ALTER TABLE users ADD COLUMN token_generation bigint NOT NULL DEFAULT 1;

-- Refresh tokens, stored only as hashes. Each login starts a family (a
-- session); every refresh rotates the token it was given (rotated_at) for a
-- new one of the same family. A rotated token presented again means it was
-- stolen: the whole family is deleted, which ends the session for the thief
-- and the owner alike. Logout deletes its family, a password change every
-- family of the user; the tokens of a deleted user go with them.
CREATE SEQUENCE refresh_token_families;

CREATE TABLE refresh_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    family_id  bigint      NOT NULL,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz
);

CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
-- Expired tokens are removed a few at a time, oldest first.
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- +goose Down
DROP TABLE refresh_tokens;
DROP SEQUENCE refresh_token_families;
ALTER TABLE users DROP COLUMN token_generation;
ALTER TABLE users DROP COLUMN role;
