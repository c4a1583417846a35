// Package repositories holds the SQL. Each repository turns rows into the
// domain types of package services and database errors into domain errors.
package repositories

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/services"
)

// UnitOfWork is the database side of one request. It starts no transaction
// until a service asks for one, so reads go straight to the pool; its cleanup
// rolls back whatever the request began and did not commit.
type UnitOfWork struct {
	db *sqlx.DB
	tx *sqlx.Tx
}

// NewUnitOfWork returns the request's unit of work and the cleanup that must
// run when the request ends, however it ends.
func NewUnitOfWork(db *sqlx.DB) (*UnitOfWork, func()) {
	u := &UnitOfWork{db: db}
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
}

// querier is what both *sqlx.DB and *sqlx.Tx offer.
type querier interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// conn returns the transaction open in ctx's unit of work, or else the pool.
func conn(ctx context.Context, db *sqlx.DB) querier {
	if u, ok := ctx.Value(unitOfWorkKey{}).(*UnitOfWork); ok && u.tx != nil {
		return u.tx
	}
	return db
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
		u, cleanup = NewUnitOfWork(t.db)
		defer cleanup()
		ctx = u.Attach(ctx)
	}
	if u.tx != nil {
		return u.nested(ctx, fn)
	}

	tx, err := t.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	u.tx = tx
	if err := fn(ctx); err != nil {
		u.rollback()
		return err
	}
	u.tx = nil
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
