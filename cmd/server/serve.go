package main

import (
	"context"
	"flag"
	"io"

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
	return withConfig(func(ctx context.Context, cfg app.Config) error {
		a, cleanup, err := apitemplate.InitializeApp(cfg, stdout)
		if err != nil {
			return err
		}
		defer cleanup()
		return a.Run(ctx)
	})
}
