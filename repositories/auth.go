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
