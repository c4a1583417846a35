package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/app"
)

// Exit statuses: 2 is what flag and most Unix tools use for bad usage, so a
// script can tell a typo from a failure.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one subcommand. run gets the arguments after its name.
type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) error
}

// commands is a function, not a variable, because the commands' own help
// reads it.
func commands() []command {
	return []command{
		{"serve", "", "serve the API until SIGTERM or SIGINT (the default)", serve},
		{"routes", "", "list every route, who may call it and its handler; needs no database", routes},
		{"schema", "[-o file]", "write the OpenAPI 3 document", schema},
		{"migrate", "up|down|status", "apply pending migrations, roll back the last one, or list them, on DATABASE_URL", migrate},
		{"users", "promote|demote EMAIL", "make an account an admin, or a user again; it takes effect on its next request", users},
	}
}

// usageError is bad usage: exit status 2 rather than 1.
type usageError struct{ error }

// runCLI runs the subcommand named by args[0], serve when there is none,
// and returns the exit status. Every failure is one line on stderr: whoever
// reads it, person or log collector, gets the whole message.
func runCLI(args []string, stdout, stderr io.Writer) int {
	// Gin's debug mode prints every route as it is registered, which would
	// land in routes' and schema's output.
	gin.SetMode(gin.ReleaseMode)

	name, rest := "serve", args
	if len(args) > 0 {
		name, rest = args[0], args[1:]
	}
	if name == "-h" || name == "-help" || name == "--help" || name == "help" {
		if err := usage(stdout); err != nil {
			printError(stderr, err)
			return exitError
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(rest, stdout, stderr)
		var ue usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			printError(stderr, fmt.Errorf("%s: %w (see server %s -h)", name, err, name))
			return exitUsage
		default:
			printError(stderr, err)
			return exitError
		}
	}
	printError(stderr, fmt.Errorf("unknown command %q (see server -h)", name))
	return exitUsage
}

func printError(w io.Writer, err error) {
	// Joined errors (several bad settings) span lines. If stderr cannot be
	// written, the exit status is all that is left to tell.
	_, _ = fmt.Fprintln(w, "error:", strings.ReplaceAll(err.Error(), "\n", "; "))
}

func usage(w io.Writer) error {
	p := &printer{w: w}
	p.printf("Usage: server [command] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		p.printf("  %-8s %-21s %s\n", c.name, c.args, c.summary)
	}
	p.printf("\nSettings come from the environment, then .env in the working directory\n")
	p.printf("(see .env.example). \"server COMMAND -h\" describes a command.\n")
	return p.done("usage")
}

// printer writes to w and keeps the first error, so that a command checks
// once, at the end, whether its output got out.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) done(what string) error {
	if p.err != nil {
		return fmt.Errorf("write %s: %w", what, p.err)
	}
	return nil
}

// parseFlags parses a subcommand's arguments. -h prints its usage to stdout
// and returns flag.ErrHelp; anything flag rejects is a usageError, reported
// in one line instead of flag's usage dump on stderr.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		p := &printer{w: stdout}
		for _, c := range commands() {
			if c.name == fs.Name() {
				p.printf("Usage: %s\n\n%s.\n%s", strings.TrimSpace("server "+c.name+" "+c.args), upperFirst(c.summary), flags.String())
			}
		}
		return cmp.Or(p.done("usage"), err)
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

// withConfig runs fn with the configuration, and a context that ends at
// the first SIGTERM or SIGINT; after it, signals act as they would without
// the command listening, so a second one kills the process at once, as an
// impatient operator expects.
func withConfig(fn func(ctx context.Context, cfg app.Config) error) error {
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	return fn(ctx, cfg)
}

// noArgs rejects positional arguments a command does not take.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
