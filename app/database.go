package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/repositories"
)

// connectTimeout bounds the first ping, so an unreachable database fails the
// start instead of hanging it.
const connectTimeout = 5 * time.Second

// queryExecModes are the values DB_QUERY_EXEC_MODE takes, named as pgx
// names them in a connection string's default_query_exec_mode.
var queryExecModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// pgxConfig parses DATABASE_URL and applies the settings pgx takes from
// Config rather than from the URL.
func pgxConfig(cfg Config) (*pgx.ConnConfig, error) {
	pgxCfg, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if mode, ok := queryExecModes[cfg.DBQueryExecMode]; ok {
		pgxCfg.DefaultQueryExecMode = mode
	}
	if cfg.DBTracer != nil {
		pgxCfg.Tracer = cfg.DBTracer
	}
	return pgxCfg, nil
}

// OpenDB opens the pool, checks that the database answers and applies pending
// migrations unless DB_AUTO_MIGRATE=false. The cleanup closes the pool.
func OpenDB(ctx context.Context, cfg Config, logger *slog.Logger) (*sqlx.DB, func(), error) {
	pgxCfg, err := pgxConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	db := sqlx.NewDb(stdlib.OpenDB(*pgxCfg), "pgx")
	db.SetMaxOpenConns(cfg.DBMaxOpenConns)
	db.SetMaxIdleConns(cfg.DBMaxIdleConns)
	db.SetConnMaxLifetime(cfg.DBConnMaxLifetime)
	cleanup := func() { _ = db.Close() }

	pingCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("database %s@%s/%s is not reachable: %w", pgxCfg.User, pgxCfg.Host, pgxCfg.Database, err)
	}
	if cfg.DBAutoMigrate {
		// A migration run takes migrationConns connections, which the pool
		// is given for the run, whatever DB_MAX_OPEN_CONNS says.
		db.SetMaxOpenConns(max(cfg.DBMaxOpenConns, migrationConns))
		err := repositories.Migrate(ctx, db.DB)
		db.SetMaxOpenConns(cfg.DBMaxOpenConns)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		logger.DebugContext(ctx, "migrations applied")
	}
	return db, cleanup, nil
}

// migrationConns is what a migration run needs: goose holds one connection
// for the whole run and takes and keeps its lock row on another, which a
// pool of one would never give it.
const migrationConns = 2

// MigrationConfig is cfg for a process whose pool runs migrations itself
// (server migrate): its pool needs migrationConns, whatever
// DB_MAX_OPEN_CONNS says.
func MigrationConfig(cfg Config) Config {
	cfg.DBMaxOpenConns = max(cfg.DBMaxOpenConns, migrationConns)
	cfg.DBAutoMigrate = false
	return cfg
}

// NewOfflineDB is a pool on DATABASE_URL that has not connected, and does
// not until something queries it. Building the router queries nothing, so
// tools that only inspect it (server routes) run without a database.
func NewOfflineDB(cfg Config) (*sqlx.DB, func(), error) {
	pgxCfg, err := pgxConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	db := sqlx.NewDb(stdlib.OpenDB(*pgxCfg), "pgx")
	return db, func() { _ = db.Close() }, nil
}
