package repositories

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/services"
)

const (
	insertAttempts = `
		INSERT INTO login_failures (key, failed_at)
		SELECT unnest($1::text[]), $2
		RETURNING id, key`

	selectRecentFailures = `
		SELECT key, count(*) AS count, min(failed_at) AS oldest
		FROM login_failures
		WHERE key = ANY($1) AND failed_at > $2
		GROUP BY key`

	// Old failures no longer count; pruning them on each write keeps the
	// table as small as the window.
	pruneFailures = `DELETE FROM login_failures WHERE failed_at < $1`

	releaseAttempts = `DELETE FROM login_failures WHERE id = ANY($1)`

	clearFailures = `DELETE FROM login_failures WHERE key = $1`
)

// LoginFailureRepository keeps failed logins in PostgreSQL.
type LoginFailureRepository struct {
	db     *sqlx.DB
	window time.Duration
}

func NewLoginFailureRepository(db *sqlx.DB, cfg services.AuthConfig) *LoginFailureRepository {
	return &LoginFailureRepository{db: db, window: cfg.FailWindow}
}

// Claim records the attempt before it counts, each statement committed on
// its own, so concurrent attempts always count each other.
func (r *LoginFailureRepository) Claim(ctx context.Context, keys []string, at, since time.Time) (map[string]services.FailureCount, error) {
	q := conn(ctx, r.db)
	if _, err := q.ExecContext(ctx, pruneFailures, at.Add(-r.window)); err != nil {
		return nil, fmt.Errorf("prune login failures: %w", err)
	}
	var claimed []struct {
		ID  int64  `db:"id"`
		Key string `db:"key"`
	}
	if err := q.SelectContext(ctx, &claimed, insertAttempts, keys, at); err != nil {
		return nil, fmt.Errorf("claim login attempt: %w", err)
	}
	var recent []struct {
		Key    string    `db:"key"`
		Count  int       `db:"count"`
		Oldest time.Time `db:"oldest"`
	}
	if err := q.SelectContext(ctx, &recent, selectRecentFailures, keys, since); err != nil {
		return nil, fmt.Errorf("recent login failures: %w", err)
	}
	counts := make(map[string]services.FailureCount, len(recent))
	for _, row := range recent {
		counts[row.Key] = services.FailureCount{Count: row.Count, Oldest: row.Oldest}
	}
	for _, c := range claimed {
		fc := counts[c.Key]
		fc.Claim = c.ID
		counts[c.Key] = fc
	}
	return counts, nil
}

func (r *LoginFailureRepository) Release(ctx context.Context, claims []int64) error {
	if _, err := conn(ctx, r.db).ExecContext(ctx, releaseAttempts, claims); err != nil {
		return fmt.Errorf("release login attempt: %w", err)
	}
	return nil
}

func (r *LoginFailureRepository) Clear(ctx context.Context, key string) error {
	if _, err := conn(ctx, r.db).ExecContext(ctx, clearFailures, key); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}
