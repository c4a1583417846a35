package repositories

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/example/apitemplate/services"
)

const (
	// The keys are locked in sorted order, so two attempts that share keys
	// never wait for each other's in a cycle.
	lockFailureKeys = `
		SELECT count(pg_advisory_xact_lock(hashtextextended(key, 0)))
		FROM (SELECT key FROM unnest($1::text[]) AS key ORDER BY key) AS sorted`

	selectRecentFailures = `
		SELECT key, count(*) AS count, min(failed_at) AS oldest
		FROM login_failures
		WHERE key = ANY($1) AND failed_at > $2
		GROUP BY key`

	insertAttempts = `
		INSERT INTO login_failures (key, failed_at)
		SELECT unnest($1::text[]), $2
		RETURNING id, key`

	pruneFailures = `DELETE FROM login_failures WHERE failed_at < $1`

	releaseAttempts = `DELETE FROM login_failures WHERE id = ANY($1)`

	clearFailures = `DELETE FROM login_failures WHERE key = $1`
)

// LoginFailureRepository keeps failed logins in PostgreSQL.
type LoginFailureRepository struct {
	data *Data
}

func NewLoginFailureRepository(data *Data) *LoginFailureRepository {
	return &LoginFailureRepository{data: data}
}

// Recent takes transaction-scoped advisory locks on the keys, then counts.
// It must run inside ExecTx: the locks are released when it ends.
func (r *LoginFailureRepository) Recent(ctx context.Context, keys []string, since time.Time) (map[string]services.FailureCount, error) {
	q := r.data.DB(ctx)
	var locked int
	if err := q.GetContext(ctx, &locked, lockFailureKeys, slices.Sorted(slices.Values(keys))); err != nil {
		return nil, fmt.Errorf("lock login failures: %w", err)
	}
	var rows []struct {
		Key    string    `db:"key"`
		Count  int       `db:"count"`
		Oldest time.Time `db:"oldest"`
	}
	if err := q.SelectContext(ctx, &rows, selectRecentFailures, keys, since); err != nil {
		return nil, fmt.Errorf("recent login failures: %w", err)
	}
	counts := make(map[string]services.FailureCount, len(rows))
	for _, row := range rows {
		counts[row.Key] = services.FailureCount{Count: row.Count, Oldest: row.Oldest}
	}
	return counts, nil
}

// Claim returns the claims in the order of keys.
func (r *LoginFailureRepository) Claim(ctx context.Context, keys []string, at time.Time) ([]int64, error) {
	var rows []struct {
		ID  int64  `db:"id"`
		Key string `db:"key"`
	}
	if err := r.data.DB(ctx).SelectContext(ctx, &rows, insertAttempts, keys, at); err != nil {
		return nil, fmt.Errorf("claim login attempt: %w", err)
	}
	ids := make([]int64, len(keys))
	for _, row := range rows {
		ids[slices.Index(keys, row.Key)] = row.ID
	}
	return ids, nil
}

func (r *LoginFailureRepository) Release(ctx context.Context, claims []int64) error {
	if _, err := r.data.DB(ctx).ExecContext(ctx, releaseAttempts, claims); err != nil {
		return fmt.Errorf("release login attempt: %w", err)
	}
	return nil
}

func (r *LoginFailureRepository) Clear(ctx context.Context, key string) error {
	if _, err := r.data.DB(ctx).ExecContext(ctx, clearFailures, key); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}

func (r *LoginFailureRepository) Prune(ctx context.Context, before time.Time) error {
	if _, err := r.data.DB(ctx).ExecContext(ctx, pruneFailures, before); err != nil {
		return fmt.Errorf("prune login failures: %w", err)
	}
	return nil
}

const (
	// A token of a new family (0) starts it with a family number of its own.
	insertRefreshToken = `
		INSERT INTO refresh_tokens (family_id, user_id, token_hash, expires_at)
		VALUES (COALESCE(NULLIF($1, 0), nextval('refresh_token_families')), $2, $3, $4)`

	lockRefreshToken = `
		SELECT id, family_id, user_id, expires_at, rotated_at IS NOT NULL AS rotated
		FROM refresh_tokens
		WHERE token_hash = $1
		FOR UPDATE`

	rotateRefreshToken = `UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1`

	deleteRefreshFamily = `DELETE FROM refresh_tokens WHERE family_id = $1`

	deleteRefreshFamilyOf = `
		DELETE FROM refresh_tokens
		WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)`

	deleteUserRefreshTokens = `DELETE FROM refresh_tokens WHERE user_id = $1`

	// A few at a time, by the index on expires_at: no statement reads more
	// than it removes.
	pruneRefreshTokens = `
		DELETE FROM refresh_tokens
		WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`
)

// RefreshTokenRepository keeps sessions' refresh tokens, as hashes.
type RefreshTokenRepository struct {
	data *Data
}

func NewRefreshTokenRepository(data *Data) *RefreshTokenRepository {
	return &RefreshTokenRepository{data: data}
}

func (r *RefreshTokenRepository) Issue(ctx context.Context, userID, family int64, hash []byte, expires time.Time) error {
	if _, err := r.data.DB(ctx).ExecContext(ctx, insertRefreshToken, family, userID, hash, expires); err != nil {
		return fmt.Errorf("issue refresh token: %w", err)
	}
	return nil
}

// Lock must run inside ExecTx: the row lock is held until it ends.
func (r *RefreshTokenRepository) Lock(ctx context.Context, hash []byte) (services.RefreshToken, error) {
	var row struct {
		ID        int64     `db:"id"`
		FamilyID  int64     `db:"family_id"`
		UserID    int64     `db:"user_id"`
		ExpiresAt time.Time `db:"expires_at"`
		Rotated   bool      `db:"rotated"`
	}
	if err := r.data.DB(ctx).GetContext(ctx, &row, lockRefreshToken, hash); err != nil {
		return services.RefreshToken{}, fmt.Errorf("refresh token: %w", err)
	}
	return services.RefreshToken{ID: row.ID, FamilyID: row.FamilyID, UserID: row.UserID, ExpiresAt: row.ExpiresAt, Rotated: row.Rotated}, nil
}

func (r *RefreshTokenRepository) MarkRotated(ctx context.Context, id int64) error {
	return r.exec(ctx, "rotate refresh token", rotateRefreshToken, id)
}

func (r *RefreshTokenRepository) DeleteFamily(ctx context.Context, family int64) error {
	return r.exec(ctx, "end session", deleteRefreshFamily, family)
}

func (r *RefreshTokenRepository) DeleteFamilyOf(ctx context.Context, userID int64, hash []byte) error {
	return r.exec(ctx, "end session", deleteRefreshFamilyOf, hash, userID)
}

func (r *RefreshTokenRepository) DeleteUser(ctx context.Context, userID int64) error {
	return r.exec(ctx, "end sessions", deleteUserRefreshTokens, userID)
}

func (r *RefreshTokenRepository) Prune(ctx context.Context, before time.Time, limit int) error {
	return r.exec(ctx, "prune refresh tokens", pruneRefreshTokens, before, limit)
}

func (r *RefreshTokenRepository) exec(ctx context.Context, what, query string, args ...any) error {
	if _, err := r.data.DB(ctx).ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
