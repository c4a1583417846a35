//go:build wireinject

// Package apitemplate holds the Wire injectors: the declarations below are
// compiled by `go tool wire` into wire_gen.go, which is what builds.
package apitemplate

import (
	"io"
	"net/http"

	"github.com/google/wire"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/providers"
	"github.com/example/apitemplate/services"
)

// InitializeApp builds the whole process once, at start-up, without
// touching the network: App.Run connects. Its cleanup closes the pool.
func InitializeApp(cfg app.Config, logOutput io.Writer) (*app.App, func(), error) {
	wire.Build(providers.AppSet, providers.ControllerSet, newRequestScope)
	return nil, nil, nil
}

// InitializeUsers builds the users' service alone, for `server users`.
func InitializeUsers(cfg app.Config, logOutput io.Writer) (*services.UserService, func(), error) {
	wire.Build(providers.AppSet, providers.ControllerSet)
	return nil, nil, nil
}

// InitializeRequestScope builds one request's scope. It runs for every
// request to a controller's route; its cleanup runs when the request ends,
// however it ends.
func InitializeRequestScope(r *http.Request, access controllers.Access, deps *providers.RequestDeps) (*controllers.RequestScope, func(), error) {
	wire.Build(providers.RequestSet)
	return nil, nil, nil
}

// newRequestScope hands the router the request-scope injector, bound to the
// app-level dependencies it draws on.
func newRequestScope(deps *providers.RequestDeps) controllers.NewRequestScope {
	return func(r *http.Request, access controllers.Access) (*controllers.RequestScope, func(), error) {
		return InitializeRequestScope(r, access, deps)
	}
}
