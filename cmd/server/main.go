// Command server runs the API.
//
//	@title						API template
//	@version					1.0
//	@description				Users and items: a Gin + Wire + sqlx template. Errors are RFC 9457 problem details (application/problem+json).
//	@BasePath					/
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer " followed by a token from POST /auth/login.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
)

func main() {
	if err := run(); err != nil {
		// Joined errors (several bad settings) span lines; whoever reads a
		// failed start, person or log collector, gets one line.
		fmt.Fprintln(os.Stderr, "error:", strings.ReplaceAll(err.Error(), "\n", "; "))
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
	// After the first signal, stop listening so a second one kills the
	// process at once, as an impatient operator expects.
	context.AfterFunc(ctx, stop)

	a, cleanup, err := apitemplate.InitializeApp(ctx, cfg, os.Stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	return a.Run(ctx)
}
