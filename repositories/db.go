// Package repositories holds the SQL. Each repository turns rows into the
// domain types of package services and database errors into domain errors.
package repositories

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"
	"golang.org/x/sync/semaphore"

	"github.com/example/apitemplate/services"
)

// Slots admits requests to the pool first come, first served. When every
// connection is busy, database/sql hands a freed one to a waiting request
// picked at random, so under load a few requests wait far longer than the
// rest (make bench saw p99 1.3 to 1.6 times that of pgxpool, which queues
// in order). A request takes a slot, in arrival order, before it takes a
// connection, and there are as many slots as connections, so database/sql
// always has one free for it.
type Slots struct {
	sem *semaphore.Weighted

	// What a request waited for a slot, for the metrics: with slots in
	// front, database/sql's own wait counters stay at zero.
	waits    atomic.Int64
	waitedNS atomic.Int64
}

// NewSlots returns slots for db's DB_MAX_OPEN_CONNS, or nil, which admits
// without queueing, when the pool is unbounded and no one ever waits.
func NewSlots(db *sqlx.DB) *Slots {
	n := db.Stats().MaxOpenConnections
	if n <= 0 {
		return nil
	}
	return &Slots{sem: semaphore.NewWeighted(int64(n))}
}

func (s *Slots) acquire(ctx context.Context) error {
	if s.sem.TryAcquire(1) {
		return nil
	}
	start := time.Now()
	err := s.sem.Acquire(ctx, 1)
	s.waits.Add(1)
	s.waitedNS.Add(int64(time.Since(start)))
	if err != nil {
		return fmt.Errorf("wait for a database connection: %w", err)
	}
	return nil
}

// Waits returns how many times a request had to wait for a slot, and for
// how long in all.
func (s *Slots) Waits() (count int64, total time.Duration) {
	return s.waits.Load(), time.Duration(s.waitedNS.Load())
}

func (s *Slots) release() { s.sem.Release(1) }

// UnitOfWork is the database side of one request. It starts no transaction
// until a service asks for one, so reads go straight to the pool; its cleanup
// rolls back whatever the request began and did not commit.
type UnitOfWork struct {
	pool   admitted // the pool through the slots, for statements outside a transaction
	tx     *sqlx.Tx
	txSlot bool // the open transaction holds a slot
}

// NewUnitOfWork returns the request's unit of work and the cleanup that must
// run when the request ends, however it ends. slots may be nil.
func NewUnitOfWork(db *sqlx.DB, slots *Slots) (*UnitOfWork, func()) {
	u := &UnitOfWork{pool: admitted{db: db, slots: slots}}
	return u, u.rollback
}

type unitOfWorkKey struct{}

// Attach returns ctx carrying u, where repositories will find it.
func (u *UnitOfWork) Attach(ctx context.Context) context.Context {
	return context.WithValue(ctx, unitOfWorkKey{}, u)
}

func (u *UnitOfWork) rollback() {
	if u.tx != nil {
		_ = u.tx.Rollback() // the request is over; there is no one left to tell
		u.tx = nil
	}
	u.releaseTxSlot()
}

func (u *UnitOfWork) releaseTxSlot() {
	if u.txSlot {
		u.txSlot = false
		u.pool.slots.release()
	}
}

// querier is what both *sqlx.Tx and the pool offer repositories. Each call
// has given its connection back by the time it returns, which is what lets
// admitted hold a slot for exactly that long.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// conn returns the transaction open in ctx's unit of work, or else the pool,
// through the request's slots when it has them.
func conn(ctx context.Context, db *sqlx.DB) querier {
	u, ok := ctx.Value(unitOfWorkKey{}).(*UnitOfWork)
	switch {
	case !ok:
		return db
	case u.tx != nil:
		return u.tx
	case u.pool.slots != nil:
		return &u.pool
	default:
		return db
	}
}

// admitted is the pool behind a slot held for one statement.
type admitted struct {
	db    *sqlx.DB
	slots *Slots
}

func (a *admitted) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := a.slots.acquire(ctx); err != nil {
		return nil, err
	}
	defer a.slots.release()
	return a.db.ExecContext(ctx, query, args...)
}

func (a *admitted) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	if err := a.slots.acquire(ctx); err != nil {
		return err
	}
	defer a.slots.release()
	return a.db.GetContext(ctx, dest, query, args...)
}

func (a *admitted) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	if err := a.slots.acquire(ctx); err != nil {
		return err
	}
	defer a.slots.release()
	return a.db.SelectContext(ctx, dest, query, args...)
}

// Transactor implements services.Transactor on the request's unit of work.
type Transactor struct {
	db *sqlx.DB
}

func NewTransactor(db *sqlx.DB) *Transactor {
	return &Transactor{db: db}
}

// WithinTx runs fn in a transaction. Inside a request the transaction belongs
// to the request's unit of work, whose cleanup rolls it back should fn panic;
// outside one (a CLI, a test) WithinTx makes a unit of work of its own. A call
// made inside another joins its transaction (see nested).
func (t *Transactor) WithinTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	u, ok := ctx.Value(unitOfWorkKey{}).(*UnitOfWork)
	if !ok {
		var cleanup func()
		u, cleanup = NewUnitOfWork(t.db, nil)
		defer cleanup()
		ctx = u.Attach(ctx)
	}
	if u.tx != nil {
		return u.nested(ctx, fn)
	}

	if u.pool.slots != nil {
		if err := u.pool.slots.acquire(ctx); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		u.txSlot = true
	}
	tx, err := t.db.BeginTxx(ctx, nil)
	if err != nil {
		u.releaseTxSlot()
		return fmt.Errorf("begin: %w", err)
	}
	u.tx = tx
	if err := fn(ctx); err != nil {
		u.rollback()
		return err
	}
	u.tx = nil
	defer u.releaseTxSlot()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// A nested call marks a savepoint, so that when it fails its writes are undone
// without the outer call's, and a statement the database refused inside it
// does not leave the whole transaction unusable. PostgreSQL lets a savepoint
// name be reused: ROLLBACK TO and RELEASE act on the latest one, which is the
// innermost call's.
const (
	savepoint         = `SAVEPOINT within_tx`
	rollbackSavepoint = `ROLLBACK TO SAVEPOINT within_tx`
	releaseSavepoint  = `RELEASE SAVEPOINT within_tx`
)

// nested runs fn inside the transaction already open in u. Only the outermost
// call commits; a failing inner call undoes its own writes, even when its
// caller carries on and commits the rest.
func (u *UnitOfWork) nested(ctx context.Context, fn func(ctx context.Context) error) error {
	tx := u.tx
	if _, err := tx.ExecContext(ctx, savepoint); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(ctx); err != nil {
		if _, rbErr := tx.ExecContext(ctx, rollbackSavepoint); rbErr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rbErr))
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, releaseSavepoint); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// notFound turns sql.ErrNoRows into services.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return services.ErrNotFound
	}
	return err
}

// uniqueViolation reports whether err is PostgreSQL's unique_violation on
// the named constraint or unique index.
func uniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// foreignKeyViolation reports whether err is PostgreSQL's
// foreign_key_violation on the named constraint.
func foreignKeyViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == constraint
}

// expectRow turns a statement that touched no row into services.ErrNotFound.
func expectRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return services.ErrNotFound
	}
	return nil
}
