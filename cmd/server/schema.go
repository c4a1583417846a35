package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/example/apitemplate/docs"
)

func schema(args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	out := fs.String("o", "", "write to this file instead of stdout")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		if _, err := stdout.Write(docs.OpenAPI); err != nil {
			return fmt.Errorf("write schema: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(*out, docs.OpenAPI, 0o644); err != nil { //nolint:gosec // a published document, for everyone to read
		return fmt.Errorf("write schema: %w", err)
	}
	return nil
}
