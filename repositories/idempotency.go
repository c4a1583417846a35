package repositories

import (
	"context"
	"fmt"
	"time"

	"github.com/example/apitemplate/services"
)

const (
	// A transaction-scoped lock, so it holds through PgBouncer's
	// transaction pooling too, and ends with the transaction however it ends.
	claimIdempotencyKey = `SELECT pg_try_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 0))`

	selectIdempotencyKey = `
		SELECT request_hash, status, location, etag, body
		FROM idempotency_keys
		WHERE scope = $1 AND key = $2 AND created_at > $3`

	// An expired record of the same key is written over.
	insertIdempotencyKey = `
		INSERT INTO idempotency_keys (scope, key, request_hash, status, location, etag, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (scope, key) DO UPDATE
		SET request_hash = excluded.request_hash, status = excluded.status, location = excluded.location,
		    etag = excluded.etag, body = excluded.body, created_at = now()
		WHERE idempotency_keys.created_at <= $8`

	// A few at a time, by the index on created_at.
	pruneIdempotencyKeys = `
		DELETE FROM idempotency_keys
		WHERE (scope, key) IN (
			SELECT scope, key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)`
)

// IdempotencyRepository keeps the first answer to each idempotency key.
type IdempotencyRepository struct {
	data *Data
}

func NewIdempotencyRepository(data *Data) *IdempotencyRepository {
	return &IdempotencyRepository{data: data}
}

// Claim must run inside ExecTx: the lock is released when it ends.
func (r *IdempotencyRepository) Claim(ctx context.Context, scope, key string) (bool, error) {
	var claimed bool
	if err := r.data.DB(ctx).GetContext(ctx, &claimed, claimIdempotencyKey, scope, key); err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return claimed, nil
}

func (r *IdempotencyRepository) Find(ctx context.Context, scope, key string, since time.Time) (services.IdempotencyRecord, error) {
	var row struct {
		RequestHash []byte `db:"request_hash"`
		Status      int    `db:"status"`
		Location    string `db:"location"`
		ETag        string `db:"etag"`
		Body        []byte `db:"body"`
	}
	if err := r.data.DB(ctx).GetContext(ctx, &row, selectIdempotencyKey, scope, key, since); err != nil {
		return services.IdempotencyRecord{}, fmt.Errorf("find idempotency key: %w", err)
	}
	return services.IdempotencyRecord{RequestHash: row.RequestHash, Answer: services.Answer{
		Status: row.Status, Location: row.Location, ETag: row.ETag, Body: row.Body,
	}}, nil
}

func (r *IdempotencyRepository) Save(ctx context.Context, scope, key string, rec services.IdempotencyRecord, expired time.Time) error {
	a := rec.Answer
	res, err := r.data.DB(ctx).ExecContext(ctx, insertIdempotencyKey, scope, key, rec.RequestHash, a.Status, a.Location, a.ETag, a.Body, expired)
	if err != nil {
		return fmt.Errorf("save idempotency key: %w", err)
	}
	// The key is claimed, and had no live record: one row is always written.
	if err := expectRow(res); err != nil {
		return fmt.Errorf("save idempotency key: %w", err)
	}
	return nil
}

func (r *IdempotencyRepository) Prune(ctx context.Context, before time.Time, limit int) error {
	if _, err := r.data.DB(ctx).ExecContext(ctx, pruneIdempotencyKeys, before, limit); err != nil {
		return fmt.Errorf("prune idempotency keys: %w", err)
	}
	return nil
}
