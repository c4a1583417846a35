package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
)

// writeTimeout is the longest a response may take to be written, from the
// end of the request's headers: a client that stops reading cannot hold a
// connection longer.
const writeTimeout = 30 * time.Second

// NewServer returns the API's HTTP server.
func NewServer(cfg Config, router *gin.Engine) *http.Server {
	return newHTTPServer(cfg, cfg.HTTPAddr, router)
}

// newHTTPServer sets the timeouts that keep slow or hostile clients from
// holding connections, on every listener the process opens.
func newHTTPServer(cfg Config, addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// App is the service: built by InitializeApp without touching the
// network, started by Run.
type App struct {
	cfg     Config
	logger  *slog.Logger
	db      *sqlx.DB
	routes  Routes
	server  *http.Server
	metrics *MetricsServer // nil unless METRICS_ADDR is set
}

func New(cfg Config, logger *slog.Logger, db *sqlx.DB, routes Routes, server *http.Server, metrics *MetricsServer) *App {
	return &App{cfg: cfg, logger: logger, db: db, routes: routes, server: server, metrics: metrics}
}

// Run checks the database and migrates it, then serves until ctx is
// cancelled; then it stops accepting, lets in-flight requests finish within
// SHUTDOWN_TIMEOUT and returns. The metrics listener, when there is one,
// starts and stops with the API's.
func (a *App) Run(ctx context.Context) error {
	if err := prepareDB(ctx, a.cfg, a.db, a.logger); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	servers, listeners := []*http.Server{a.server}, []net.Listener{ln}
	ready := []slog.Attr{slog.String("addr", ln.Addr().String()), slog.String("env", a.cfg.Env)}
	if a.metrics != nil {
		mln, err := lc.Listen(ctx, "tcp", a.cfg.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		servers, listeners = append(servers, a.metrics.server), append(listeners, mln)
		ready = append(ready, slog.String("metrics_addr", mln.Addr().String()))
	}
	a.logger.LogAttrs(ctx, slog.LevelInfo, "server ready", ready...)

	served := make(chan error, len(servers))
	for i, s := range servers {
		go func() { served <- s.Serve(listeners[i]) }()
	}

	select {
	case err := <-served:
		// One server failed; the process is ending, so the other goes too.
		for _, s := range servers {
			_ = s.Close()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.logger.Info("shutting down", slog.Duration("timeout", a.cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	// The API first: the metrics listener stays up while it drains, so a
	// scrape can still watch the in-flight requests finish.
	for _, s := range servers {
		err := s.Shutdown(shutdownCtx)
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded):
			// The stop that was asked for still happens, on time: requests still
			// running are cut off, and the log says so rather than the exit code.
			if s == a.server {
				a.logger.Warn("shutdown timeout reached: closing connections with requests in flight", slog.Duration("timeout", a.cfg.ShutdownTimeout))
			}
			_ = s.Close()
		default:
			for _, s := range servers {
				_ = s.Close()
			}
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	a.logger.Info("stopped")
	return nil
}

// Handler is the server's router, for tests that drive it in process.
func (a *App) Handler() http.Handler { return a.server.Handler }

// Routes is every route the server answers.
func (a *App) Routes() Routes { return a.routes }
