package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/services"
)

// users changes an account's role: promote makes it an admin, demote a
// user again. The change takes effect on the account's next request.
func users(args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{errors.New("want promote or demote, and an email")}
	}
	roles := map[string]services.Role{"promote": services.RoleAdmin, "demote": services.RoleUser}
	action, email := fs.Arg(0), strings.ToLower(strings.TrimSpace(fs.Arg(1)))
	role, ok := roles[action]
	if !ok {
		return usageError{fmt.Errorf("unknown action %q, want promote or demote", action)}
	}
	return withConfig(func(ctx context.Context, cfg app.Config) error {
		// The service logs nothing this command needs to show.
		svc, cleanup, err := apitemplate.InitializeUsers(cfg, io.Discard)
		if err != nil {
			return err
		}
		defer cleanup()
		err = svc.SetRole(ctx, email, role)
		if errors.Is(err, services.ErrNotFound) {
			return fmt.Errorf("users %s: no account has the email %q", action, email)
		}
		if err != nil {
			return err
		}
		p := &printer{w: stdout}
		p.printf("%s is now %s\n", email, role)
		return p.done("users " + action)
	})
}
