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
)

// NewServer returns the HTTP server with timeouts that keep slow or hostile
// clients from holding connections.
func NewServer(cfg Config, router *gin.Engine) *http.Server {
	return &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           router,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// App is the running service.
type App struct {
	cfg    Config
	logger *slog.Logger
	server *http.Server
}

func New(cfg Config, logger *slog.Logger, server *http.Server) *App {
	return &App{cfg: cfg, logger: logger, server: server}
}

// Run serves until ctx is cancelled, then stops accepting, lets in-flight
// requests finish within SHUTDOWN_TIMEOUT and returns.
func (a *App) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	a.logger.Info("server ready", slog.String("addr", ln.Addr().String()), slog.String("env", a.cfg.Env))

	served := make(chan error, 1)
	go func() { served <- a.server.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.logger.Info("shutting down", slog.Duration("timeout", a.cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.server.Shutdown(shutdownCtx); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: %w", err)
		}
		// The stop that was asked for still happens, on time: requests still
		// running are cut off, and the log says so rather than the exit code.
		a.logger.Warn("shutdown timeout reached: closing connections with requests in flight", slog.Duration("timeout", a.cfg.ShutdownTimeout))
		_ = a.server.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	a.logger.Info("stopped")
	return nil
}

// Handler is the server's router, for tests that drive it in process.
func (a *App) Handler() http.Handler { return a.server.Handler }
