package providers

import (
	"net/http"

	"github.com/google/wire"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// RequestSet builds one request's scope: its database session (whose
// cleanup reports what the request spent on the database to the metrics),
// and the caller, authenticated through that session when the route needs
// one.
var RequestSet = wire.NewSet(
	wire.FieldsOf(new(*RequestDeps), "Data", "Sessions", "Auth"),
	repositories.NewSession,
	wire.Bind(new(controllers.Session), new(*repositories.Session)),
	NewCaller,
	wire.Struct(new(controllers.RequestScope), "*"),
)

// RequestDeps are the app-level values the request scope is built from.
// The app builds them once; the request-scope injector takes them as its
// argument.
type RequestDeps struct {
	Data     *repositories.Data
	Sessions repositories.SessionObserver
	Auth     *services.AuthService
}

// NewCaller is who is asking. A public route needs nobody, and its bearer
// token, if any, is not read; any other route needs a valid token of a user
// who still exists, or the request ends here with 401.
func NewCaller(r *http.Request, access controllers.Access, session *repositories.Session, auth *services.AuthService) (services.Caller, error) {
	if access == controllers.Public {
		return services.Caller{}, nil
	}
	return auth.Authenticate(session.Context(r.Context()), controllers.BearerToken(r))
}
