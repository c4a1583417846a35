package repositories

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/services"
)

const (
	selectRecentFailures = `
		SELECT key, count(*) AS count, min(failed_at) AS oldest
		FROM login_failures
		WHERE key = ANY($1) AND failed_at > $2
		GROUP BY key`

	insertFailures = `
		INSERT INTO login_failures (key, failed_at)
		SELECT unnest($1::text[]), $2`

	// Old failures no longer count; pruning them on each write keeps the
	// table as small as the window.
	pruneFailures = `DELETE FROM login_failures WHERE failed_at < $1`

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

func (r *LoginFailureRepository) Recent(ctx context.Context, keys []string, since time.Time) (map[string]services.FailureCount, error) {
	var rows []struct {
		Key    string    `db:"key"`
		Count  int       `db:"count"`
		Oldest time.Time `db:"oldest"`
	}
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, selectRecentFailures, keys, since); err != nil {
		return nil, fmt.Errorf("recent login failures: %w", err)
	}
	counts := make(map[string]services.FailureCount, len(rows))
	for _, row := range rows {
		counts[row.Key] = services.FailureCount{Count: row.Count, Oldest: row.Oldest}
	}
	return counts, nil
}

func (r *LoginFailureRepository) Record(ctx context.Context, keys []string, at time.Time) error {
	q := conn(ctx, r.db)
	if _, err := q.ExecContext(ctx, pruneFailures, at.Add(-r.window)); err != nil {
		return fmt.Errorf("prune login failures: %w", err)
	}
	if _, err := q.ExecContext(ctx, insertFailures, keys, at); err != nil {
		return fmt.Errorf("record login failure: %w", err)
	}
	return nil
}

func (r *LoginFailureRepository) Clear(ctx context.Context, key string) error {
	if _, err := conn(ctx, r.db).ExecContext(ctx, clearFailures, key); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}
