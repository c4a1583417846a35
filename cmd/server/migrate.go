package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/repositories"
)

func migrate(args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one of up, down, status")}
	}
	action := fs.Arg(0)
	if action != "up" && action != "down" && action != "status" {
		return usageError{fmt.Errorf("unknown action %q, want one of up, down, status", action)}
	}

	return withConfig(func(ctx context.Context, cfg app.Config) error {
		return migrateDB(ctx, app.MigrationConfig(cfg), action, stdout)
	})
}

// migrateDB carries out action on cfg's database; cfg's pool must have the
// connections goose needs (app.MigrationConfig).
func migrateDB(ctx context.Context, cfg app.Config, action string, stdout io.Writer) error {
	db, cleanup, err := app.OpenDB(cfg, nil) // nothing to trace
	if err != nil {
		return err
	}
	defer cleanup()
	if err := app.Connect(ctx, cfg, db); err != nil {
		return err
	}
	p, err := repositories.NewMigrator(db.DB)
	if err != nil {
		return err
	}

	out := &printer{w: stdout}
	switch action {
	case "up":
		results, err := p.Up(ctx)
		for _, r := range results {
			out.printf("applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
		}
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(results) == 0 {
			out.printf("no pending migrations\n")
		}
	case "down":
		r, err := p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			out.printf("no applied migrations to roll back\n")
			return out.done("migrate down")
		}
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		out.printf("rolled back %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
	case "status":
		statuses, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		out.w = tw
		out.printf("VERSION\tSTATE\tAPPLIED AT\tFILE\n")
		for _, s := range statuses {
			applied := "-"
			if !s.AppliedAt.IsZero() {
				applied = s.AppliedAt.UTC().Format(time.RFC3339)
			}
			out.printf("%d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
		}
		if out.err == nil {
			out.err = tw.Flush()
		}
	}
	return out.done("migrate " + action)
}
