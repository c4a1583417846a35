package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
)

func serve(args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, stop listening so a second one kills the
	// process at once, as an impatient operator expects.
	context.AfterFunc(ctx, stop)

	a, cleanup, err := apitemplate.InitializeApp(cfg, stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	return a.Run(ctx)
}
