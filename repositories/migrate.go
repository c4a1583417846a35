package repositories

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the SQL migrations compiled into the binary.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the pattern above is a constant; this cannot fail
	}
	return sub
}

// NewMigrator returns a goose provider over the embedded migrations. A lock
// row in the goose_lock table makes replicas that start together migrate
// once. It is a row, not a session advisory lock, because behind PgBouncer in
// transaction pooling a session lock would be taken on one server connection
// and released on another. A holder that dies loses the lock when its lease
// runs out.
func NewMigrator(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresTableLocker(
		lock.WithTableLockTimeout(250*time.Millisecond, 1200), // waits up to 5 minutes for another replica's migration
	)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(), goose.WithLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration. When none is pending, the usual
// case for a replica starting, it takes no lock and writes nothing.
func Migrate(ctx context.Context, db *sql.DB) error {
	p, err := NewMigrator(db)
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if !pending {
		return nil
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
