package main

import (
	"cmp"
	"flag"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/controllers"
)

// routes prints the route tables of the app that serve would build, from
// the same configuration (DOCS_ENABLED and METRICS_ADDR change them).
// Building the app touches no network, so no database is needed.
func routes(args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("routes", flag.ContinueOnError)
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
	// Its log (the JWT_SECRET warning) is not this command's output.
	a, cleanup, err := apitemplate.InitializeApp(cfg, io.Discard)
	if err != nil {
		return err
	}
	defer cleanup()

	list := a.Routes().All()
	slices.SortStableFunc(list, func(a, b controllers.Route) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(methodOrder(a.Method), methodOrder(b.Method)))
	})
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	out := &printer{w: tw}
	out.printf("METHOD\tPATH\tACCESS\tHANDLER\n")
	for _, r := range list {
		out.printf("%s\t%s\t%s\t%s\n", r.Method, r.Path, r.Access, r.HandlerName())
	}
	if out.err == nil {
		out.err = tw.Flush()
	}
	return out.done("routes")
}

// methodOrder lists a path's routes in the order people read them.
func methodOrder(m string) int {
	if i := slices.Index([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, m); i >= 0 {
		return i
	}
	return 99
}
