// Package repositories holds the SQL. Each repository turns rows into the
// domain types of package services, and database errors into the domain
// errors of package services.
package repositories

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/example/apitemplate/services"
)

// Data is the database every repository works on: one pool, entered first
// come, first served, and the transactions ExecTx opens on it.
//
// The queue is in front of the pool because database/sql hands a freed
// connection to a waiter picked at random, so under load a few statements
// wait far longer than the rest (the lab's benchmark saw p99 1.3 to 1.6
// times pgxpool's, which queues in order). There are as many places in the
// queue as connections, so a statement that gets one always finds a
// connection free.
type Data struct {
	db      *sqlx.DB
	queue   *semaphore.Weighted
	timeout time.Duration // a statement's bound outside a Session

	waits    atomic.Int64 // statements that found every connection busy
	waitedNS atomic.Int64 // and how long they waited, in all
}

// NewData returns the repositories' view of db, whose SetMaxOpenConns must
// already be set. timeout bounds each statement, or each transaction, made
// outside a Session; within one, the Session's budget does.
func NewData(db *sqlx.DB, timeout time.Duration) *Data {
	n := int64(db.Stats().MaxOpenConnections)
	if n <= 0 {
		n = 1 << 20 // an unbounded pool: nobody queues
	}
	return &Data{db: db, queue: semaphore.NewWeighted(n), timeout: timeout}
}

// Waits returns how many statements and transactions found every
// connection busy and queued, and how long they waited in all.
func (d *Data) Waits() (count int64, total time.Duration) {
	return d.waits.Load(), time.Duration(d.waitedNS.Load())
}

// Querier is what a repository sends a statement to.
type Querier interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// DB returns where a statement made with ctx goes: into the transaction
// that ExecTx opened in ctx, or else to the pool, through its queue. Either
// way its errors come back as domain errors (see dbError).
func (d *Data) DB(ctx context.Context) Querier {
	if tx, ok := ctx.Value(txKey{}).(*sqlx.Tx); ok {
		return inTx{tx}
	}
	return onPool{d}
}

type txKey struct{}

// tracerName names the spans this package makes.
const tracerName = "repositories"

// ExecTx runs fn in a transaction: every statement fn makes through a
// repository commits together with the others, or none does. It rolls back
// however fn ends: an error, a panic, a cancelled context. A call inside
// another joins the outer transaction, which commits only at its end.
//
// The transaction holds its connection from BEGIN to COMMIT, so all of
// that time counts as time on the database.
func (d *Data) ExecTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*sqlx.Tx); ok {
		return fn(ctx)
	}
	ctx, done, err := d.enter(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer done()
	tx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", dbError(err))
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback() // fn's own error, or its panic, is what the caller needs to hear
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{}, tx)); err != nil {
		return err
	}
	committed = true // a failed COMMIT has ended the transaction too
	if err := tx.Commit(); err != nil {
		// database/sql rolls back on its own when ctx ends first, and then
		// says only that the transaction is done; the reason is ctx's.
		return fmt.Errorf("commit: %w", dbError(errors.Join(err, ctx.Err())))
	}
	return nil
}

// enter bounds ctx by the time left for the database and takes a place in
// the queue. done gives the place back and counts the time spent.
func (d *Data) enter(ctx context.Context) (context.Context, func(), error) {
	s := sessionOf(ctx)
	budget := d.timeout
	if s != nil {
		budget = s.remaining()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, budget)
	if !d.queue.TryAcquire(1) {
		// When the request is traced, the wait is a span of its own: the
		// tracer comes from the request's span, a no-op one otherwise.
		_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer(tracerName).Start(ctx, "db.pool.wait")
		err := d.queue.Acquire(ctx, 1)
		span.End()
		d.waits.Add(1)
		d.waitedNS.Add(int64(time.Since(start)))
		if err != nil {
			cancel()
			s.spend(start)
			return nil, nil, fmt.Errorf("wait for a database connection: %w", dbError(err))
		}
	}
	return ctx, func() {
		d.queue.Release(1)
		cancel()
		s.spend(start)
	}, nil
}

// onPool sends each statement to the pool on its own connection, taken in
// queue order and given back when the statement is done.
type onPool struct{ d *Data }

func (p onPool) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	ctx, done, err := p.d.enter(ctx)
	if err != nil {
		return err
	}
	defer done()
	return dbError(p.d.db.GetContext(ctx, dest, query, args...))
}

func (p onPool) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	ctx, done, err := p.d.enter(ctx)
	if err != nil {
		return err
	}
	defer done()
	return dbError(p.d.db.SelectContext(ctx, dest, query, args...))
}

func (p onPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, done, err := p.d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := p.d.db.ExecContext(ctx, query, args...)
	return res, dbError(err)
}

// inTx sends each statement into the transaction, whose connection it
// already holds.
type inTx struct{ tx *sqlx.Tx }

func (t inTx) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return dbError(t.tx.GetContext(ctx, dest, query, args...))
}

func (t inTx) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return dbError(t.tx.SelectContext(ctx, dest, query, args...))
}

func (t inTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	return res, dbError(err)
}

// dbError turns what the driver says into the domain's words: no row is
// services.ErrNotFound; a database that cannot be reached, or that did not
// answer within the time allowed, is services.ErrUnavailable. Anything else
// (a constraint, a bug in a statement) passes as it is, for the repository
// to name or the caller to report.
func dbError(err error) error {
	var (
		netErr     net.Error
		connectErr *pgconn.ConnectError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return services.ErrNotFound
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &connectErr),
		errors.As(err, &netErr),
		pgconn.Timeout(err):
		return fmt.Errorf("%w: %w", services.ErrUnavailable, err)
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

// Ping checks that the database answers, on a connection of the pool but
// past the queue: a probe must tell a broken database from a busy one.
func (d *Data) Ping(ctx context.Context) error {
	return dbError(d.db.PingContext(ctx))
}
