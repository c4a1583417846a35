package providers

import (
	"log/slog"
	"net/http"

	"github.com/google/wire"
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// RequestSet builds one request's scope: its unit of work (whose cleanup
// rolls back whatever was not committed and releases the connection), the
// caller's identity and a logger that carries the request id.
var RequestSet = wire.NewSet(
	wire.FieldsOf(new(*RequestDeps), "DB", "Auth"),
	repositories.NewUnitOfWork,
	wire.Bind(new(controllers.UnitOfWork), new(*repositories.UnitOfWork)),
	NewCaller,
	NewRequestLogger,
	wire.Struct(new(controllers.RequestScope), "*"),
)

// RequestDeps are the app-level values the request scope is built from.
// The app builds them once; the request-scope injector takes them as its
// argument.
type RequestDeps struct {
	DB     *sqlx.DB
	Logger *slog.Logger
	Auth   *services.AuthService
}

// NewCaller is the identity behind the request's bearer token, verified
// lazily by the routes that need it.
func NewCaller(r *http.Request, auth *services.AuthService) *services.Caller {
	return services.NewCaller(auth, controllers.BearerToken(r))
}

// NewRequestLogger tags every line the request logs with its id.
func NewRequestLogger(r *http.Request, deps *RequestDeps) *slog.Logger {
	return deps.Logger.With(slog.String("request_id", r.Header.Get(controllers.RequestIDHeader)))
}
