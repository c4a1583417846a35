package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
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
	return pgxCfg, nil
}

// OpenDB opens the pool on DATABASE_URL. It does not connect: App.Run
// checks that the database answers and migrates it before serving, so that
// building the app (which `server routes` does) needs no database.
// The cleanup closes the pool.
func OpenDB(cfg Config, tracing *Tracing) (*sqlx.DB, func(), error) {
	pgxCfg, err := pgxConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	var tracers []pgx.QueryTracer
	for _, t := range []pgx.QueryTracer{cfg.DBTracer, tracing.DBTracer()} {
		if t != nil {
			tracers = append(tracers, t)
		}
	}
	switch len(tracers) {
	case 1:
		pgxCfg.Tracer = tracers[0]
	case 2:
		pgxCfg.Tracer = multitracer.New(tracers...)
	}
	db := sqlx.NewDb(stdlib.OpenDB(*pgxCfg), "pgx")
	db.SetMaxOpenConns(cfg.DBMaxOpenConns)
	db.SetMaxIdleConns(cfg.DBMaxIdleConns)
	db.SetConnMaxLifetime(cfg.DBConnMaxLifetime)
	return db, func() { _ = db.Close() }, nil
}

// NewData is the repositories' view of the pool.
func NewData(cfg Config, db *sqlx.DB) *repositories.Data {
	return repositories.NewData(db, cfg.DBQueryTimeout)
}

// Connect checks that the database answers, within a few seconds, and
// says which database when it does not.
func Connect(ctx context.Context, cfg Config, db *sqlx.DB) error {
	pgxCfg, err := pgxConfig(cfg)
	if err != nil {
		return err
	}
	pingCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		return fmt.Errorf("database %s@%s/%s is not reachable: %w", pgxCfg.User, pgxCfg.Host, pgxCfg.Database, err)
	}
	return nil
}

// prepareDB connects and applies pending migrations unless
// DB_AUTO_MIGRATE=false.
func prepareDB(ctx context.Context, cfg Config, db *sqlx.DB, logger *slog.Logger) error {
	if err := Connect(ctx, cfg, db); err != nil {
		return err
	}
	if !cfg.DBAutoMigrate {
		return nil
	}
	// A migration run takes migrationConns connections, which the pool is
	// given for the run, whatever DB_MAX_OPEN_CONNS says.
	db.SetMaxOpenConns(max(cfg.DBMaxOpenConns, migrationConns))
	err := repositories.Migrate(ctx, db.DB)
	db.SetMaxOpenConns(cfg.DBMaxOpenConns)
	if err != nil {
		return err
	}
	logger.DebugContext(ctx, "migrations applied")
	return nil
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
	return cfg
}
