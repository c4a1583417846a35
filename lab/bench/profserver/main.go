// Command profserver is cmd/server with a CPU profile around it, for finding
// where the template's time goes under the bench's load:
//
//	go build -o bin/profserver ./bench/profserver
//	go build -o bin/baseline ./bench/baseline && go build -o bin/plain ./bench/plain
//	go run ./bench/load -server bin/profserver -cpuprofile /tmp/prof -only 'items/\{id\}'
//	go tool pprof -top /tmp/prof/template.prof
//
// -cpuprofile profiles the yardsticks too (/tmp/prof/plain.prof,
// /tmp/prof/same-work.prof), so the template's profile can be set beside
// the physical limit's. A profile covers the server's whole life, start-up
// included: the template hashes its dummy password at cost 12 as it
// starts (pprof -ignore bcrypt leaves it out).
//
// The production binary carries no profiler on purpose; this one is built
// from the same injector, so what it profiles is the same code.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, cleanup, err := apitemplate.InitializeApp(cfg, os.Stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	if path := os.Getenv("CPU_PROFILE"); path != "" {
		f, err := os.Create(path) //nolint:gosec // the path is the operator's own
		if err != nil {
			return fmt.Errorf("CPU_PROFILE: %w", err)
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return a.Run(ctx)
}
